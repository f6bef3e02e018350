// FusedBatchNorm's gradient without tile(). tfjs-core 4.22's gradient tiles 1/sqrt(variance + eps), a [C] vector,
// to the full activation shape ([100, 28, 28, 32] for lab-11-5's first block) before multiplying, and Tile is slow on
// wasm: it was a quarter of a batch-norm CNN's training step. Multiplying by the [C] vector with broadcasting gives
// the same numbers (tile only copies; the products are the same float32 operations in the same order). The other
// derivatives are tfjs-core's, unchanged. Gradients are global (not per backend), and this one is exact everywhere.
import * as tf from "@tensorflow/tfjs";

export const batchNormGrad: tf.GradConfig = {
  kernelName: tf.FusedBatchNorm,
  inputsToSave: ["x", "mean", "variance", "scale"],
  gradFunc: (dy, saved, attrs) => {
    const dyT = dy as tf.Tensor;
    const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
    const [x, mean, variance, scale] = saved;
    const scaleValue = scale == null ? tf.scalar(1) : scale;
    const reductionAxes = tf.backend_util.getReductionAxes(mean.shape, x.shape);
    const xMinusMean = tf.sub(x, mean);
    const dyTimesScaleValue = tf.mul(dyT, scaleValue);
    const oneOverSqrtVariance = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
    const minusHalfRCube = tf.mul(tf.mul(tf.mul(oneOverSqrtVariance, oneOverSqrtVariance), oneOverSqrtVariance), tf.scalar(-0.5));
    const reduce = (t: tf.Tensor) => tf.reshape(mean.rank === 1 ? tf.sum(t, reductionAxes) : t, mean.shape);
    return {
      // stock: mul(mul(dy, tile(reshape(oneOverSqrtVariance, [1, 1, 1, C]), [N, H, W, 1])), scale)
      x: () => tf.reshape(tf.mul(tf.mul(dyT, oneOverSqrtVariance), scaleValue), x.shape),
      mean: () => reduce(tf.mul(tf.mul(oneOverSqrtVariance, tf.scalar(-1)), dyTimesScaleValue)),
      variance: () => reduce(tf.mul(tf.mul(minusHalfRCube, xMinusMean), dyTimesScaleValue)),
      scale: () => reduce(tf.mul(dyT, tf.mul(xMinusMean, oneOverSqrtVariance))),
      offset: () => reduce(dyT),
    };
  },
};

let stock: tf.GradConfig | undefined;

/** Replaces FusedBatchNorm's gradient (idempotent); returns the one it replaced, for tests. */
export function installBatchNormGrad(): tf.GradConfig | undefined {
  const current = tf.getGradient(tf.FusedBatchNorm) ?? undefined;
  if (current !== batchNormGrad) {
    stock = current;
    tf.registerGradient(batchNormGrad);
  }
  return stock;
}
