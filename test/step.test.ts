// One training step: train(), the data-parallel trainer and `npm run bench` all run step.ts's functions (spied on
// in the module they are defined in, so a private copy anywhere makes these tests fail); resume refuses a changed
// schedule; a restored Adam continues bit for bit; checkpoint metadata is checked field by field.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  tf, setupBackend, createModel, loadMnist, mnistForTraining, train, DataParallelTrainer, LabelledImages,
  readTrainingMeta, checkTrainingMeta, restoreOptimizer, runFromCheckpoints, LECTURE_SCHEDULE, trainStep, batchOf,
} from "cnn-lab";
import { makeTrainStep } from "../tools/cli/bench";

// The module train() and the trainer import their step from (lib/dist/lecture/step.js): its exports are what they call.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const stepModule: Record<string, (...args: never[]) => unknown> = require("cnn-lab/dist/lecture/step");

/** Counts calls of step.ts's `name` while `f` runs (the real function still runs). */
async function countCalls(name: "trainStep" | "grad", f: () => Promise<unknown> | unknown): Promise<number> {
  const original = stepModule[name];
  let calls = 0;
  stepModule[name] = (...args: never[]) => { calls++; return original(...args); };
  try {
    await f();
  } finally {
    stepModule[name] = original;
  }
  return calls;
}

let small: LabelledImages;
before(async () => {
  await setupBackend({ quiet: true });
  small = mnistForTraining((await loadMnist()).train, 200);
});
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "step-test-"));
const tmp = () => fs.mkdtempSync(path.join(tmpRoot, "t-"));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

test("train() on one thread runs trainStep once per batch", async () => {
  const model = createModel(1);
  assert.equal(await countCalls("trainStep", () => train(model, small, { epochs: 1, batchSize: 50 })), 4);
  model.dispose();
});

test("the data-parallel trainer computes its main-thread shard with grad(), and train() with workers uses it", async () => {
  const model = createModel(1);
  const optimizer = tf.train.adam(0.001);
  const trainer = await DataParallelTrainer.create(model, optimizer, { workers: 1 });
  const [x, y] = batchOf(small, Int32Array.from({ length: 100 }, (_, i) => i));
  try {
    assert.equal(await countCalls("grad", () => trainer.step(x, y)), 1);
  } finally {
    await trainer.dispose();
    tf.dispose([x, y]);
    optimizer.dispose();
  }
  assert.equal(await countCalls("grad", () => train(model, small, { epochs: 1, batchSize: 100, workers: 1 })), 2);
  model.dispose();
});

test("npm run bench times trainStep (one thread) and the data-parallel step (workers)", async () => {
  const model = createModel(1);
  const optimizer = tf.train.adam(0.001);
  const [x, y] = batchOf(small, Int32Array.from({ length: 100 }, (_, i) => i));
  assert.equal(await countCalls("trainStep", makeTrainStep(model, optimizer, x, y)), 1);
  const trainer = await DataParallelTrainer.create(model, optimizer, { workers: 1 });
  try {
    assert.equal(await countCalls("grad", makeTrainStep(model, optimizer, x, y, trainer)), 1);
  } finally {
    await trainer.dispose();
  }
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
});

test("trainStep = one Adam update on the batch's mean softmax cross-entropy, measured before the update", () => {
  const model = createModel(2);
  const optimizer = tf.train.adam(0.001);
  const [x, y] = batchOf(small, Int32Array.from({ length: 20 }, (_, i) => i));
  const expectedLoss = tf.tidy(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor).dataSync()[0]);
  const before = model.getWeights().map((w) => w.dataSync().slice());
  const r = trainStep(model, optimizer, x, y);
  // The same dropout seed draws the same mask, so the loss is the one computed above.
  assert.ok(Math.abs(r.loss - expectedLoss) < 1e-6, `${r.loss} vs ${expectedLoss}`);
  assert.ok(r.accuracy >= 0 && r.accuracy <= 1 && Number.isInteger(r.accuracy * 20));
  assert.ok(model.getWeights().some((w, i) => w.dataSync().some((v, j) => v !== before[i][j])), "the weights moved");
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
});

test("restoreOptimizer continues Adam bit for bit (setWeights alone rebuilds beta powers that differ in the last bit)", async () => {
  type AdamState = { accBeta1: tf.Variable; accBeta2: tf.Variable };
  const v = tf.variable(tf.tensor1d([0.5, -0.25]));
  const stepped = tf.train.adam(0.001);
  const powers = (o: tf.Optimizer) => [(o as unknown as AdamState).accBeta1.dataSync()[0], (o as unknown as AdamState).accBeta2.dataSync()[0]];
  let plainDiffers = 0;
  for (let t = 1; t <= 60; t++) {
    tf.tidy(() => stepped.applyGradients([{ name: v.name, tensor: tf.tensor1d([0.1, -0.2]) }]));
    const saved = await stepped.getWeights();
    const plain = tf.train.adam(0.001);
    await plain.setWeights(saved);
    if (powers(plain).some((p, i) => p !== powers(stepped)[i])) plainDiffers++;
    const restored = tf.train.adam(0.001);
    await restoreOptimizer(restored, saved);
    assert.deepEqual(powers(restored), powers(stepped), `after ${t} steps`);
    tf.dispose(saved.filter((w) => !(w.tensor instanceof tf.Variable)).map((w) => w.tensor));
    plain.dispose();
    restored.dispose();
  }
  assert.ok(plainDiffers > 0, "setWeights alone should show the last-bit difference this guards against");
  stepped.dispose();
  v.dispose();
});

test("resume refuses a changed seed, batch size or training-set size, naming both values", async () => {
  const dir = tmp();
  const model = createModel(777);
  await train(model, small, { epochs: 1, batchSize: 100, checkpointDir: dir });
  await assert.rejects(train(model, small, { epochs: 2, batchSize: 100, seed: 778, checkpointDir: dir, resume: true }),
    /different schedule: seed 777 in the checkpoint, 778 now/);
  await assert.rejects(train(model, small, { epochs: 2, batchSize: 50, checkpointDir: dir, resume: true }),
    /batchSize 100 in the checkpoint, 50 now/);
  const fewer = { images: small.images.slice(0, 100), labels: Array.from(small.labels).slice(0, 100) };
  await assert.rejects(train(model, fewer, { epochs: 2, batchSize: 100, checkpointDir: dir, resume: true }),
    /trainImages 200 in the checkpoint, 100 now/);
  fewer.images.dispose();
  assert.equal(readTrainingMeta(path.join(dir, "epoch-001")).epoch, 1, "nothing was written by the refused resumes");

  // Allowed explicitly: trains, and the metadata says the run changed, so runs refuses it as one schedule.
  const r = await train(model, small, { epochs: 2, batchSize: 100, seed: 5, checkpointDir: dir, resume: true, allowScheduleChange: true });
  assert.equal(r.resumedFrom, 1);
  const meta = readTrainingMeta(path.join(dir, "epoch-002"));
  assert.deepEqual(meta.changes, [{ epoch: 1, setting: "seed", from: 777, to: 5 }]);
  assert.equal(meta.seed, 5);
  assert.throws(() => runFromCheckpoints(dir, { ...LECTURE_SCHEDULE, epochs: 2, trainImages: 200 }), /changed its schedule on resume \(seed 777 → 5 after epoch 1\)/);
  model.dispose();
});

test("checkTrainingMeta names the checkpoint and the field that is wrong", () => {
  const good = { epoch: 1, history: [{ epoch: 1, loss: 0.1, trainAccuracy: 0.9, testAccuracy: 0.95, seconds: 3 }], seed: 7, batchSize: 100, learningRate: 0.001 };
  assert.deepEqual(checkTrainingMeta(good, "checkpoint X"), good);
  assert.throws(() => checkTrainingMeta(undefined, "checkpoint X"), /^Error: checkpoint X: training metadata is missing/);
  assert.throws(() => checkTrainingMeta({ ...good, seed: "7" }, "X"), /X: training metadata has no whole-number seed/);
  assert.throws(() => checkTrainingMeta({ ...good, epoch: 2 }, "X"), /has no history of its 2 epoch\(s\)/);
  assert.throws(() => checkTrainingMeta({ ...good, history: [{ ...good.history[0], loss: "x" }] }, "X"), /history entry 1 is not/);
  assert.throws(() => checkTrainingMeta({ ...good, trainImages: 1.5 }, "X"), /trainImages that is not a whole number/);
  const dir = tmp();
  fs.writeFileSync(path.join(dir, "model.json"), "{not json");
  assert.throws(() => readTrainingMeta(dir), /model\.json: not valid JSON \(corrupt or truncated; expected a checkpoint's model\.json\)/);
});
