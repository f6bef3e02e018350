// The lecture CNN of lab-11-1 (Keras Sequential) and of lab-11-2 (Keras functional API), layer for layer. Notebooks
// 06 and 07 write these functions in cells (marked `// @save`); test/saved-code.test.ts checks they are the same text.
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

// @save
// create_model of lab-11-2 (Keras functional API): an Input, each layer called on the previous layer's output, and
// a model from the input to the logits. The same layers, names and seeds as createModel, so both start equal.
export function createFunctionalModel(seed = 777): tf.LayersModel {
  let next = seed;
  const init = () => tf.initializers.glorotUniform({ seed: next++ });
  const inputs = tf.input({ name: "images", shape: [28, 28, 1] });
  const conv1 = tf.layers.conv2d({ name: "conv1", filters: 32, kernelSize: [3, 3], padding: paddingMode("SAME"), activation: "relu", kernelInitializer: init() }).apply(inputs) as tf.SymbolicTensor;
  const pool1 = tf.layers.maxPooling2d({ name: "pool1", poolSize: 2, padding: paddingMode("SAME") }).apply(conv1) as tf.SymbolicTensor;
  const conv2 = tf.layers.conv2d({ name: "conv2", filters: 64, kernelSize: [3, 3], padding: paddingMode("SAME"), activation: "relu", kernelInitializer: init() }).apply(pool1) as tf.SymbolicTensor;
  const pool2 = tf.layers.maxPooling2d({ name: "pool2", poolSize: 2, padding: paddingMode("SAME") }).apply(conv2) as tf.SymbolicTensor;
  const conv3 = tf.layers.conv2d({ name: "conv3", filters: 128, kernelSize: [3, 3], padding: paddingMode("SAME"), activation: "relu", kernelInitializer: init() }).apply(pool2) as tf.SymbolicTensor;
  const pool3 = tf.layers.maxPooling2d({ name: "pool3", poolSize: 2, padding: paddingMode("SAME") }).apply(conv3) as tf.SymbolicTensor;
  const pool3Flat = tf.layers.flatten({ name: "flatten" }).apply(pool3) as tf.SymbolicTensor;
  const dense4 = tf.layers.dense({ name: "dense1", units: 256, activation: "relu", kernelInitializer: init() }).apply(pool3Flat) as tf.SymbolicTensor;
  const drop4 = tf.layers.dropout({ name: "dropout", rate: 0.4, seed: next++ }).apply(dense4) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ name: "logits", units: 10, kernelInitializer: init() }).apply(drop4) as tf.SymbolicTensor;
  return tf.model({ name: "lecture_cnn_functional", inputs, outputs: logits });
}
