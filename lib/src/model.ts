// The lecture CNN of lab-11-1 (Keras Sequential), layer for layer.
import * as tf from "@tensorflow/tfjs";

/**
 * Conv 32 → pool → Conv 64 → pool → Conv 128 → pool (7→4) → Flatten (2048) → Dense 256 → Dropout 0.4 → Dense 10.
 * The last layer outputs logits (no softmax): the loss applies softmax itself, as in the lecture.
 * With a seed every layer's glorotUniform initializer gets its own seed (seed, seed+1, ...), so two models
 * built with the same seed are equal; without one the weights are random (Keras' default).
 */
export function createLectureCnn(seed?: number): tf.LayersModel {
  let n = 0;
  // A separate seed per layer: the same seed everywhere would give equal-shaped layers equal weights.
  const init = () => tf.initializers.glorotUniform({ seed: seed === undefined ? undefined : seed + n++ });
  const conv = (name: string, filters: number, inputShape?: number[]) =>
    tf.layers.conv2d({
      name, filters, kernelSize: 3, padding: "same", activation: "relu",
      kernelInitializer: init(), biasInitializer: "zeros", ...(inputShape ? { inputShape } : {}),
    });
  const pool = (name: string) => tf.layers.maxPooling2d({ name, poolSize: 2, strides: 2, padding: "same" });

  const model = tf.sequential({ name: "lecture_cnn" });
  model.add(conv("conv1", 32, [28, 28, 1]));
  model.add(pool("pool1"));
  model.add(conv("conv2", 64));
  model.add(pool("pool2"));
  model.add(conv("conv3", 128));
  model.add(pool("pool3"));
  model.add(tf.layers.flatten({ name: "flatten" }));
  model.add(tf.layers.dense({ name: "dense1", units: 256, activation: "relu", kernelInitializer: init() }));
  model.add(tf.layers.dropout({ name: "dropout", rate: 0.4, seed: seed === undefined ? undefined : seed + n++ }));
  model.add(tf.layers.dense({ name: "logits", units: 10, kernelInitializer: init() }));
  return model;
}
