// The shipped lecture model (data/lecture-cnn): its test accuracy is the one its provenance records; shipModel
// writes weights without Adam's state, checks the accuracy against the run's own record, never overwrites.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  tf, setupBackend, createModel, loadMnist, mnistForTraining, train, evaluate, loadCheckpoint, readArtifacts,
  shipModel, readProvenance, SHIPPED_MODEL_DIR, LabelledImages,
} from "cnn-lab";

let testSet: LabelledImages;
before(async () => {
  await setupBackend({ quiet: true });
  testSet = mnistForTraining((await loadMnist()).test);
});
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "shipped-test-"));
after(() => {
  fs.rmSync(tmpRoot, { recursive: true, force: true });
  tf.dispose(testSet.images);
});

test("the shipped model scores on MNIST's test set exactly what its provenance records", async () => {
  const p = readProvenance();
  const { model, optimizerWeights } = await loadCheckpoint(SHIPPED_MODEL_DIR);
  try {
    assert.equal(optimizerWeights.length, 0, "shipped without optimizer state");
    assert.equal(model.countParams(), 619_786);
    assert.equal(p.parameters, 619_786);
    const ev = evaluate(model, testSet.images, testSet.labels);
    assert.equal(ev.accuracy, p.testAccuracy);
    assert.equal(testSet.labels.length - ev.misclassified.length, p.testCorrect);
    assert.deepEqual(p.schedule, { epochs: 15, batchSize: 100, learningRate: 0.001, trainImages: 60_000 }, "the lecture's schedule");
    assert.equal(p.seed, 777);
    assert.equal(p.dtype, "float32");
  } finally {
    model.dispose();
  }
  const bytes = fs.statSync(path.join(SHIPPED_MODEL_DIR, "weights.bin")).size;
  assert.equal(bytes, 619_786 * 4, "float32 weights, nothing else");
});

test("shipModel: weights only, provenance from the run, accuracy re-measured; an existing folder is refused", async () => {
  const mnist = await loadMnist();
  const data = mnistForTraining(mnist.train, 300);
  const small = { images: testSet.images.slice(0, 500), labels: Array.from(testSet.labels).slice(0, 500) };
  const ckpt = path.join(tmpRoot, "run");
  const model = createModel(5);
  await train(model, data, { epochs: 1, seed: 5, test: small, checkpointDir: ckpt });
  const out = path.join(tmpRoot, "shipped");
  const p = await shipModel(path.join(ckpt, "epoch-001"), out, small, { source: "test", backend: "wasm" });
  assert.equal(p.seed, 5);
  assert.deepEqual(p.schedule, { epochs: 1, batchSize: 100, learningRate: 0.001, trainImages: 300 });
  assert.equal(p.testImages, 500);
  assert.deepEqual(readProvenance(out), p);
  assert.ok(!readArtifacts(out).weightSpecs!.some((s) => s.group === "optimizer"), "no optimizer group");
  await assert.rejects(shipModel(path.join(ckpt, "epoch-001"), out, small, { source: "test", backend: "wasm" }), /already exists: move it away first/);
  // Evaluated on other images than the run recorded: the accuracies disagree, and nothing is written.
  const other = { images: testSet.images.slice(500, 500), labels: Array.from(testSet.labels).slice(500, 1000) };
  await assert.rejects(shipModel(path.join(ckpt, "epoch-001"), path.join(tmpRoot, "x"), other, { source: "test", backend: "wasm" }), /its run recorded test accuracy .* but it scores/);
  assert.ok(!fs.existsSync(path.join(tmpRoot, "x")));
  tf.dispose([data.images, small.images, other.images]);
  model.dispose();
});
