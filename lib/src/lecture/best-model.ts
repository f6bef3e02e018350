// The lecture's best CNN (lab-11-5, "mnist-cnn-best"): three ConvBNRelu blocks with max pooling, a DenseBNRelu of
// 256, Dropout 0.4 and a Dense 10 of logits. The lecture writes it as nested tf.keras.Model subclasses; here it is one
// Sequential with a layer per Keras layer (conv1 → bn1 → relu1 …), so it serialises with toJSON (the ensemble trainer
// rebuilds each model in a worker from its JSON) and every layer is reachable by name.
import * as tf from "@tensorflow/tfjs";
import { paddingMode } from "./padding";

// Keras (TF 2.1, init_ops_v2) glorot_normal = VarianceScaling(1, fan_avg, "truncated_normal"): a normal cut at ±2σ
// whose σ is divided by 0.8796…, the standard deviation of a unit normal truncated at ±2, so the SAMPLES have
// std sqrt(2 / (fan_in + fan_out)). TF.js's glorotNormal also draws a normal truncated at ±2σ (tfjs-core
// truncatedNormal) but with σ = sqrt(2 / (fan_in + fan_out)) uncorrected: its samples have 0.88 of Keras's spread.
// Asking varianceScaling for scale 1 / 0.8796² makes σ Keras's. (Its distribution "truncatedNormal", though listed as
// valid, falls through to a UNIFORM draw in tfjs-layers 4.22's VarianceScaling.apply; "normal" is the truncated one.)
export const TRUNCATED_NORMAL_STD = 0.87962566103423978;

/** Keras's glorot_normal initializer (see above), seeded. */
export function kerasGlorotNormal(seed: number): ReturnType<typeof tf.initializers.varianceScaling> {
  return tf.initializers.varianceScaling({ scale: 1 / TRUNCATED_NORMAL_STD ** 2, mode: "fanAvg", distribution: "normal", seed });
}

// @save
// MNISTModel of lab-11-5 for 28×28×1 images in 0..1. Each layer gets its own seed (seed, seed + 1, …) as in
// createModel. BatchNormalization has Keras's defaults, written out: momentum 0.99, epsilon 0.001. Keras's fused
// conv BN updates its moving variance with the unbiased batch variance (×n/(n−1), n = batch·height·width ≥ 4,900 for
// a batch of 100), TF.js's with the biased one: a difference below 0.03 %.
// 621,706 parameters, 960 of them the non-trainable moving means and variances, as the lecture's summary says.
export function createBestModel(seed = 777): tf.Sequential {
  let next = seed;
  const init = () => kerasGlorotNormal(next++);
  const bn = (name: string) => tf.layers.batchNormalization({ name, momentum: 0.99, epsilon: 0.001 });
  const relu = (name: string) => tf.layers.activation({ name, activation: "relu" });
  const model = tf.sequential({ name: "mnist_cnn_best" });
  const convBnRelu = (i: number, filters: number) => {
    model.add(tf.layers.conv2d({ name: `conv${i}`, filters, kernelSize: [3, 3], padding: paddingMode("SAME"), kernelInitializer: init(), ...(i === 1 ? { inputShape: [28, 28, 1] } : {}) }));
    model.add(bn(`bn${i}`));
    model.add(relu(`relu${i}`));
    model.add(tf.layers.maxPooling2d({ name: `pool${i}`, poolSize: 2, padding: paddingMode("SAME") }));
  };
  convBnRelu(1, 32);
  convBnRelu(2, 64);
  convBnRelu(3, 128);
  model.add(tf.layers.flatten({ name: "flatten" }));
  model.add(tf.layers.dense({ name: "dense4", units: 256, kernelInitializer: init() }));
  model.add(bn("bn4"));
  model.add(relu("relu4"));
  model.add(tf.layers.dropout({ name: "drop4", rate: 0.4, seed: next++ }));
  model.add(tf.layers.dense({ name: "dense5", units: 10, kernelInitializer: init() }));
  return model;
}
