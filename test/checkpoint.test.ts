import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  tf, setupBackend, createModel, saveCheckpoint, loadCheckpoint, fileSystem, readArtifacts,
  latestCheckpoint, listCheckpoints, writeArtifacts, readTrainingMeta,
} from "cnn-lab";

before(async () => {
  await setupBackend({ quiet: true });
});

// Every temp folder lives under one root, removed when the file's tests end.
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "ckpt-test-"));
const tmp = () => fs.mkdtempSync(path.join(tmpRoot, "t-"));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

/** The lecture CNN after one Adam step, so the optimizer has state worth saving. */
function trainedOnce(): { model: tf.LayersModel; optimizer: tf.Optimizer; x: tf.Tensor4D } {
  const model = createModel(777);
  const optimizer = tf.train.adam(0.001);
  const x = tf.randomUniform([4, 28, 28, 1], 0, 1, "float32", 1) as tf.Tensor4D;
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], "int32"), 10);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  tf.dispose(optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar, true, vars)!);
  y.dispose();
  return { model, optimizer, x };
}

const values = (ts: tf.Tensor[]) => ts.map((t) => Array.from(t.dataSync()));

/** tfjs-node's file:// loader, re-stated: read model.json, concatenate the manifest's files in order. */
function loadLikeTfjsNode(jsonPath: string): tf.io.IOHandler {
  return {
    async load() {
      const json = JSON.parse(fs.readFileSync(jsonPath, "utf8"));
      const buffers: Buffer[] = [];
      const specs: tf.io.WeightsManifestEntry[] = [];
      for (const group of json.weightsManifest) {
        for (const p of group.paths) buffers.push(fs.readFileSync(path.join(path.dirname(jsonPath), p)));
        specs.push(...group.weights);
      }
      const all = Buffer.concat(buffers);
      return {
        modelTopology: json.modelTopology, format: json.format, generatedBy: json.generatedBy, convertedBy: json.convertedBy,
        weightSpecs: specs, weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
}

test("round trip: same predictions, same Adam state, metadata kept, nothing leaked", async () => {
  const dir = path.join(tmp(), "epoch-001");
  const { model, optimizer, x } = trainedOnce();
  const expectedState = values((await optimizer.getWeights()).map((w) => w.tensor));
  const before = tf.memory().numTensors;
  await saveCheckpoint(dir, model, { optimizer, meta: { epoch: 1, note: "hi" } });
  assert.equal(tf.memory().numTensors, before, "saving must not leave tensors behind");

  const loaded = await loadCheckpoint(dir);
  assert.deepEqual(loaded.meta, { epoch: 1, note: "hi" });
  const [a, b] = [model.predict(x) as tf.Tensor, loaded.model.predict(x) as tf.Tensor];
  assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()), "predictions identical after reload");
  // Adam's state: iteration count 1, then first and second moments of every trainable weight.
  assert.equal(loaded.optimizerWeights.length, 1 + 2 * model.trainableWeights.length);
  assert.deepEqual(values(loaded.optimizerWeights.map((w) => w.tensor)), expectedState);
  assert.equal(loaded.optimizerWeights[0].tensor.dataSync()[0], 1);

  tf.dispose([a, b, ...loaded.optimizerWeights.map((w) => w.tensor)]);
  loaded.model.dispose();
  assert.equal(tf.memory().numTensors, before, "loading must not leave tensors behind");
  model.dispose();
  optimizer.dispose();
  x.dispose();
});

test("files are the standard layers format: model.json + weights.bin, sized as the manifest says", async () => {
  const dir = path.join(tmp(), "ckpt");
  const { model, optimizer, x } = trainedOnce();
  await saveCheckpoint(dir, model, { optimizer });
  assert.deepEqual(fs.readdirSync(dir).sort(), ["model.json", "weights.bin"]);
  const json = JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8"));
  assert.equal(json.format, "layers-model");
  assert.equal(json.modelTopology.class_name, "Sequential");
  assert.deepEqual(json.weightsManifest.map((g: { paths: string[] }) => g.paths), [["weights.bin"]]);
  const specs = json.weightsManifest[0].weights as tf.io.WeightsManifestEntry[];
  const modelSpecs = specs.filter((s) => s.group !== "optimizer");
  assert.deepEqual(modelSpecs.map((s) => s.shape), model.getWeights().map((w) => w.shape));
  // 619,786 float32 weights, then Adam: an int32 iteration count and two moments per weight.
  assert.equal(fs.statSync(path.join(dir, "weights.bin")).size, 619786 * 4 + 4 + 2 * 619786 * 4);

  // What tfjs-node's `file://DIR/model.json` loader does with these files gives the same model.
  const viaNode = await tf.loadLayersModel(loadLikeTfjsNode(path.join(dir, "model.json")));
  const [a, b] = [model.predict(x) as tf.Tensor, viaNode.predict(x) as tf.Tensor];
  assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
  tf.dispose([a, b, x]);
  [model, viaNode].forEach((m) => m.dispose());
  optimizer.dispose();
});

test("fileSystem(dir) works as a plain tf.io handler for model.save and tf.loadLayersModel", async () => {
  const dir = path.join(tmp(), "plain");
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [2], kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) })] });
  await model.save(fileSystem(dir));
  const back = await tf.loadLayersModel(fileSystem(dir));
  assert.deepEqual(values(back.getWeights()), values(model.getWeights()));
  const loaded = await loadCheckpoint(dir);
  assert.deepEqual(loaded.optimizerWeights, []);
  [model, back, loaded.model].forEach((m) => m.dispose());
});

async function savedSmall(): Promise<string> {
  const dir = path.join(tmp(), "epoch-001");
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 4, inputShape: [3] })] });
  await saveCheckpoint(dir, model, { meta: { epoch: 1 } });
  model.dispose();
  return dir;
}

async function refused(dir: string, pattern: RegExp | { message: string }): Promise<void> {
  const n = tf.memory().numTensors;
  await assert.rejects(loadCheckpoint(dir), pattern);
  assert.equal(tf.memory().numTensors, n, "a refused checkpoint must not leave tensors behind");
}

test("a truncated or padded weights file is refused with the byte counts", async () => {
  const dir = await savedSmall();
  const bin = path.join(dir, "weights.bin");
  const full = fs.readFileSync(bin);
  assert.equal(full.length, (3 * 4 + 4) * 4);
  fs.writeFileSync(bin, full.subarray(0, 20));
  await refused(dir, /weight files hold 20 bytes but the manifest expects 64 bytes \(corrupt or partial checkpoint\)/);
  fs.writeFileSync(bin, Buffer.concat([full, Buffer.alloc(4)]));
  await refused(dir, /hold 68 bytes but the manifest expects 64 bytes/);
});

test("missing or broken files are refused with what is wrong", async () => {
  let dir = await savedSmall();
  fs.rmSync(path.join(dir, "weights.bin"));
  await refused(dir, /weight file weights\.bin is missing/);

  dir = await savedSmall();
  const json = path.join(dir, "model.json");
  fs.writeFileSync(json, fs.readFileSync(json, "utf8").slice(0, 100));
  await refused(dir, /model\.json is not valid JSON \(corrupt or truncated\)/);

  fs.writeFileSync(json, JSON.stringify({ hello: 1 }));
  await refused(dir, /lacks modelTopology or weightsManifest/);

  dir = await savedSmall();
  fs.rmSync(path.join(dir, "model.json"));
  await refused(dir, /has no model\.json \(incomplete or not a checkpoint\)/);

  await refused(path.join(tmp(), "nope"), /checkpoint .*nope does not exist/);
  const file = path.join(tmp(), "file.txt");
  fs.writeFileSync(file, "x");
  await refused(file, /is not a folder/);

  // Bytes that add up but a topology that does not build.
  dir = await savedSmall();
  const json2 = path.join(dir, "model.json");
  const j = JSON.parse(fs.readFileSync(json2, "utf8"));
  j.modelTopology.config.layers[0].class_name = "NoSuchLayer";
  fs.writeFileSync(json2, JSON.stringify(j));
  await refused(dir, /cannot build the model from it/);
});

test("a weight file or model.json that is not a regular file is refused, naming the path and what is there", async () => {
  const dir = await savedSmall();
  const bin = path.join(dir, "weights.bin");
  const where = `checkpoint ${dir}`;
  fs.rmSync(bin);
  fs.mkdirSync(bin);
  await refused(dir, { message: `${bin}: is a folder, expected a weight file of ${where}` });
  fs.rmSync(bin, { recursive: true });
  fs.symlinkSync("loop.bin", bin);
  fs.symlinkSync("weights.bin", path.join(dir, "loop.bin"));
  await refused(dir, { message: `${bin}: cannot read a weight file of ${where}: it is a loop of symbolic links (ELOOP)` });
  const json = path.join(dir, "model.json");
  fs.rmSync(json);
  fs.mkdirSync(json);
  await refused(dir, { message: `${json}: is a folder, expected the model.json of ${where}` });
  // A FIFO is checked the same way; test/predict.test.ts shows predict no longer waits on one.
});

test("saving is atomic: a failed save leaves the previous checkpoint intact and no temp folders", async () => {
  const dir = await savedSmall();
  const parent = path.dirname(dir);
  const beforeJson = fs.readFileSync(path.join(dir, "model.json"), "utf8");
  const good = readArtifacts(dir);
  // Weight bytes that do not match their specs: refused before anything is written.
  assert.throws(() => writeArtifacts(dir, { ...good, weightData: new ArrayBuffer(8) }), /weights are 8 bytes but their specs describe 64 bytes/);
  // A save that fails half-way (weights.bin written, model.json cannot be serialised) rolls back.
  const unserialisable = { ...good, userDefinedMetadata: { big: 1n } as unknown as Record<string, {}> };
  assert.throws(() => writeArtifacts(dir, unserialisable), /BigInt/);
  assert.equal(fs.readFileSync(path.join(dir, "model.json"), "utf8"), beforeJson);
  assert.deepEqual(fs.readdirSync(parent), ["epoch-001"]);
  assert.equal(readArtifacts(dir).weightSpecs!.length, 2, "the previous checkpoint still loads");
  // Overwriting in place works and leaves only the final folder.
  writeArtifacts(dir, { ...good, userDefinedMetadata: { epoch: 2 } });
  assert.deepEqual(fs.readdirSync(parent), ["epoch-001"]);
  assert.deepEqual(readArtifacts(dir).userDefinedMetadata, { epoch: 2 });
});

test("listCheckpoints/latestCheckpoint see only complete epoch folders, newest last", async () => {
  const out = tmp();
  for (const name of ["epoch-002", "epoch-010", "epoch-001", "epoch-011.tmp-123-456", "notes"]) fs.mkdirSync(path.join(out, name));
  assert.deepEqual(listCheckpoints(out).map((c) => c.epoch), [1, 2, 10]);
  assert.equal(latestCheckpoint(out), path.join(out, "epoch-010"));
  assert.equal(latestCheckpoint(path.join(out, "missing")), undefined);
  const single = await savedSmall();
  assert.equal(latestCheckpoint(single), single, "a checkpoint folder itself is its own latest");
});

test("weight paths in the manifest are confined to the checkpoint folder", async () => {
  const dir = await savedSmall();
  // A complete, valid checkpoint next to it: read through "../", it would even load.
  const sibling = path.join(path.dirname(dir), "sibling");
  fs.cpSync(dir, sibling, { recursive: true });
  const jsonPath = path.join(dir, "model.json");
  const json = JSON.parse(fs.readFileSync(jsonPath, "utf8"));
  const withPath = (p: unknown) => {
    json.weightsManifest[0].paths = [p];
    fs.writeFileSync(jsonPath, JSON.stringify(json));
  };
  const outside = (p: string, why: string) =>
    new RegExp(`checkpoint ${dir}: weight path "${p.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}" ${why}: expected a file name inside the checkpoint folder`);
  withPath("../sibling/weights.bin");
  await refused(dir, outside("../sibling/weights.bin", "points outside the checkpoint folder"));
  withPath("../../../../etc/passwd");
  await refused(dir, outside("../../../../etc/passwd", "points outside the checkpoint folder"));
  withPath(path.join(sibling, "weights.bin"));
  await refused(dir, outside(path.join(sibling, "weights.bin"), "is absolute"));
  fs.symlinkSync(path.join(sibling, "weights.bin"), path.join(dir, "link.bin"));
  withPath("link.bin");
  await refused(dir, outside("link.bin", "is a link to a file outside the checkpoint folder"));
  // Inside stays fine, also spelled with a detour.
  withPath("./sub/../weights.bin");
  const back = await loadCheckpoint(dir);
  back.model.dispose();
});

test("a malformed weights manifest or an unknown dtype is refused naming the checkpoint and what was expected", async () => {
  const dir = await savedSmall();
  const jsonPath = path.join(dir, "model.json");
  const good = fs.readFileSync(jsonPath, "utf8");
  const edit = (f: (j: { weightsManifest: Record<string, unknown>[] }) => void) => {
    const j = JSON.parse(good);
    f(j);
    fs.writeFileSync(jsonPath, JSON.stringify(j));
  };
  const where = `checkpoint ${dir.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}`;
  edit((j) => { delete j.weightsManifest[0].paths; });
  await refused(dir, new RegExp(`^Error: ${where}: model\\.json's weightsManifest\\[0\\] is not \\{paths: \\[\\.\\.\\.\\], weights: \\[\\.\\.\\.\\]\\}`));
  edit((j) => { j.weightsManifest[0] = 7 as never; });
  await refused(dir, new RegExp(`${where}: model\\.json's weightsManifest\\[0\\] is not`));
  edit((j) => { (j.weightsManifest[0].weights as { dtype: string }[])[0].dtype = "float16"; });
  await refused(dir, new RegExp(`^Error: ${where}: weight "[^"]+" has unsupported dtype "float16" \\(expected float32, int32 or bool\\)`));
  edit((j) => { (j.weightsManifest[0].weights as { shape: unknown }[])[0].shape = "3x4"; });
  await refused(dir, new RegExp(`${where}: weight "[^"]+" has no shape \\(expected a list of sizes\\)`));
});

test("a checkpoint folder whose name is not its epoch is refused (resume and model selection never pick it)", async () => {
  const run = tmp();
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 4, inputShape: [3] })] });
  const meta = (epoch: number) => ({
    epoch, seed: 777, batchSize: 100, learningRate: 0.001,
    history: Array.from({ length: epoch }, (_, i) => ({ epoch: i + 1, loss: 1, trainAccuracy: 0.5, seconds: 1 })),
  });
  await saveCheckpoint(path.join(run, "epoch-004"), model, { meta: meta(4) });
  assert.equal(latestCheckpoint(run), path.join(run, "epoch-004"));
  // epoch 2 copied by hand to epoch-009: newer by name only.
  await saveCheckpoint(path.join(run, "epoch-009"), model, { meta: meta(2) });
  const message = new RegExp(`checkpoint ${run}/epoch-009: its folder name says epoch 9 but its metadata says epoch 2 \\(renamed or copied by hand\\?\\): move it out of ${run}`);
  assert.throws(() => latestCheckpoint(run), message);
  assert.throws(() => latestCheckpoint(path.join(run, "epoch-009")), message);
  assert.throws(() => readTrainingMeta(path.join(run, "epoch-009")), message);
  model.dispose();
});
