// MaxPoolGrad as one pass over the windows: each window sends its dy to the FIRST maximum in row-major
// window order (TF's rule on ties; padded cells never win). The stock wasm kernel is ~10x slower.
import * as tf from "@tensorflow/tfjs";
import { f32, WasmHeapBackend } from "./heap";

export const maxPoolGradKernel: tf.KernelConfig = {
  kernelName: tf.MaxPoolGrad,
  backendName: "wasm",
  kernelFunc: ({ inputs, attrs, backend }) => {
    const dy = inputs.dy as tf.TensorInfo, input = inputs.input as tf.TensorInfo;
    const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolGradAttrs;
    const info = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    const wasm = backend as WasmHeapBackend;
    const out = wasm.makeOutput(input.shape, "float32");
    const dx = f32(wasm, out), x = f32(wasm, input), g = f32(wasm, dy);
    dx.fill(0);
    const { batchSize, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } = info;
    const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
    const { top, left } = info.padInfo;
    // Per window, the running max and its flat input index for every channel (channels are contiguous).
    const best = new Float32Array(C), where = new Int32Array(C);
    let gi = 0;
    for (let b = 0; b < batchSize; b++) {
      for (let oy = 0; oy < OH; oy++) {
        const y0 = oy * sh - top, yStart = Math.max(y0, 0), yEnd = Math.min(y0 + fh, H);
        for (let ox = 0; ox < OW; ox++, gi += C) {
          const x0 = ox * sw - left, xStart = Math.max(x0, 0), xEnd = Math.min(x0 + fw, W);
          if (yEnd - yStart === 2 && xEnd - xStart === 2) {
            // Whole 2x2 window (the lecture's pooling): unrolled, ~1.5x faster than the general loop below.
            const r0 = ((b * H + yStart) * W + xStart) * C, r1 = r0 + W * C;
            for (let c = 0; c < C; c++) {
              let i = r0 + c, m = x[i], w = i;
              if (!(m > -Infinity)) { m = -Infinity; w = -1; }
              let v = x[(i = r0 + C + c)];
              if (v > m) { m = v; w = i; }
              v = x[(i = r1 + c)];
              if (v > m) { m = v; w = i; }
              v = x[(i = r1 + C + c)];
              if (v > m) { m = v; w = i; }
              if (w >= 0) dx[w] += g[gi + c];
            }
            continue;
          }
          // TF starts from -Infinity with position "none", so a -Infinity (or NaN) cell never wins.
          best.fill(-Infinity);
          where.fill(-1);
          for (let y = yStart; y < yEnd; y++) {
            for (let base = ((b * H + y) * W + xStart) * C, end = base + (xEnd - xStart) * C; base < end; base += C) {
              for (let c = 0; c < C; c++) {
                const v = x[base + c];
                if (v > best[c]) { best[c] = v; where[c] = base + c; } // strict >: the first max wins ties
              }
            }
          }
          for (let c = 0; c < C; c++) {
            const w = where[c];
            if (w >= 0) dx[w] += g[gi + c];
          }
        }
      }
    }
    return out;
  },
};
