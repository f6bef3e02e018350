// Evaluation of a classifier on a labelled set: predicted classes, accuracy, confusion matrix,
// per-class accuracy and the misclassified examples. Counting is plain JS on arrays; only the
// forward pass uses tensors.
import * as tf from "@tensorflow/tfjs";

export type Labels = ArrayLike<number>;

/** Predicted class (argmax of the logits) for every image, in batches so memory stays small. */
export function predictClasses(model: tf.LayersModel, images: tf.Tensor4D, batchSize = 500): Int32Array {
  const n = images.shape[0];
  const out = new Int32Array(n);
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const classes = tf.tidy(() => {
      const logits = model.predict(images.slice([start, 0, 0, 0], [size, -1, -1, -1])) as tf.Tensor;
      return logits.argMax(-1);
    });
    out.set(classes.dataSync() as Int32Array, start);
    classes.dispose();
  }
  return out;
}

function checkSameLength(labels: Labels, predictions: Labels): void {
  if (labels.length !== predictions.length) {
    throw new Error(`labels and predictions differ in length: expected equal, got ${labels.length} and ${predictions.length}`);
  }
  if (labels.length === 0) throw new Error("no examples: expected at least one label");
}

/** Fraction of predictions equal to the labels. */
export function accuracy(labels: Labels, predictions: Labels): number {
  checkSameLength(labels, predictions);
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === predictions[i]) correct++;
  return correct / labels.length;
}

/** counts[true][predicted]: row = true class, column = predicted class. */
export function confusionMatrix(labels: Labels, predictions: Labels, numClasses = 10): number[][] {
  checkSameLength(labels, predictions);
  const counts = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < labels.length; i++) {
    const t = labels[i];
    const p = predictions[i];
    if (!(t >= 0 && t < numClasses && p >= 0 && p < numClasses && Number.isInteger(t) && Number.isInteger(p))) {
      throw new Error(`example ${i}: expected classes 0..${numClasses - 1}, got label ${t} and prediction ${p}`);
    }
    counts[t][p]++;
  }
  return counts;
}

/** Accuracy within each true class (diagonal / row sum); NaN for a class with no examples. */
export function perClassAccuracy(confusion: number[][]): number[] {
  return confusion.map((row, c) => row[c] / row.reduce((a, b) => a + b, 0));
}

/** Indices of the examples whose prediction differs from the label. */
export function misclassified(labels: Labels, predictions: Labels): number[] {
  checkSameLength(labels, predictions);
  const wrong: number[] = [];
  for (let i = 0; i < labels.length; i++) if (labels[i] !== predictions[i]) wrong.push(i);
  return wrong;
}

export interface Evaluation {
  accuracy: number;
  predictions: Int32Array;
  confusion: number[][];
  perClass: number[];
  misclassified: number[];
}

/** Everything the notebook shows about a trained model on the test set. */
export function evaluate(model: tf.LayersModel, images: tf.Tensor4D, labels: Labels): Evaluation {
  const predictions = predictClasses(model, images);
  const confusion = confusionMatrix(labels, predictions);
  return {
    accuracy: accuracy(labels, predictions),
    predictions,
    confusion,
    perClass: perClassAccuracy(confusion),
    misclassified: misclassified(labels, predictions),
  };
}

// @save
// evaluate(models, ...)'s core: every model's logits with dropout off, summed (the lecture's predictions += logits).
export function ensembleLogits(models: tf.LayersModel[], images: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.addN(models.map((model) => model.apply(images, { training: false }) as tf.Tensor)));
}
