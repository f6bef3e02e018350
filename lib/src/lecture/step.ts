// The lecture's training step (lab-11-1's loss_fn, grad, evaluate and train), written once. Notebook 06 shows
// these functions in its cells, marked `// @save` (d2l's way: the chapter's code is what the library keeps);
// test/saved-code.test.ts checks that every such cell is the same text as here. train(), the data-parallel
// trainer (main thread and workers) and `npm run bench` all call these functions.
import * as tf from "@tensorflow/tfjs";
import type { Labels } from "./evaluate";

/** What grad() returns: the batch's mean loss, how many it got right, and the gradient of every trainable variable. */
export type Gradients = { loss: tf.Scalar; correct: tf.Scalar; grads: tf.NamedTensorMap }; // a type, so tf.tidy may return it

/**
 * The variables a step trains, in model.trainableWeights order (the order Adam keeps its moments in). Anything
 * with trainableWeights will do: a LayersModel, or a plain class that owns layers (notebook 08's MNISTModel).
 */
export function trainableVariables(model: Pick<tf.LayersModel, "trainableWeights">): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

// @save
// loss_fn: softmax cross-entropy of the logits (from_logits=True) against one-hot labels, averaged over the batch.
export function lossFn(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
}

// @save
// evaluate's core: how many predictions (argmax of the logits) equal the labels (argmax of the one-hot rows).
export function countCorrect(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.sum(tf.cast(tf.equal(tf.argMax(logits, -1), tf.argMax(labels, -1)), "float32"));
}

// @save
// grad: GradientTape's counterpart. tf.variableGrads runs f, records it, and returns f's value and d value / d variable.
export function grad(model: tf.LayersModel, images: tf.Tensor, labels: tf.Tensor): Gradients {
  let correct!: tf.Scalar;
  const { value, grads } = tf.variableGrads(() => {
    const logits = model.apply(images, { training: true }) as tf.Tensor; // dropout on
    correct = tf.keep(countCorrect(logits, labels)); // the same forward pass gives the batch's accuracy
    return lossFn(logits, labels);
  }, trainableVariables(model));
  return { loss: value, correct, grads };
}

// @save
// train (one step): the batch's gradients, then one Adam update. Returns the batch's loss and accuracy
// (measured in the forward pass that gave the gradients, i.e. before the update).
export function trainStep(model: tf.LayersModel, optimizer: tf.Optimizer, images: tf.Tensor, labels: tf.Tensor): { loss: number; accuracy: number } {
  const { loss, correct, grads } = grad(model, images, labels);
  optimizer.applyGradients(grads);
  const result = { loss: loss.dataSync()[0], accuracy: correct.dataSync()[0] / images.shape[0] };
  tf.dispose([loss, correct, ...Object.values(grads)]);
  return result;
}

/** Images [n, 28, 28, 1] scaled to 0..1 and their class labels 0..9. */
export interface LabelledImages {
  images: tf.Tensor4D;
  labels: Labels;
}

/** The batch of examples `idx`: images [b, 28, 28, 1] and one-hot labels [b, 10] (the lecture's to_categorical). */
export function batchOf(data: LabelledImages, idx: Int32Array): [tf.Tensor4D, tf.Tensor2D] {
  return tf.tidy(() => [
    tf.gather(data.images, tf.tensor1d(idx, "int32")),
    tf.oneHot(tf.tensor1d(Int32Array.from(idx, (i) => data.labels[i]), "int32"), 10) as tf.Tensor2D,
  ]);
}
