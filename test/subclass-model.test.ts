// Notebook 08 (lab-11-3) writes its model as a plain class in a cell (TF.js has no Keras-style LayersModel
// subclassing). The class must stay the lecture's network: 06's layers and parameters, equal initial weights, the
// same logits as createModel() once given its weights, and the surface the notebook's loop relies on.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";
import { tf, setupBackend, createModel, paddingMode, trainableVariables, dropoutReseeder } from "cnn-lab";

interface MNISTModel {
  call(x: tf.Tensor | tf.SymbolicTensor, training?: boolean): tf.Tensor;
  layers: tf.layers.Layer[];
  trainableWeights: tf.LayerVariable[];
  countParams(): number;
  getWeights(): tf.Tensor[];
  setWeights(w: tf.Tensor[]): void;
  dispose(): void;
}

/** The notebook's MNISTModel class, compiled from its cell with the names the cell takes from the notebook's imports. */
function notebookClass(): new (seed?: number) => MNISTModel {
  const nb = JSON.parse(fs.readFileSync(path.resolve(__dirname, "..", "notebooks", "08-subclassing.ipynb"), "utf8"));
  const src = (nb.cells as { cell_type: string; source: string | string[] }[])
    .map((c) => [c.source].flat().join(""))
    .find((s) => s.includes("class MNISTModel {"));
  assert.ok(src, "notebook 08 defines class MNISTModel");
  const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
  return new Function("tf", "paddingMode", `${js}\nreturn MNISTModel;`)(tf, paddingMode);
}

function built(Model: new (seed?: number) => MNISTModel, seed?: number): MNISTModel {
  const m = new Model(seed);
  m.call(tf.input({ shape: [28, 28, 1] })); // the lecture's model(temp_inputs): builds the weights
  return m;
}

before(() => setupBackend({ quiet: true }));

test("notebook 08's MNISTModel has 06's layers, parameters and initial weights", () => {
  const Model = notebookClass();
  const [mine, sequential] = [built(Model), createModel()];
  const describe = (layers: tf.layers.Layer[]) => layers.map((l) => [l.getClassName(), l.name, JSON.stringify(l.outputShape), l.countParams()]);
  assert.deepEqual(describe(mine.layers), describe(sequential.layers));
  assert.equal(mine.countParams(), 619_786);
  const flat = (ws: tf.Tensor[]) => ws.map((w) => Array.from(w.dataSync()));
  assert.deepEqual(flat(mine.getWeights()), flat(sequential.getWeights()), "same seeds per layer, same initial weights");
  mine.dispose();
  sequential.dispose();
});

test("with a Sequential model's weights, MNISTModel computes the same logits (dropout off), and different ones with dropout on", () => {
  const Model = notebookClass();
  const [mine, sequential] = [built(Model), createModel(1)];
  mine.setWeights(sequential.getWeights());
  const images = tf.randomUniform([8, 28, 28, 1], 0, 1, "float32", 3);
  const [a, b, c] = [sequential.predict(images) as tf.Tensor, mine.call(images), mine.call(images, true)];
  assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
  assert.notDeepEqual(Array.from(c.dataSync()), Array.from(a.dataSync()), "training=true turns dropout on");
  tf.dispose([images, a, b, c]);
  mine.dispose();
  sequential.dispose();
});

test("MNISTModel gives the library's step helpers what they need: 10 trainable variables, one Dropout layer to reseed", () => {
  const mine = built(notebookClass());
  const vars = trainableVariables(mine);
  assert.deepEqual(vars.map((v) => v.shape), mine.getWeights().map((w) => w.shape));
  assert.equal(vars.length, 10);
  const dropout = mine.layers.find((l) => l.getClassName() === "Dropout") as unknown as { seed: number };
  const base = dropout.seed;
  dropoutReseeder(mine)(5, 0);
  assert.equal(dropout.seed, base + 5);
  assert.throws(() => mine.setWeights(mine.getWeights().slice(2)), /shape|weights/);
  mine.dispose();
});
