import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  tf, setupBackend, createModel, loadMnist, mnistForTraining, train, epochOrder, trainEnsemble, epochExamples, epochLearningRate,
  ensembleAccuracy, ensembleLogits, formatEnsembleEpoch, createBestModel, dropoutReseeder, setLearningRate, augmentedBatchOf, trainStep, modelDirName, loadCheckpoint, readTrainingMeta, LabelledImages, EnsembleEpochLog,
} from "cnn-lab";

let small: LabelledImages;
let tiny: LabelledImages;
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "ensemble-test-"));
const tmp = () => fs.mkdtempSync(path.join(tmpRoot, "t-"));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
const bytes = (dir: string) => fs.readFileSync(path.join(dir, "weights.bin"));

test("epochExamples: a whole-set epoch is epochOrder; smaller epochs cut one stream of shuffles into pieces", () => {
  assert.deepEqual(epochExamples(50, 50, 7, 3), epochOrder(50, 7, 3));
  // 20 per epoch from a set of 50: epochs 1-2 and half of 3 are pass 1, the rest of 3 starts pass 2.
  const stream = [...epochOrder(50, 7, 1), ...epochOrder(50, 7, 2)];
  const cut = [1, 2, 3, 4, 5].flatMap((e) => [...epochExamples(50, 20, 7, e)]);
  assert.deepEqual(cut, stream.slice(0, 100));
  assert.equal(new Set(cut.slice(0, 50)).size, 50, "the first 50 visited are the whole set once");
});

test("formatEnsembleEpoch: the lecture's line, then each model's test accuracy and the time", () => {
  const line = formatEnsembleEpoch({ epoch: 2, loss: 0.0405374812, trainAccuracy: 0.99281, testAccuracy: 0.9925, modelTestAccuracy: [0.9901, 0.99004, 0.9912], seconds: 151.26 });
  assert.equal(line, "Epoch: 2 loss = 0.04053748 train accuracy = 0.9928 test accuracy = 0.9925 (models: 0.9901 0.9900 0.9912; 151.3 s)");
});

test("epochLearningRate: the staircase halves the rate every `everyEpochs` epochs", () => {
  const recipe = { learningRate: 0.001, decay: { everyEpochs: 5, rate: 0.5 } };
  assert.deepEqual([1, 5, 6, 10, 11, 15].map((e) => epochLearningRate(recipe, e)), [0.001, 0.001, 0.0005, 0.0005, 0.00025, 0.00025]);
  assert.equal(epochLearningRate({ learningRate: 0.001 }, 15), 0.001);
});

test("ensembleAccuracy / ensembleLogits: the argmax of the summed logits, not a vote", () => {
  // Example 1: A is sure of class 0, B and C mildly prefer 1: the sum picks 0 where a vote would pick 1.
  // Example 2: all lean to class 2.
  const a = Float32Array.from([9, 0, 0, 0, 1, 2]);
  const b = Float32Array.from([0, 1, 0, 0, 0, 3]);
  const c = Float32Array.from([0, 1, 0, 0, 1, 2]);
  assert.equal(ensembleAccuracy([a, b, c], [0, 2], 3), 1);
  assert.equal(ensembleAccuracy([a, b, c], [1, 2], 3), 0.5);
  // ensembleLogits sums the models' outputs in inference mode: two copies of one model give twice its logits.
  const m = createModel(5);
  const x = tiny.images.slice(0, 4);
  const [one, two] = [ensembleLogits([m], x), ensembleLogits([m, m], x)];
  assert.ok(tf.tidy(() => tf.mul(one, 2).sub(two).abs().max().dataSync()[0]) < 1e-5);
  tf.dispose([x, one, two]);
  m.dispose();
});

// The reference: each member alone through train() on one thread (seed 777 shuffle, its own init seed).
const reference: tf.LayersModel[] = [];
const SEEDS = [777, 778];
before(async () => {
  await setupBackend({ quiet: true });
  const mnist = await loadMnist();
  small = mnistForTraining(mnist.train, 300);
  tiny = mnistForTraining(mnist.test, 100);
  for (const s of SEEDS) {
    const m = createModel(s);
    await train(m, small, { epochs: 2, seed: 777 });
    reference.push(m);
  }
});
after(() => reference.forEach((m) => m.dispose()));

function assertSameWeights(a: tf.LayersModel, b: tf.LayersModel, what: string) {
  const wa = a.getWeights(), wb = b.getWeights();
  wa.forEach((w, i) => assert.deepEqual(w.dataSync(), wb[i].dataSync(), `${what}: weight ${i} differs`));
}

let uninterrupted: string;
test("each member trains exactly as train() trains it alone (same batches, masks, Adam), on two threads", async () => {
  uninterrupted = tmp();
  const models = SEEDS.map((s) => createModel(s));
  const epochs: EnsembleEpochLog[] = [];
  const before = tf.memory().numTensors;
  const r = await trainEnsemble(models, small, { epochs: 2, test: tiny, checkpointDir: uninterrupted, threads: 2, onEpoch: (l) => epochs.push(l) });
  assert.equal(tf.memory().numTensors, before, "no tensors left behind on the main thread");
  assert.deepEqual(r.history.map((h) => h.epoch), [1, 2]);
  assert.deepEqual(epochs, r.history);
  models.forEach((m, i) => assertSameWeights(m, reference[i], `model ${i + 1}`));
  for (let m = 0; m < 2; m++) {
    const meta = readTrainingMeta(path.join(uninterrupted, modelDirName(m), "epoch-002"));
    assert.equal(meta.epoch, 2);
    assert.equal(r.history[1].modelTestAccuracy[m], meta.history[1].testAccuracy);
  }
  const last = r.history[1];
  assert.ok(last.loss > 0 && last.trainAccuracy > 0.3 && last.testAccuracy > 0.3, JSON.stringify(last));
  models.forEach((m) => m.dispose());
});

test("one thread gives the same checkpoints as two (the result does not depend on which thread ran an epoch)", async () => {
  const dir = tmp();
  const models = SEEDS.map((s) => createModel(s));
  await trainEnsemble(models, small, { epochs: 2, test: tiny, checkpointDir: dir, threads: 1 });
  for (let m = 0; m < 2; m++) {
    assert.ok(bytes(path.join(dir, modelDirName(m), "epoch-002")).equals(bytes(path.join(uninterrupted, modelDirName(m), "epoch-002"))), `model ${m + 1}`);
  }
  models.forEach((m) => m.dispose());
});

test("stopped after its first epoch, a run resumes to the uninterrupted run's weights and history", async () => {
  const dir = tmp();
  const ctl = new AbortController();
  const first = SEEDS.map((s) => createModel(s));
  const r1 = await trainEnsemble(first, small, { epochs: 2, test: tiny, checkpointDir: dir, threads: 2, signal: ctl.signal, onEpoch: () => ctl.abort() });
  assert.equal(r1.stopped, true);
  assert.deepEqual(r1.history.map((h) => h.epoch), [1]);
  first.forEach((m) => m.dispose());
  const again = SEEDS.map((s) => createModel(s));
  const r2 = await trainEnsemble(again, small, { epochs: 2, test: tiny, checkpointDir: dir, threads: 2 });
  assert.equal(r2.resumedFrom, 1);
  assert.equal(r2.stopped, false);
  again.forEach((m, i) => assertSameWeights(m, reference[i], `resumed model ${i + 1}`));
  const full = JSON.parse(fs.readFileSync(path.join(uninterrupted, "ensemble.json"), "utf8")).history as EnsembleEpochLog[];
  assert.deepEqual(r2.history.map((h) => [h.testAccuracy, h.modelTestAccuracy, h.loss]), full.map((h) => [h.testAccuracy, h.modelTestAccuracy, h.loss]));
  again.forEach((m) => m.dispose());
});

test("a folder of another recipe, or of something else, is refused before any training", async () => {
  const models = SEEDS.map((s) => createModel(s));
  await assert.rejects(
    trainEnsemble(models, small, { epochs: 2, learningRate: 0.01, test: tiny, checkpointDir: uninterrupted }),
    /cannot resume the ensemble in .* with another recipe: learningRate 0.001 in the run, 0.01 now/,
  );
  await assert.rejects(
    trainEnsemble(models.slice(0, 1), small, { epochs: 2, test: tiny, checkpointDir: uninterrupted }),
    /models 2 in the run, 1 now/,
  );
  const other = tmp();
  fs.mkdirSync(path.join(other, "model-1"));
  await assert.rejects(trainEnsemble(models, small, { epochs: 1, test: tiny, checkpointDir: other }), /holds model checkpoints but no ensemble.json/);
  await assert.rejects(trainEnsemble(models, small, { epochs: 0, test: tiny, checkpointDir: tmp() }), /epochs must be a positive integer, got 0/);
  models.forEach((m) => m.dispose());
});

test("a completed run re-run trains nothing and returns its history (a notebook re-run reloads)", async () => {
  const models = SEEDS.map((s) => createModel(s));
  const ck = await loadCheckpoint(path.join(uninterrupted, modelDirName(0), "epoch-002"));
  const r = await trainEnsemble(models, small, { epochs: 2, test: tiny, checkpointDir: uninterrupted });
  assert.equal(r.resumedFrom, 2);
  assert.deepEqual(r.history.map((h) => h.epoch), [1, 2]);
  assertSameWeights(models[0], ck.model, "reloaded model 1");
  ck.model.dispose();
  tf.dispose(ck.optimizerWeights.map((w) => w.tensor));
  models.forEach((m) => m.dispose());
});

test("lab-11-5's recipe: batch-norm models on the augmented set with the staircase decay train as a plain loop does", async () => {
  // The reference: the notebook's loop on one thread: augmentedBatchOf batches, trainStep, the rate set per epoch.
  const recipe = { epochs: 2, trainImages: 200, augmentSeed: 5, decay: { everyEpochs: 1, rate: 0.5 } };
  const seeds = [11, 21];
  const reference: tf.LayersModel[] = [];
  for (const s of seeds) {
    const model = createBestModel(s);
    const optimizer = tf.train.adam(0.001);
    const reseed = dropoutReseeder(model);
    for (let epoch = 1; epoch <= recipe.epochs; epoch++) {
      setLearningRate(optimizer, epochLearningRate({ learningRate: 0.001, decay: recipe.decay }, epoch));
      const order = epochExamples(5 * small.labels.length, recipe.trainImages, 777, epoch);
      for (let b = 0; b < 2; b++) {
        const [x, y] = augmentedBatchOf(small, order.subarray(b * 100, (b + 1) * 100), recipe.augmentSeed);
        reseed((epoch - 1) * 2 + b, 0);
        trainStep(model, optimizer, x, y);
        tf.dispose([x, y]);
      }
    }
    optimizer.dispose();
    reference.push(model);
  }
  const models = seeds.map((s) => createBestModel(s));
  const r = await trainEnsemble(models, small, { ...recipe, test: tiny, checkpointDir: tmp(), threads: 2 });
  assert.equal(r.history.length, 2);
  models.forEach((m, i) => assertSameWeights(m, reference[i], `model ${i + 1} (moving statistics included)`));
  assert.ok(models[0].getWeights().length > models[0].trainableWeights.length, "the batch-norm moving statistics are among the compared weights");
  [...models, ...reference].forEach((m) => m.dispose());
});

test("free space for every member's next checkpoint is checked before each epoch (injected reading), nothing half-written", async () => {
  const dir = tmp();
  const models = SEEDS.map((s) => createModel(s));
  const { checkpointBytes } = await import("cnn-lab");
  const need = models.reduce((n, m) => n + checkpointBytes(m), 0);
  let free = need - 1;
  const opts = { epochs: 2, batchSize: 100, test: tiny, checkpointDir: dir, threads: 1, freeSpace: () => free };
  await assert.rejects(
    trainEnsemble(models, small, opts),
    new RegExp(`cannot train epoch 1 into ${dir}: the models' next checkpoints need ${(need / 2 ** 20).toFixed(1)} MB and the disk has ${((need - 1) / 2 ** 20).toFixed(1)} MB free`),
  );
  assert.deepEqual(fs.readdirSync(dir), [], "no model folder, no recipe file, no lock");
  // Room for epoch 1 only: epoch 2 is refused before any member starts it.
  free = need;
  await assert.rejects(
    trainEnsemble(models, small, { ...opts, onEpoch: () => { free = need - 1; } }),
    /cannot train epoch 2 into .*: the models' next checkpoints need/,
  );
  for (const m of [0, 1]) assert.deepEqual(fs.readdirSync(path.join(dir, modelDirName(m))), ["epoch-001"]);
  models.forEach((m) => m.dispose());
});

test("an ensemble refuses a folder holding a single model's run (lab-11-1), with or without resume", async () => {
  const dir = tmp();
  const single = createModel(777);
  await train(single, tiny, { epochs: 1, batchSize: 50, checkpointDir: dir });
  single.dispose();
  const models = SEEDS.map((s) => createModel(s));
  await assert.rejects(
    trainEnsemble(models, small, { epochs: 1, test: tiny, checkpointDir: dir }),
    new RegExp(`${dir} holds a single model's run \\(epoch-NNN/\\): an ensemble cannot train into it`),
  );
  assert.deepEqual(fs.readdirSync(dir), ["epoch-001"]);
  models.forEach((m) => m.dispose());
});
