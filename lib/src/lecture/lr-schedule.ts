// Learning-rate decay of lab-11-5: Keras's ExponentialDecay(initial, decay_steps, rate, staircase=True), and a way
// to give a TF.js optimizer a new rate between steps (TF.js optimizers take no schedule).
//
// The lecture's one Adam serves 5 models, so its step count grows 5 per batch and decay_steps = 3000 batches × 5
// models × 5 halves the rate every 5 epochs of its 300,000 images. With one Adam per model (TF.js's Adam must not be
// shared: test/shared-optimizer.test.ts), the same schedule counts each model's own batches:
// staircaseDecay(0.001, 5 * batchesPerEpoch, 0.5).
import * as tf from "@tensorflow/tfjs";

/** step → initial · rate^floor(step / decaySteps): the rate steps down once every decaySteps steps. */
// @save
export function staircaseDecay(initial: number, decaySteps: number, rate: number): (step: number) => number {
  if (!(Number.isFinite(initial) && initial > 0)) throw new Error(`staircaseDecay: initial learning rate must be a positive number, got ${initial}`);
  if (!(Number.isFinite(decaySteps) && decaySteps > 0)) throw new Error(`staircaseDecay: decaySteps must be a positive number, got ${decaySteps}`);
  if (!(rate > 0 && rate <= 1)) throw new Error(`staircaseDecay: rate must be in (0, 1], got ${rate}`);
  return (step) => {
    if (!(Number.isInteger(step) && step >= 0)) throw new Error(`staircaseDecay: step must be a non-negative integer, got ${step}`);
    return initial * rate ** Math.floor(step / decaySteps);
  };
}

type WithLearningRate = tf.Optimizer & { learningRate: number; setLearningRate?: (lr: number) => void };

/**
 * Sets the learning rate the optimizer's next applyGradients uses. Adam, Adamax, Adagrad, Adadelta and RMSProp read
 * their `learningRate` field on every update; SGD and Momentum keep a scalar made from it, which their own
 * setLearningRate remakes. Throws for an optimizer without a numeric `learningRate` (its rate cannot be changed here).
 */
export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  if (!(Number.isFinite(lr) && lr > 0)) throw new Error(`setLearningRate: learning rate must be a positive number, got ${lr}`);
  const o = optimizer as WithLearningRate;
  if (typeof o.learningRate !== "number") {
    throw new Error(`setLearningRate: ${optimizer.getClassName()} has no numeric learningRate field: expected a tf.train optimizer (adam, sgd, rmsprop, …)`);
  }
  if (typeof o.setLearningRate === "function") o.setLearningRate(lr);
  else o.learningRate = lr;
}
