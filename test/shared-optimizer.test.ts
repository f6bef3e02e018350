// Why each model of an ensemble needs its own Adam in TF.js 4.22 (lab-11-5 shares one Keras Adam among 5 models).
//
// Keras keeps Adam's moments in slots keyed by the variable, so a shared Keras Adam keeps each model's moments
// apart and shares only its step count (hence the lecture's decay_steps × num_models). TF.js's AdamOptimizer
// (tfjs-core/dist/optimizers/adam_optimizer.js, applyGradients) keeps them in two arrays indexed by the POSITION of
// the variable in the gradients it is given (Object.keys order of the NamedTensorMap), creating slot i at the first
// call from that call's i-th variable. The name only labels the slot ("<first variable's name>/m") and finds the
// variable to update. Its bias-correction powers β1^t, β2^t advance once per applyGradients call, whoever calls.
// So applying model A's gradients and then model B's through ONE Adam: B's i-th variable is updated with the moments
// of slot i, which already hold A's i-th gradient (m = β1(1−β1)g_A + (1−β1)g_B, likewise v), bias-corrected as
// a second step (t = 2); and A's next update mixes in B's gradients the same way. Nothing throws for same-shaped
// models: the mixing is silent. Two Adams give each model exactly the update it would get alone.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { tf, setupBackend } from "cnn-lab";

before(async () => { await setupBackend({ quiet: true }); });

const LR = 0.01, B1 = 0.9, B2 = 0.999;

/** A tiny model: Dense 3 → 2 (kernel and bias), same shape every time, its own variables. */
function tiny(seed: number): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.dense({ units: 2, inputShape: [3], kernelInitializer: tf.initializers.glorotUniform({ seed }), biasInitializer: "ones" }));
  return m;
}

/** The gradients of sum(model(x)²) for this model's own input, keyed by variable name in trainableWeights order. */
function gradsOf(model: tf.LayersModel, x: number[][]): tf.NamedTensorMap {
  const input = tf.tensor2d(x);
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(model.apply(input) as tf.Tensor)) as tf.Scalar, model.trainableWeights.map((w) => w.read() as tf.Variable));
  tf.dispose([input, value]);
  return grads;
}

const weights = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
const delta = (after: number[][], before: number[][]) => after.map((w, i) => w.map((x, k) => x - before[i][k]));
const XA = [[1, 2, 3], [0, -1, 2]], XB = [[-3, 1, 0.5], [2, 2, -1]];

/** B's update when alone: a fresh Adam, one step. */
function soloUpdate(seedB: number): number[][] {
  const b = tiny(seedB);
  const adam: tf.Optimizer = tf.train.adam(LR); // the base class's type: AdamOptimizer's own d.ts narrows applyGradients to variables
  const before = weights(b);
  const g = gradsOf(b, XB);
  adam.applyGradients(g);
  const d = delta(weights(b), before);
  tf.dispose(Object.values(g));
  adam.dispose(); b.dispose();
  return d;
}

test("one TF.js Adam shared by two same-shaped models mixes A's gradients into B's moments (by position), silently", () => {
  const [a, b] = [tiny(1), tiny(2)];
  const adam: tf.Optimizer = tf.train.adam(LR, B1, B2);
  const before = weights(b);
  const [gA, gB] = [gradsOf(a, XA), gradsOf(b, XB)];
  const [ga, gb] = [gA, gB].map((g) => Object.values(g).map((t) => Array.from(t.dataSync())));
  adam.applyGradients(gA);
  adam.applyGradients(gB);
  const shared = delta(weights(b), before);

  // Slots by position: two models of 2 variables each leave 2 first-moment slots, not 4, named after A's variables.
  const slots = (adam as unknown as { accumulatedFirstMoment: { originalName: string }[] }).accumulatedFirstMoment;
  assert.deepEqual(slots.map((s) => s.originalName), Object.keys(gA).map((n) => `${n}/m`));
  assert.notDeepEqual(Object.keys(gA), Object.keys(gB), "the two models' variables have different names");

  // B's update is exactly Adam's second step on moments built from g_A then g_B.
  const eps = tf.backend().epsilon();
  const expected = gb.map((g, i) => g.map((gBk, k) => {
    const gAk = ga[i][k];
    const m = B1 * (1 - B1) * gAk + (1 - B1) * gBk;
    const v = B2 * (1 - B2) * gAk * gAk + (1 - B2) * gBk * gBk;
    return (-LR * (m / (1 - B1 ** 2))) / (Math.sqrt(v / (1 - B2 ** 2)) + eps);
  }));
  shared.forEach((w, i) => w.forEach((d, k) => assert.ok(Math.abs(d - expected[i][k]) < 1e-6, `B's ${i}/${k}: ${d} vs mixed-moment ${expected[i][k]}`)));

  // And it is not B's own update: a fresh Adam on B alone moves each weight by ≈ −lr·sign(g_B).
  const solo = soloUpdate(2);
  const worst = Math.max(...shared.flat().map((d, k) => Math.abs(d - solo.flat()[k])));
  assert.ok(worst > 1e-3, `shared and solo updates of B differ by ${worst} (lr ${LR})`);

  tf.dispose([...Object.values(gA), ...Object.values(gB)]);
  adam.dispose(); a.dispose(); b.dispose();
});

test("two Adams, one per model: each model gets exactly the update it gets alone", () => {
  const [a, b] = [tiny(1), tiny(2)];
  const [adamA, adamB]: tf.Optimizer[] = [tf.train.adam(LR), tf.train.adam(LR)];
  const before = weights(b);
  const [gA, gB] = [gradsOf(a, XA), gradsOf(b, XB)];
  adamA.applyGradients(gA);
  adamB.applyGradients(gB);
  assert.deepEqual(delta(weights(b), before), soloUpdate(2));
  tf.dispose([...Object.values(gA), ...Object.values(gB)]);
  [adamA, adamB].forEach((o) => o.dispose());
  a.dispose(); b.dispose();
});
