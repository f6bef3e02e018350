// Two wasm kernels that are fast only in their plain form, wrapped so backprop hits the fast form:
// - BatchMatMul with transposeA/transposeB (the Dense layer's gradients) falls off XNNPACK onto a loop
//   ~10x slower; an explicit transpose first is cheap.
// - Sum over the leading axes (the bias gradient: [N,H,W,C] → [C]) transposes the whole tensor first;
//   a matmul with a row of ones does it in one XNNPACK pass.
import * as tf from "@tensorflow/tfjs";

/** Swaps the last two axes. */
function swapInner(t: tf.Tensor): tf.Tensor {
  const perm = t.shape.map((_, i) => i);
  [perm[t.rank - 2], perm[t.rank - 1]] = [perm[t.rank - 1], perm[t.rank - 2]];
  return tf.transpose(t, perm);
}

export function batchMatMulKernel(original: tf.KernelFunc): tf.KernelConfig {
  return {
    kernelName: tf.BatchMatMul,
    backendName: "wasm",
    kernelFunc: (args) => {
      const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
      if (!transposeA && !transposeB) return original(args);
      const a = args.inputs.a as tf.Tensor, b = args.inputs.b as tf.Tensor;
      // Re-enters this kernel with no transposes, which then runs the original.
      return tf.tidy(() => tf.matMul(transposeA ? swapInner(a) : a, transposeB ? swapInner(b) : b));
    },
  };
}

export function sumKernel(original: tf.KernelFunc): tf.KernelConfig {
  return {
    kernelName: tf.Sum,
    backendName: "wasm",
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.Tensor;
      const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
      const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
      const leading = axes.length > 0 && axes.length < x.rank && axes.every((a, i) => a === i);
      if (x.dtype !== "float32" || !leading) return original(args);
      const rows = x.shape.slice(0, axes.length).reduce((p, q) => p * q, 1);
      const kept = x.shape.slice(axes.length);
      const outShape = keepDims ? [...axes.map(() => 1), ...kept] : kept;
      return tf.tidy(() => tf.reshape(tf.matMul(tf.ones([1, rows]), tf.reshape(x, [rows, -1])), outShape));
    },
  };
}
