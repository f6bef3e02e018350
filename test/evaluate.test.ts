import { before, test } from "node:test";
import assert from "node:assert/strict";
import { tf, setupBackend, accuracy, confusionMatrix, perClassAccuracy, misclassified, predictClasses, evaluate } from "cnn-lab";

before(async () => {
  await setupBackend({ quiet: true });
});

// Worked by hand: labels 0 0 1 1 2 2 2, predictions 0 1 1 1 2 0 2.
const labels = [0, 0, 1, 1, 2, 2, 2];
const preds = [0, 1, 1, 1, 2, 0, 2];

test("accuracy, confusion matrix (rows true, columns predicted), per-class accuracy, misclassified", () => {
  assert.equal(accuracy(labels, preds), 5 / 7);
  assert.deepEqual(confusionMatrix(labels, preds, 3), [
    [1, 1, 0],
    [0, 2, 0],
    [1, 0, 2],
  ]);
  assert.deepEqual(perClassAccuracy(confusionMatrix(labels, preds, 3)), [0.5, 1, 2 / 3]);
  assert.deepEqual(misclassified(labels, preds), [1, 5]);
  // A class with no examples has no accuracy.
  assert.ok(Number.isNaN(perClassAccuracy(confusionMatrix([0], [0], 2))[1]));
});

test("bad input is refused with what was expected", () => {
  assert.throws(() => accuracy([1, 2], [1]), /labels and predictions differ in length: expected equal, got 2 and 1/);
  assert.throws(() => accuracy([], []), /no examples: expected at least one label/);
  assert.throws(() => confusionMatrix([0, 10], [0, 1]), /example 1: expected classes 0\.\.9, got label 10 and prediction 1/);
  assert.throws(() => confusionMatrix([0.5], [0]), /expected classes 0\.\.9, got label 0.5/);
});

test("predictClasses = argmax of the model's logits, batch by batch, without leaking", () => {
  const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [2, 2, 1] }), tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) })] });
  const x = tf.randomNormal([7, 2, 2, 1], 0, 1, "float32", 9) as tf.Tensor4D;
  const logits = (model.predict(x) as tf.Tensor).arraySync() as number[][];
  const expected = logits.map((row) => row.indexOf(Math.max(...row)));
  const n = tf.memory().numTensors;
  assert.deepEqual(Array.from(predictClasses(model, x, 3)), expected);
  const ev = evaluate(model, x, expected.map((c, i) => (i === 0 ? (c + 1) % 3 : c)));
  assert.equal(ev.accuracy, 6 / 7);
  assert.deepEqual(ev.misclassified, [0]);
  assert.equal(tf.memory().numTensors, n);
  x.dispose();
  model.dispose();
});
