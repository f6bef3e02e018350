// The lecture CNN of lab-11-1 (Keras Sequential), layer for layer. Notebook 06 writes this function in a cell
// (marked `// @save`); test/saved-code.test.ts checks the two are the same text.
import * as tf from "@tensorflow/tfjs";
import { paddingMode } from "./padding";

// @save
// create_model: Conv 32 → pool → Conv 64 → pool → Conv 128 → pool (7 → 4) → Flatten (2048) → Dense 256 → Dropout 0.4
// → Dense 10, one line per Keras layer. The last layer gives logits (no softmax): the loss applies softmax itself.
// Keras seeds every initializer from tf.random.set_seed(777); TF.js has no global seed, so each layer gets its
// own (seed, seed + 1, ...): equal-shaped layers must not start equal, and two models with one seed are equal.
export function createModel(seed = 777): tf.Sequential {
  let next = seed;
  const init = () => tf.initializers.glorotUniform({ seed: next++ });
  const model = tf.sequential({ name: "lecture_cnn" });
  model.add(tf.layers.conv2d({ name: "conv1", filters: 32, kernelSize: 3, activation: "relu", padding: paddingMode("SAME"), inputShape: [28, 28, 1], kernelInitializer: init() }));
  model.add(tf.layers.maxPooling2d({ name: "pool1", poolSize: 2, padding: paddingMode("SAME") }));
  model.add(tf.layers.conv2d({ name: "conv2", filters: 64, kernelSize: 3, activation: "relu", padding: paddingMode("SAME"), kernelInitializer: init() }));
  model.add(tf.layers.maxPooling2d({ name: "pool2", poolSize: 2, padding: paddingMode("SAME") }));
  model.add(tf.layers.conv2d({ name: "conv3", filters: 128, kernelSize: 3, activation: "relu", padding: paddingMode("SAME"), kernelInitializer: init() }));
  model.add(tf.layers.maxPooling2d({ name: "pool3", poolSize: 2, padding: paddingMode("SAME") }));
  model.add(tf.layers.flatten({ name: "flatten" }));
  model.add(tf.layers.dense({ name: "dense1", units: 256, activation: "relu", kernelInitializer: init() }));
  model.add(tf.layers.dropout({ name: "dropout", rate: 0.4, seed: next++ }));
  model.add(tf.layers.dense({ name: "logits", units: 10, kernelInitializer: init() }));
  return model;
}
