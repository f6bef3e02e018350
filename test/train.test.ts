import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  tf, setupBackend, createModel, loadMnist, mnistForTraining, train, epochOrder, formatEpoch, formatProgress,
  listCheckpoints, loadCheckpoint, LabelledImages, EpochLog, acquireRunLock, batchSizeLimit, residentBytes,
} from "cnn-lab";

let small: LabelledImages;
let tiny: LabelledImages;
before(async () => {
  await setupBackend({ quiet: true });
  const mnist = await loadMnist();
  small = mnistForTraining(mnist.train, 300);
  tiny = mnistForTraining(mnist.test, 100);
});

// Every temp folder lives under one root, removed when the file's tests end.
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "train-test-"));
const tmp = () => fs.mkdtempSync(path.join(tmpRoot, "t-"));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
const weightsOf = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));

test("mnistForTraining: [n, 28, 28, 1] floats = pixels / 255, labels alongside", async () => {
  const mnist = await loadMnist();
  const d = mnistForTraining(mnist.train, 2);
  assert.deepEqual(d.images.shape, [2, 28, 28, 1]);
  const px = d.images.dataSync();
  for (const i of [0, 150, 300, 783, 784 + 400]) assert.ok(Math.abs(px[i] - mnist.train.images[i] / 255) < 1e-7);
  assert.deepEqual(Array.from(d.labels), [5, 0]); // the lecture: train_labels[0] is 5
  assert.throws(() => mnistForTraining(mnist.train, 60001), /count must be at most 60000 \(the split's size\), got 60001/);
  assert.throws(() => mnistForTraining(mnist.train, 0), /count must be a positive integer, got 0/);
  d.images.dispose();
});

test("epochOrder: a seeded permutation, new each epoch, the same for the same seed", () => {
  const a = epochOrder(1000, 777, 1);
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
  assert.deepEqual(epochOrder(1000, 777, 1), a);
  assert.notDeepEqual(epochOrder(1000, 777, 2), a);
  assert.notDeepEqual(epochOrder(1000, 778, 1), a);
  // Roughly uniform: the first position is not biased towards small indices.
  const firsts = Array.from({ length: 400 }, (_, e) => epochOrder(10, 1, e)[0]);
  const mean = firsts.reduce((s, v) => s + v, 0) / firsts.length;
  assert.ok(Math.abs(mean - 4.5) < 0.5, `mean first index ${mean}`);
});

test("lecture-style lines", () => {
  const log: EpochLog = { epoch: 1, loss: 0.123456789, trainAccuracy: 0.95, testAccuracy: 0.9846, seconds: 81.25 };
  assert.equal(formatEpoch(log), "Epoch: 1 loss = 0.12345679 train accuracy = 0.9500 test accuracy = 0.9846 (81.3 s)");
  assert.equal(
    formatProgress({ epoch: 3, epochs: 15, batch: 180, batches: 600, loss: 0.04123, accuracy: 0.98711 }),
    "epoch 3/15 [######--------------] 180/600 loss 0.0412 acc 0.9871",
  );
});

test("training learns, logs every epoch, and does not leak tensors", async () => {
  const model = createModel(777);
  const start = tf.memory().numTensors;
  const perEpoch: number[] = [];
  const batches: number[] = [];
  const { history, stopped } = await train(model, small, {
    epochs: 3, batchSize: 50, test: tiny,
    onBatch: (p) => batches.push(p.batch),
    onEpoch: () => perEpoch.push(tf.memory().numTensors),
  });
  assert.equal(stopped, false);
  assert.deepEqual(history.map((h) => h.epoch), [1, 2, 3]);
  assert.deepEqual(batches, [1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6]);
  // Adam's moments appear in the first step; after that the count must stay flat.
  assert.equal(new Set(perEpoch).size, 1, `numTensors per epoch: ${perEpoch}`);
  assert.equal(tf.memory().numTensors, start, "optimizer state is released when training ends");
  assert.ok(history[2].loss < history[0].loss, `loss should fall: ${history.map((h) => h.loss)}`);
  // Test accuracy equals an independent count on the final model.
  const pred = tf.tidy(() => (model.predict(tiny.images) as tf.Tensor).argMax(-1).dataSync());
  const correct = Array.from(pred).filter((p, i) => p === tiny.labels[i]).length;
  assert.equal(history[2].testAccuracy, correct / tiny.labels.length);
  for (const h of history) assert.ok(h.seconds > 0 && h.trainAccuracy >= 0 && h.trainAccuracy <= 1);
  model.dispose();
});

test("same seed, same run: identical history and weights", async () => {
  const run = async () => {
    const model = createModel(777);
    const { history } = await train(model, small, { epochs: 1, batchSize: 100, seed: 5 });
    const w = weightsOf(model);
    model.dispose();
    return { losses: history.map((h) => h.loss), w };
  };
  const [a, b] = [await run(), await run()];
  assert.deepEqual(a.losses, b.losses);
  assert.deepEqual(a.w, b.w);
});

test("checkpoint per epoch, and resume (weights + Adam state) continues exactly as an uninterrupted run", async () => {
  const straightDir = tmp();
  const straight = createModel(777);
  const full = await train(straight, small, { epochs: 2, batchSize: 100, checkpointDir: straightDir });
  assert.deepEqual(listCheckpoints(straightDir).map((c) => c.epoch), [1, 2]);
  const ck = await loadCheckpoint(listCheckpoints(straightDir)[1].dir);
  assert.equal(ck.meta.epoch, 2);
  assert.deepEqual(ck.meta.history, full.history);
  ck.model.dispose();
  tf.dispose(ck.optimizerWeights.map((w) => w.tensor));

  const dir = tmp();
  const first = createModel(777);
  await train(first, small, { epochs: 1, batchSize: 100, checkpointDir: dir });
  first.dispose();
  // A fresh model resumed from epoch 1 must end exactly where the straight run did. (Same seed: dropout's
  // seed is part of the architecture, not of the weights; the fresh weights are epoch 0's, not epoch 1's.)
  const resumed = createModel(777);
  const r = await train(resumed, small, { epochs: 2, batchSize: 100, checkpointDir: dir, resume: true });
  assert.equal(r.resumedFrom, 1);
  assert.deepEqual(r.history.map((h) => h.loss), full.history.map((h) => h.loss));
  assert.deepEqual(weightsOf(resumed), weightsOf(straight), "Adam's moments and step count must be restored too");

  // Resuming a finished run does nothing.
  const again = await train(resumed, small, { epochs: 2, checkpointDir: dir, resume: true });
  assert.equal(again.resumedFrom, 2);
  assert.equal(again.history.length, 2);
  [straight, resumed].forEach((m) => m.dispose());
});

test("keepCheckpoints keeps only the newest epochs", async () => {
  const dir = tmp();
  const model = createModel(777);
  await train(model, tiny, { epochs: 3, batchSize: 50, checkpointDir: dir, keepCheckpoints: 2 });
  assert.deepEqual(listCheckpoints(dir).map((c) => c.epoch), [2, 3]);
  model.dispose();
});

test("the stop signal ends training after the current batch and keeps the last complete checkpoint", async () => {
  const dir = tmp();
  const model = createModel(777);
  const controller = new AbortController();
  const start = tf.memory().numTensors;
  const r = await train(model, small, {
    epochs: 5, batchSize: 50, checkpointDir: dir, signal: controller.signal,
    onBatch: (p) => { if (p.epoch === 2 && p.batch === 2) controller.abort(); },
  });
  assert.equal(r.stopped, true);
  assert.deepEqual(r.history.map((h) => h.epoch), [1]);
  assert.deepEqual(listCheckpoints(dir).map((c) => c.epoch), [1]);
  assert.deepEqual(fs.readdirSync(dir), ["epoch-001"], "no half-written folders");
  assert.equal(tf.memory().numTensors, start);
  model.dispose();
});

test("bad options are refused with what was expected", async () => {
  const model = createModel(777);
  await assert.rejects(train(model, tiny, { epochs: 0 }), /epochs must be a positive integer, got 0/);
  await assert.rejects(train(model, tiny, { epochs: 1, batchSize: 2.5 }), /batchSize must be a positive integer, got 2.5/);
  await assert.rejects(train(model, tiny, { epochs: 1, workers: -1 }), /workers must be a whole number >= 0, got -1/);
  await assert.rejects(
    train(model, { images: tiny.images, labels: Array.from(tiny.labels).slice(0, 10) }, { epochs: 1 }),
    /expected one label per image: 100 images but 10 labels/,
  );
  await assert.rejects(train(model, tiny, { epochs: 1, resume: true }), /resume needs checkpointDir/);
  const dir = tmp();
  fs.mkdirSync(path.join(dir, "epoch-004"));
  await assert.rejects(train(model, tiny, { epochs: 1, checkpointDir: dir }), /already holds checkpoints \(up to epoch 4\): resume to continue them/);
  // A checkpoint from a different architecture is refused on resume, before any training.
  const other = path.join(tmp(), "other");
  const dense = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
  const { saveCheckpoint } = await import("cnn-lab");
  const meta = { epoch: 1, history: [{ epoch: 1, loss: 1, trainAccuracy: 0.5, seconds: 1 }], seed: 777, batchSize: 100, learningRate: 0.001 };
  await saveCheckpoint(path.join(other, "epoch-001"), dense, { meta });
  await assert.rejects(train(model, tiny, { epochs: 2, checkpointDir: other, resume: true }), /does not fit this model/);
  dense.dispose();
  model.dispose();
});

test("with worker threads, resume also continues exactly (the dropout masks follow the global batch index)", async () => {
  const opts = { batchSize: 100, workers: 1 };
  const straight = createModel(777);
  await train(straight, small, { ...opts, epochs: 2 });
  const dir = tmp();
  const first = createModel(777);
  await train(first, small, { ...opts, epochs: 1, checkpointDir: dir });
  first.dispose();
  const resumed = createModel(777);
  const r = await train(resumed, small, { ...opts, epochs: 2, checkpointDir: dir, resume: true });
  assert.equal(r.resumedFrom, 1);
  assert.deepEqual(weightsOf(resumed), weightsOf(straight));
  [straight, resumed].forEach((m) => m.dispose());
});

test("with worker threads: same bookkeeping, no tensor growth, learns", async () => {
  const model = createModel(777);
  const start = tf.memory().numTensors;
  const perEpoch: number[] = [];
  const { history } = await train(model, small, {
    epochs: 2, batchSize: 50, workers: 1, test: tiny,
    onEpoch: () => perEpoch.push(tf.memory().numTensors),
  });
  assert.deepEqual(history.map((h) => h.epoch), [1, 2]);
  assert.equal(new Set(perEpoch).size, 1, `numTensors per epoch: ${perEpoch}`);
  assert.equal(tf.memory().numTensors, start);
  assert.ok(history[1].loss < history[0].loss);
  model.dispose();
});

/** The pid of a process that has exited (a killed run's). */
const deadPid = () => spawnSync(process.execPath, ["-e", ""]).pid!;

test("one run per checkpoint folder: a live run's lock refuses a second run, naming its pid; released at the end", async () => {
  const dir = tmp();
  const lock = path.join(dir, ".train.lock");
  const model = createModel(777);
  // Another live process (the test runner that started this file) holds the folder.
  fs.writeFileSync(lock, JSON.stringify({ pid: process.ppid, host: os.hostname(), started: "2026-01-01T00:00:00.000Z" }));
  await assert.rejects(
    train(model, tiny, { epochs: 1, batchSize: 50, checkpointDir: dir }),
    new RegExp(`^Error: ${dir} is in use by another training run \\(pid ${process.ppid}, since 2026-01-01T00:00:00.000Z\\): wait for it to end or stop it, or choose another folder$`),
  );
  assert.deepEqual(fs.readdirSync(dir), [".train.lock"], "the refused run wrote nothing");
  // Another machine's lock (a shared disk, an earlier container) cannot be checked: refused, with the way out.
  fs.writeFileSync(lock, JSON.stringify({ pid: deadPid(), host: "elsewhere", started: "2026-01-01T00:00:00.000Z" }));
  await assert.rejects(
    train(model, tiny, { epochs: 1, batchSize: 50, checkpointDir: dir }),
    new RegExp(`\\(pid \\d+ on elsewhere, since 2026-01-01T00:00:00.000Z\\): .*; if that run is gone, delete ${lock}$`),
  );
  // A killed run's lock is stale: taken over, held while training, removed when this run ends (or fails).
  fs.writeFileSync(lock, JSON.stringify({ pid: deadPid(), host: os.hostname(), started: "2026-01-01T00:00:00.000Z" }));
  let lockedDuring = false;
  await train(model, tiny, { epochs: 1, batchSize: 50, checkpointDir: dir, onBatch: () => {
    lockedDuring = JSON.parse(fs.readFileSync(lock, "utf8")).pid === process.pid;
  } });
  assert.ok(lockedDuring, "the run holds the lock while it trains");
  assert.deepEqual(fs.readdirSync(dir), ["epoch-001"]);
  await assert.rejects(train(model, tiny, { epochs: 1, batchSize: 50, checkpointDir: dir }), /already holds checkpoints/);
  assert.deepEqual(fs.readdirSync(dir), ["epoch-001"], "released after a failure too");
  // Two runs in one process (a notebook) are refused the same way.
  const other = tmp();
  const release = acquireRunLock(other);
  await assert.rejects(train(model, tiny, { epochs: 1, batchSize: 50, checkpointDir: other }), new RegExp(`\\(pid ${process.pid}, since `));
  release();
  assert.deepEqual(fs.readdirSync(other), [], "release removes the lock");
  model.dispose();
});

test("a checkpoint write killed half-way is cleaned up on the next start: temp folders of dead processes only", async () => {
  const dir = tmp();
  const model = createModel(777);
  await train(model, tiny, { epochs: 2, batchSize: 50, checkpointDir: dir });
  const weights2 = fs.readFileSync(path.join(dir, "epoch-002", "weights.bin"));
  // Killed while replacing epoch-002: the complete old one moved aside, the new one half-written.
  const dead = deadPid();
  fs.renameSync(path.join(dir, "epoch-002"), path.join(dir, `epoch-002.old-${dead}-1700000000001`));
  fs.mkdirSync(path.join(dir, `epoch-002.tmp-${dead}-1700000000000`));
  fs.writeFileSync(path.join(dir, `epoch-002.tmp-${dead}-1700000000000`, "weights.bin"), "partial");
  fs.cpSync(path.join(dir, "epoch-001"), path.join(dir, `epoch-001.old-${dead}-1700000000002`), { recursive: true });
  // Not ours to remove: a live process's write, a name this tool does not write, a file.
  // Killed while probing the folder, or while writing its lock.
  fs.writeFileSync(path.join(dir, `.write-probe-${dead}`), "");
  fs.writeFileSync(path.join(dir, `.train.lock.${dead}.tmp`), "{}");
  const keep = [`epoch-003.tmp-${process.ppid}-1700000000003`, "epoch-003.tmp-notes", `epoch-004.tmp-${dead}-1700000000004`];
  fs.mkdirSync(path.join(dir, keep[0]));
  fs.mkdirSync(path.join(dir, keep[1]));
  fs.writeFileSync(path.join(dir, keep[2]), "a file");

  const r = await train(model, tiny, { epochs: 2, batchSize: 50, checkpointDir: dir, resume: true });
  assert.equal(r.resumedFrom, 2, "epoch-002 was put back and resumed from");
  assert.deepEqual(fs.readdirSync(dir).sort(), ["epoch-001", "epoch-002", ...keep].sort());
  assert.deepEqual(fs.readFileSync(path.join(dir, "epoch-002", "weights.bin")), weights2);
  model.dispose();
});

test("a checkpoint folder that cannot take a checkpoint is refused before any training, naming the path", async (t) => {
  const model = createModel(777);
  let batches = 0;
  const onBatch = () => { batches++; };
  // Unwritable (tests run as root, where permissions do not stop writes): a folder under a regular file.
  const file = path.join(tmp(), "a-file");
  fs.writeFileSync(file, "");
  await assert.rejects(
    train(model, tiny, { epochs: 1, batchSize: 50, checkpointDir: path.join(file, "out"), onBatch }),
    new RegExp(`cannot create the checkpoint folder ${file}/out: (part of the path is a file, not a folder \\(ENOTDIR\\)|${file} is a file, expected a folder)`),
  );
  assert.equal(batches, 0);
  // Full: a 64 KB tmpfs, when this machine lets us mount one.
  const mnt = tmp();
  if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt]).status !== 0) {
    t.diagnostic("cannot mount a tmpfs here: the full-disk case is not checked");
  } else {
    try {
      await assert.rejects(
        train(model, tiny, { epochs: 1, batchSize: 50, checkpointDir: path.join(mnt, "run"), onBatch }),
        new RegExp(`cannot write checkpoints to ${mnt}/run \\(a checkpoint needs 7\\.1 MB\\): no space left on the device \\(ENOSPC\\)`),
      );
      assert.equal(batches, 0);
      assert.deepEqual(fs.readdirSync(path.join(mnt, "run")), [], "no probe or lock left behind");
    } finally {
      spawnSync("umount", [mnt]);
    }
  }
  model.dispose();
});

test("a batch larger than the training set, or than memory can hold, is refused before training", async () => {
  const model = createModel(777);
  await assert.rejects(train(model, tiny, { epochs: 1, batchSize: 101 }), /batchSize must be at most 100 \(the number of training images\), got 101/);
  // A fake data set of 60,000 images on the wasm backend (only its shape is looked at before the refusal).
  const limit = batchSizeLimit(model, { trainImages: 60000, residentBytes: residentBytes(small), backend: "wasm" });
  assert.ok(limit.max > 100 && limit.max < 4000, `wasm limit ${limit.max}`);
  assert.match(limit.reason, /~1\.3 MB per image and the wasm backend's memory is at most 4 GiB per thread \(1 thread\(s\)\)/);
  assert.equal(batchSizeLimit(model, { trainImages: 60000, residentBytes: residentBytes(small), backend: "wasm", workers: 1 }).max, 2 * limit.max);
  model.dispose();
});

test("resume keeps the run's worker count: another count is refused naming both, no count given uses the recorded one", async () => {
  const dir = tmp();
  const opts = { batchSize: 50, checkpointDir: dir };
  const first = createModel(777);
  await train(first, tiny, { ...opts, epochs: 1, workers: 1 });
  first.dispose();
  let batches = 0;
  const model = createModel(777);
  await assert.rejects(
    train(model, tiny, { ...opts, epochs: 2, workers: 0, resume: true, onBatch: () => { batches++; } }),
    new RegExp(`cannot resume ${dir}/epoch-001 with 0 worker thread\\(s\\): the run used 1, .*leave the worker count unset to use the run's`),
  );
  assert.equal(batches, 0, "refused before any training");
  // No count given: the recorded one, so the run is the uninterrupted one.
  await train(model, tiny, { ...opts, epochs: 2, resume: true });
  const straight = createModel(777);
  await train(straight, tiny, { batchSize: 50, epochs: 2, workers: 1 });
  assert.deepEqual(weightsOf(model), weightsOf(straight));
  const { readTrainingMeta } = await import("cnn-lab");
  assert.equal(readTrainingMeta(path.join(dir, "epoch-002")).workers, 1);
  // Allowed explicitly: done, and recorded as a change (so the run is not counted as one schedule).
  await train(model, tiny, { ...opts, epochs: 3, workers: 0, resume: true, allowScheduleChange: true });
  const meta = readTrainingMeta(path.join(dir, "epoch-003"));
  assert.equal(meta.workers, 0);
  assert.deepEqual(meta.changes, [{ epoch: 2, setting: "workers", from: 1, to: 0 }]);
  [model, straight].forEach((m) => m.dispose());
});

test("workers are bounded by the cores and by the batch, and checked before any thread starts", async () => {
  const model = createModel(777);
  const dir = tmp();
  const cores = os.availableParallelism();
  await assert.rejects(
    train(model, tiny, { epochs: 1, batchSize: 50, workers: cores + 1, checkpointDir: dir }),
    new RegExp(`workers must be at most ${cores} \\(the CPU cores; more threads only compete for them\\), got ${cores + 1}`),
  );
  await assert.rejects(
    train(model, tiny, { epochs: 1, batchSize: 1, workers: 1, checkpointDir: dir }),
    /workers must be at most 0 for batches of 1 image\(s\) \(each of the 1 \+ workers threads takes at least one image of every batch\), got 1/,
  );
  // 100 images in batches of 99: the epoch's last batch holds 1 image.
  await assert.rejects(
    train(model, tiny, { epochs: 1, batchSize: 99, workers: 1, checkpointDir: dir }),
    /workers must be at most 0 for batches of 1 image\(s\) \(the epoch's last batch: 100 images in batches of 99\)/,
  );
  assert.deepEqual(fs.readdirSync(dir), [], "nothing written, no lock left");
  model.dispose();
});

test("a .train.lock that is a folder is refused with its path, leaving nothing behind; pid 0, -1 or garbage is no live run", async () => {
  const model = createModel(777);
  const dir = tmp();
  const lock = path.join(dir, ".train.lock");
  fs.mkdirSync(lock);
  await assert.rejects(
    train(model, tiny, { epochs: 1, batchSize: 50, checkpointDir: dir }),
    new RegExp(`${lock} is a folder, expected a training run's lock file: .*remove it`),
  );
  assert.deepEqual(fs.readdirSync(dir), [".train.lock"], "no .stale- or probe file left");
  assert.ok(fs.statSync(lock).isDirectory(), "the folder is not ours to remove");
  for (const pid of [0, -1, "x", 1e20]) {
    const other = tmp();
    fs.writeFileSync(path.join(other, ".train.lock"), JSON.stringify({ pid, host: os.hostname(), started: "2026-01-01T00:00:00.000Z" }));
    const r = await train(model, tiny, { epochs: 1, batchSize: 50, checkpointDir: other });
    assert.equal(r.history.length, 1, `pid ${pid}: taken over as stale`);
    assert.deepEqual(fs.readdirSync(other), ["epoch-001"], `pid ${pid}: lock released, nothing else left`);
  }
  model.dispose();
});

test("train() refuses a folder holding an ensemble's run, with or without resume, before any training", async () => {
  const model = createModel(777);
  const dir = tmp();
  fs.writeFileSync(path.join(dir, "ensemble.json"), JSON.stringify({ recipe: { models: 3 }, history: [] }));
  fs.mkdirSync(path.join(dir, "model-1"));
  let batches = 0;
  for (const resume of [false, true]) {
    await assert.rejects(
      train(model, tiny, { epochs: 1, batchSize: 50, checkpointDir: dir, resume, onBatch: () => { batches++; } }),
      new RegExp(`${dir} holds an ensemble's run \\(ensemble\\.json, model-N/\\): a single model cannot train into it`),
    );
  }
  assert.equal(batches, 0);
  assert.deepEqual(fs.readdirSync(dir).sort(), ["ensemble.json", "model-1"]);
  model.dispose();
});

test("seeds are whole numbers the shuffle can tell apart (0 .. 2^31 - 1)", async () => {
  const model = createModel(777);
  for (const seed of [-1, 1e20, 2 ** 31, 1.5]) {
    await assert.rejects(train(model, tiny, { epochs: 1, batchSize: 50, seed }), new RegExp(`seed must be a whole number from 0 to 2147483647, got ${seed}`));
  }
  model.dispose();
});
