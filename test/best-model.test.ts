// lab-11-5's best CNN: the lecture's parameter counts, Keras's glorot_normal, a JSON round trip (the ensemble trainer
// rebuilds each model in a worker from model.toJSON), and BatchNormalization that normalises with the batch while
// training, updates its moving statistics there (also inside tf.variableGrads, i.e. grad()), and uses them at inference.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { tf, setupBackend, createBestModel, kerasGlorotNormal, TRUNCATED_NORMAL_STD, grad, trainStep } from "cnn-lab";

before(async () => { await setupBackend({ quiet: true }); });

type BN = tf.layers.Layer & { movingMean: tf.LayerVariable; movingVariance: tf.LayerVariable; gamma: tf.LayerVariable; beta: tf.LayerVariable };
const bnLayer = (m: tf.LayersModel, name: string) => m.getLayer(name) as BN;
const values = (t: tf.Tensor | tf.LayerVariable) => Array.from((t instanceof tf.Tensor ? t : t.read()).dataSync());
const size = (ws: tf.LayerVariable[]) => ws.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
const batch = (n: number, seed: number) => ({
  x: tf.randomUniform([n, 28, 28, 1], 0, 1, "float32", seed) as tf.Tensor4D,
  y: tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => (i * 7 + seed) % 10), "int32"), 10),
});
function assertClose(actual: number[], expected: number[], tol: number, what: string) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const worst = actual.reduce((w, a, i) => Math.max(w, Math.abs(a - expected[i]) / (1 + Math.abs(expected[i]))), 0);
  assert.ok(worst <= tol, `${what}: worst relative difference ${worst} > ${tol}`);
}

test("best CNN: the lecture's shapes, 621,706 parameters of which 960 non-trainable (BN moving statistics)", () => {
  const model = createBestModel();
  // Independent count: conv/dense kernels + biases; BN has gamma, beta (trainable) and moving mean, variance (not).
  const conv = (k: number, cin: number, cout: number) => k * k * cin * cout + cout;
  const trainable = conv(3, 1, 32) + conv(3, 32, 64) + conv(3, 64, 128) + (2048 * 256 + 256) + (256 * 10 + 10) + 2 * (32 + 64 + 128 + 256);
  const nonTrainable = 2 * (32 + 64 + 128 + 256);
  assert.equal(trainable + nonTrainable, 621_706);
  assert.equal(nonTrainable, 960);
  assert.equal(size(model.trainableWeights), trainable);
  assert.equal(size(model.nonTrainableWeights), nonTrainable);
  assert.equal(size(model.weights), 621_706);
  assert.equal(model.countParams(), 621_706);
  const shapes = Object.fromEntries(model.layers.map((l) => [l.name, l.outputShape]));
  assert.deepEqual(shapes, {
    conv1: [null, 28, 28, 32], bn1: [null, 28, 28, 32], relu1: [null, 28, 28, 32], pool1: [null, 14, 14, 32],
    conv2: [null, 14, 14, 64], bn2: [null, 14, 14, 64], relu2: [null, 14, 14, 64], pool2: [null, 7, 7, 64],
    conv3: [null, 7, 7, 128], bn3: [null, 7, 7, 128], relu3: [null, 7, 7, 128], pool3: [null, 4, 4, 128],
    flatten: [null, 2048], dense4: [null, 256], bn4: [null, 256], relu4: [null, 256], drop4: [null, 256], dense5: [null, 10],
  });
  const bn = bnLayer(model, "bn2").getConfig();
  assert.equal(bn.momentum, 0.99);
  assert.equal(bn.epsilon, 0.001);
  model.dispose();
});

test("kernels are Keras's glorot_normal: std sqrt(2/(fan_in+fan_out)), cut at 2σ/0.8796; TF.js's glorotNormal is 0.88 of that", () => {
  const model = createBestModel();
  const kernel = values(model.getLayer("dense4").getWeights()[0]); // 2048 × 256: 524,288 draws
  const target = Math.sqrt(2 / (2048 + 256));
  const std = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
  assert.ok(Math.abs(std(kernel) / target - 1) < 0.01, `std ${std(kernel)} vs Keras's ${target}`);
  const limit = (2 * target) / TRUNCATED_NORMAL_STD;
  assert.ok(kernel.every((x) => Math.abs(x) <= limit * (1 + 1e-6)), "truncated at 2σ");
  assert.ok(kernel.reduce((m, x) => Math.max(m, Math.abs(x)), 0) > 0.99 * limit, "and the tails reach the cut (a normal, not a uniform)");
  const tfjs = tf.initializers.glorotNormal({ seed: 1 }).apply([2048, 256]);
  assert.ok(Math.abs(std(values(tfjs)) / target - TRUNCATED_NORMAL_STD) < 0.01, "TF.js's own glorotNormal: uncorrected σ");
  const ours = kerasGlorotNormal(1).apply([2048, 256]);
  assert.ok(Math.abs(std(values(ours)) / target - 1) < 0.01);
  tf.dispose([tfjs, ours]);
  model.dispose();
});

test("same seed, same weights; another seed, other weights", () => {
  const [a, b, c] = [createBestModel(777), createBestModel(777), createBestModel(778)];
  const flat = (m: tf.LayersModel) => m.getWeights().map(values);
  assert.deepEqual(flat(a), flat(b));
  assert.notDeepEqual(flat(a)[0], flat(c)[0]);
  [a, b, c].forEach((m) => m.dispose());
});

test("survives toJSON → JSON text → tf.models.modelFromJSON: after setWeights, identical outputs (moving statistics included)", async () => {
  const model = createBestModel(5);
  const optimizer = tf.train.adam(0.001);
  const { x, y } = batch(16, 1);
  trainStep(model, optimizer, x, y); // moving statistics away from their 0/1 start, so copying them matters
  const copy = (await tf.models.modelFromJSON(JSON.parse(JSON.stringify(model.toJSON(undefined, false))))) as tf.LayersModel;
  assert.deepEqual(copy.layers.map((l) => l.name), model.layers.map((l) => l.name));
  const configs = (m: tf.LayersModel) => JSON.parse(JSON.stringify(m.layers.map((l) => l.getConfig()), (_, v) => v ?? null)); // unset = null
  assert.deepEqual(configs(copy), configs(model));
  const [p0, q0] = [model, copy].map((m) => m.predict(x) as tf.Tensor);
  assert.notDeepEqual(values(q0), values(p0), "before setWeights the copy has its own (fresh) weights");
  copy.setWeights(model.getWeights());
  const [p, q] = [model, copy].map((m) => m.predict(x) as tf.Tensor);
  assert.deepEqual(values(q), values(p));
  tf.dispose([x, y, p0, q0, p, q]);
  [model, copy].forEach((m) => m.dispose());
  optimizer.dispose();
});

test("BatchNormalization: inference uses the moving statistics; training the batch's, and moves the averages by momentum 0.99", () => {
  const model = createBestModel(3);
  const bn = bnLayer(model, "bn1");
  // Arbitrary moving statistics, gamma and beta, so the formula is checked with all four in play.
  const r = (seed: number, lo: number, hi: number) => tf.randomUniform([32], lo, hi, "float32", seed);
  const [mm, mv, gamma, beta] = [r(1, -0.5, 0.5), r(2, 0.5, 2), r(3, 0.5, 1.5), r(4, -0.5, 0.5)];
  bn.movingMean.write(mm); bn.movingVariance.write(mv); bn.gamma.write(gamma); bn.beta.write(beta);
  const { x } = batch(8, 2);
  const conv = model.getLayer("conv1").apply(x) as tf.Tensor4D;
  const expectInference = tf.add(tf.mul(tf.div(tf.sub(conv, mm), tf.sqrt(tf.add(mv, 0.001))), gamma), beta);
  const inference = bn.apply(conv, { training: false }) as tf.Tensor;
  assertClose(values(inference), values(expectInference), 1e-5, "training=false output");
  assert.deepEqual(values(bn.movingMean), values(mm), "inference leaves the moving mean alone");

  const { mean, variance } = tf.moments(conv, [0, 1, 2]);
  const expectTraining = tf.add(tf.mul(tf.div(tf.sub(conv, mean), tf.sqrt(tf.add(variance, 0.001))), gamma), beta);
  const training = bn.apply(conv, { training: true }) as tf.Tensor;
  assertClose(values(training), values(expectTraining), 1e-5, "training=true output");
  assertClose(values(bn.movingMean), values(tf.add(tf.mul(mm, 0.99), tf.mul(mean, 0.01))), 1e-6, "moving mean");
  assertClose(values(bn.movingVariance), values(tf.add(tf.mul(mv, 0.99), tf.mul(variance, 0.01))), 1e-6, "moving variance");
  tf.dispose([mm, mv, gamma, beta, x, conv, expectInference, inference, mean, variance, expectTraining, training]);
  model.dispose();
});

test("the moving statistics update inside tf.variableGrads (grad()) and in trainStep, and nothing leaks", () => {
  const model = createBestModel(4);
  const { x, y } = batch(16, 3);
  const conv1 = model.getLayer("conv1").apply(x) as tf.Tensor; // bn1's input with the weights of the forward pass
  const { mean, variance } = tf.moments(conv1, [0, 1, 2]);
  const start = model.nonTrainableWeights.map(values);
  assert.ok(start.every((v, i) => v.every((s) => s === (i % 2 === 0 ? 0 : 1))), "moving means start at 0, variances at 1");

  const tensors = tf.memory().numTensors;
  const g = grad(model, x, y);
  tf.dispose([g.loss, g.correct, ...Object.values(g.grads)]);
  assert.equal(tf.memory().numTensors, tensors, "grad() on the BN model leaks no tensor");
  const bn1 = bnLayer(model, "bn1");
  assertClose(values(bn1.movingMean), values(tf.mul(mean, 0.01)), 1e-6, "bn1 moving mean after grad()");
  assertClose(values(bn1.movingVariance), values(tf.add(0.99, tf.mul(variance, 0.01))), 1e-6, "bn1 moving variance after grad()");
  const afterGrad = model.nonTrainableWeights.map(values);
  afterGrad.forEach((v, i) => assert.notDeepEqual(v, start[i], `${model.nonTrainableWeights[i].name} moved in grad()`));

  const optimizer = tf.train.adam(0.001);
  trainStep(model, optimizer, x, y);
  model.nonTrainableWeights.forEach((w, i) => assert.notDeepEqual(values(w), afterGrad[i], `${w.name} moved in trainStep`));
  const p = model.predict(x) as tf.Tensor;
  const q = model.predict(x) as tf.Tensor;
  assert.deepEqual(values(q), values(p), "inference is deterministic and moves nothing");
  tf.dispose([x, y, conv1, mean, variance, p, q]);
  optimizer.dispose();
  model.dispose();
});
