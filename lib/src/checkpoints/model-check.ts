// Before trusting a loaded model's probabilities: the lecture's model outputs logits (its loss applies softmax
// itself), so predict applies softmax once; a model that already ends in softmax would get it twice (84 % shown
// as 20 %), and NaN weights (a diverged run) would print "NaN%" as if it were an answer.
import * as tf from "@tensorflow/tfjs";

/** Layers that pass their input's meaning through: the layer that decides what the output is comes before them. */
const PASS_THROUGH = new Set(["Dropout", "Flatten", "Reshape"]);

/** Throws unless the model's last (non-pass-through) layer outputs logits: no softmax, no other activation. */
export function assertLogitsModel(model: tf.LayersModel, where: string): void {
  const layers = model.layers.filter((l) => !PASS_THROUGH.has(l.getClassName()));
  const last = layers[layers.length - 1];
  if (!last) throw new Error(`${where}: the model has no layers`);
  const cls = last.getClassName();
  const activation = (last.getConfig() as { activation?: unknown }).activation;
  const problem =
    cls === "Softmax" ? "a Softmax layer"
      : cls === "Activation" ? `an Activation layer (${String(activation)})`
        : activation !== undefined && activation !== "linear" ? `a ${cls} layer with ${String(activation)} activation`
          : undefined;
  if (problem) {
    throw new Error(
      `${where}: the model ends in ${problem} (layer "${last.name}"); it must output logits, like the lecture's ` +
        `(last layer Dense with linear activation): probabilities are computed from them with softmax`,
    );
  }
}

/** Throws when a weight holds NaN or ±Infinity (e.g. a run whose loss diverged), naming the weight. */
export function assertFiniteWeights(model: tf.LayersModel, where: string): void {
  for (const w of model.weights) {
    const values = w.read().dataSync();
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new Error(`${where}: weight ${w.name} holds ${values[bad]} at index ${bad}: expected finite numbers (did training diverge?)`);
    }
  }
}

/** Throws when model outputs are not finite numbers. */
export function assertFiniteOutputs(values: ArrayLike<number>, where: string): void {
  const bad = Array.prototype.findIndex.call(values, (v: number) => !Number.isFinite(v));
  if (bad >= 0) throw new Error(`${where}: the model's output ${bad} is ${values[bad]}: expected finite logits`);
}
