import { test } from "node:test";
import assert from "node:assert/strict";
import { tf, createModel, createFunctionalModel } from "cnn-lab";

test("lecture CNN has the lecture's shapes and 619,786 parameters", () => {
  const model = createModel(777);
  // Independent count: 3x3 kernels + biases, then the two dense layers.
  const expected = (3 * 3 * 1 + 1) * 32 + (3 * 3 * 32 + 1) * 64 + (3 * 3 * 64 + 1) * 128 + (2048 + 1) * 256 + (256 + 1) * 10;
  assert.equal(expected, 619786);
  assert.equal(model.countParams(), expected);
  const shapes = Object.fromEntries(model.layers.map((l) => [l.name, l.outputShape]));
  assert.deepEqual(shapes, {
    conv1: [null, 28, 28, 32], pool1: [null, 14, 14, 32],
    conv2: [null, 14, 14, 64], pool2: [null, 7, 7, 64],
    conv3: [null, 7, 7, 128], pool3: [null, 4, 4, 128],
    flatten: [null, 2048], dense1: [null, 256], dropout: [null, 256], logits: [null, 10],
  });
  model.dispose();
});

test("same seed gives equal weights, another seed different ones", () => {
  const flat = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
  const [a, b, c] = [createModel(777), createModel(777), createModel(778)];
  assert.deepEqual(flat(a), flat(b));
  assert.notDeepEqual(flat(a)[0], flat(c)[0]);
  // Equal-shaped layers must not share weights just because they share the seed.
  assert.notDeepEqual(flat(a)[0].slice(0, 10), flat(a)[2].slice(0, 10));
  [a, b, c].forEach((m) => m.dispose());
});

test("the functional model (lab-11-2) is the sequential model's network: layers, shapes, parameters, initial weights", () => {
  // The sequential model's first layer carries the input shape (and dtype) in its config; the functional one has an InputLayer.
  const config = (l: tf.layers.Layer) => { const { batchInputShape: _, dtype: __, ...rest } = l.getConfig(); return rest; };
  const describe = (m: tf.LayersModel) =>
    m.layers.filter((l) => l.getClassName() !== "InputLayer").map((l) => ({ cls: l.getClassName(), name: l.name, shape: l.outputShape, params: l.countParams(), config: config(l) }));
  const [sequential, functional] = [createModel(777), createFunctionalModel(777)];
  assert.equal(functional.countParams(), 619_786);
  assert.deepEqual(functional.inputs[0].shape, [null, 28, 28, 1]);
  assert.deepEqual(describe(functional), describe(sequential));
  const flat = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
  assert.deepEqual(flat(functional), flat(sequential), "same seeds per layer, same initial weights");
  [sequential, functional].forEach((m) => m.dispose());
});

test("with the sequential model's weights, the functional model computes the same logits", () => {
  // Another seed than the functional model's own, so equal outputs come from the copied weights alone.
  const [sequential, functional] = [createModel(1), createFunctionalModel(777)];
  functional.setWeights(sequential.getWeights());
  const images = tf.randomUniform([8, 28, 28, 1], 0, 1, "float32", 5);
  const [a, b] = [sequential, functional].map((m) => m.predict(images) as tf.Tensor);
  assert.notDeepEqual(Array.from(a.dataSync()), new Array(80).fill(0));
  assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
  tf.dispose([images, a, b]);
  [sequential, functional].forEach((m) => m.dispose());
});
