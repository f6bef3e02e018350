// Two wasm kernels that are fast only in their plain form, wrapped so backprop hits the fast form:
// - BatchMatMul with transposeA/transposeB (the Dense layer's gradients) falls off XNNPACK onto a loop
//   ~10x slower; an explicit transpose first is cheap (or, for a·bᵀ with a large b, see swapPays).
// - Sum over the leading axes (the bias gradient: [N,H,W,C] → [C]) transposes the whole tensor first;
//   one pass over the heap does it (with double accumulators, like the cpu backend).
import * as tf from "@tensorflow/tfjs";
import { f32, WasmHeapBackend } from "./heap";

/** Swaps the last two axes. */
function swapInner(t: tf.Tensor): tf.Tensor {
  const perm = t.shape.map((_, i) => i);
  [perm[t.rank - 2], perm[t.rank - 1]] = [perm[t.rank - 1], perm[t.rank - 2]];
  return tf.transpose(t, perm);
}

/**
 * a·bᵀ (a [.., M, K], b [.., N, K]) is also (b·aᵀ)ᵀ: that moves M·K + M·N floats instead of N·K. For the Dense
 * layer's input gradient dy·Wᵀ (M = the batch, N·K = the 2048x256 weights) it saves transposing the weights every
 * step, and XNNPACK then packs the small aᵀ instead of the weights. Same products summed in the same order:
 * bit-identical results (tested).
 */
function swapPays(aShape: number[], bShape: number[]): boolean {
  const [m, k] = aShape.slice(-2), n = bShape[bShape.length - 2];
  return aShape.length === bShape.length && m * k + m * n < n * k;
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
      if (!transposeA && swapPays(a.shape, b.shape)) return tf.tidy(() => swapInner(tf.matMul(b, swapInner(a))));
      return tf.tidy(() => tf.matMul(transposeA ? swapInner(a) : a, transposeB ? swapInner(b) : b));
    },
  };
}

export function sumKernel(original: tf.KernelFunc): tf.KernelConfig {
  return leadingAxesReduction(tf.Sum, original, false);
}

/**
 * Mean over leading axes (batch norm's batch statistics: axes [0, 1, 2] of [N, H, W, C]) as the sum above divided
 * by the count; the stock kernel transposes the whole activation first.
 */
export function meanKernel(original: tf.KernelFunc): tf.KernelConfig {
  return leadingAxesReduction(tf.Mean, original, true);
}

function leadingAxesReduction(kernelName: string, original: tf.KernelFunc, divide: boolean): tf.KernelConfig {
  return {
    kernelName,
    backendName: "wasm",
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs; // MeanAttrs has the same fields
      const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
      const leading = axes.length > 0 && axes.length < x.shape.length && axes.every((a, i) => a === i);
      if (x.dtype !== "float32" || !leading) return original(args);
      const rows = tf.util.sizeFromShape(x.shape.slice(0, axes.length));
      const kept = x.shape.slice(axes.length), cols = tf.util.sizeFromShape(kept);
      const wasm = args.backend as WasmHeapBackend;
      const out = wasm.makeOutput(keepDims ? [...axes.map(() => 1), ...kept] : kept, "float32");
      const src = f32(wasm, x), acc = new Float64Array(cols);
      for (let r = 0, i = 0; r < rows; r++) for (let c = 0; c < cols; c++, i++) acc[c] += src[i];
      if (divide) for (let c = 0; c < cols; c++) acc[c] /= rows;
      f32(wasm, out).set(acc);
      return out;
    },
  };
}
