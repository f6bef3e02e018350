// Conv2D gradients built from one forward convolution each, because the wasm backend's forward Conv2D
// runs on XNNPACK (~30 GFLOP/s) while its Conv2DBackpropInput is a naive loop and Conv2DBackpropFilter is missing.
import * as tf from "@tensorflow/tfjs";

type Pad = tf.Conv2DBackpropFilterAttrs["pad"];
interface ConvGradAttrs {
  strides: [number, number] | number;
  pad: Pad;
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
}
type Shape4 = [number, number, number, number];

/** Pads (positive) or crops (negative) the two spatial axes h and h+1 of a rank-4 tensor, one amount per side. */
function padOrCrop(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number, h = 1): tf.Tensor4D {
  const amounts = [[top, bottom], [left, right]];
  const widths = [0, 1, 2, 3].map((a) => (a === h || a === h + 1 ? amounts[a - h] : [0, 0]));
  const padded = widths.some(([p, q]) => p > 0 || q > 0)
    ? tf.pad(x, widths.map(([p, q]) => [Math.max(p, 0), Math.max(q, 0)] as [number, number]))
    : x;
  if (widths.every(([p, q]) => p >= 0 && q >= 0)) return padded;
  const begin = widths.map(([p]) => Math.max(-p, 0));
  const size = padded.shape.map((d, a) => d - begin[a] - Math.max(-widths[a][1], 0));
  return tf.slice(padded, begin, size);
}

/** The forward convolution's geometry; checks that dy is that convolution's output shape. */
function convInfo(op: string, xShape: number[], filterShape: number[], dyShape: number[], attrs: ConvGradAttrs): tf.backend_util.Conv2DInfo {
  const shapes = `x [${xShape}], filter [${filterShape}], dy [${dyShape}]`;
  if (xShape.length !== 4 || filterShape.length !== 4 || dyShape.length !== 4) {
    throw new Error(`${op}: expected rank-4 x, filter and dy, got ${shapes}`);
  }
  const dataFormat = tf.backend_util.convertConv2DDataFormat(attrs.dataFormat);
  const info = tf.backend_util.computeConv2DInfo(
    xShape as Shape4, filterShape as Shape4, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, dataFormat);
  if (info.outShape.some((d, i) => d !== dyShape[i])) {
    throw new Error(`${op}: expected dy of shape [${info.outShape}] (the convolution's output), got ${shapes}`);
  }
  return info;
}

/**
 * dW[i,j,ci,co] = Σ_{n,y,x} xPadded[n, y·sh+i, x·sw+j, ci] · dy[n,y,x,co], computed one of two ways:
 * - many input channels: a forward convolution with batch and channels swapped (input x as [Cin, H, W, N],
 *   filter dy as [outH, outW, N, Cout], dilation = the stride); its output [Cin, kh, kw, Cout] is dW transposed.
 * - few input channels (the first layer): XNNPACK handles that convolution poorly (only Cin·kh·kw output
 *   pixels), so build the kh·kw shifted copies of x and do one matmul [kh·kw·Cin, N·outH·outW] × [.., Cout].
 */
export function conv2dBackpropFilter(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: Shape4, attrs: ConvGradAttrs): tf.Tensor4D {
  return tf.tidy(() => {
    const info = convInfo("conv2dBackpropFilter", x.shape, filterShape, dy.shape, attrs);
    const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, outHeight, outWidth, inHeight, inWidth } = info;
    const { inChannels: cin, outChannels: cout, batchSize: n } = info;
    const nchw = info.dataFormat === "channelsFirst";
    // Exactly (out-1)·stride + k rows/cols: the SAME padding, minus rows a VALID stride never reaches.
    const { top, left } = info.padInfo;
    const bottom = (outHeight - 1) * sh + kh - inHeight - top, right = (outWidth - 1) * sw + kw - inWidth - left;
    if (cin * kh * kw < 64) {
      const xT = padOrCrop(tf.transpose(x, nchw ? [1, 0, 2, 3] : [3, 0, 1, 2]) as tf.Tensor4D, top, bottom, left, right, 2);
      const shifts: tf.Tensor[] = [];
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          const shifted = sh === 1 && sw === 1
            ? tf.slice(xT, [0, 0, i, j], [cin, n, outHeight, outWidth])
            : tf.stridedSlice(xT, [0, 0, i, j], [cin, n, i + (outHeight - 1) * sh + 1, j + (outWidth - 1) * sw + 1], [1, 1, sh, sw]);
          shifts.push(tf.reshape(shifted, [cin, -1]));
        }
      }
      const dy2d = tf.reshape(nchw ? tf.transpose(dy, [0, 2, 3, 1]) : dy, [-1, cout]);
      return tf.reshape(tf.matMul(tf.concat(shifts, 0), dy2d), [kh, kw, cin, cout]) as tf.Tensor4D;
    }
    const xT = tf.transpose(x, nchw ? [1, 2, 3, 0] : [3, 1, 2, 0]) as tf.Tensor4D; // [Cin, H, W, N]
    const dyT = tf.transpose(dy, nchw ? [2, 3, 0, 1] : [1, 2, 0, 3]) as tf.Tensor4D; // [outH, outW, N, Cout]
    const dwT = Math.min(top, bottom, left, right) >= 0 // [Cin, kh, kw, Cout]; XNNPACK pads, only crops copy
      ? tf.conv2d(xT, dyT, 1, [[0, 0], [top, bottom], [left, right], [0, 0]], "NHWC", [sh, sw])
      : tf.conv2d(padOrCrop(xT, top, bottom, left, right), dyT, 1, "valid", "NHWC", [sh, sw]);
    return tf.transpose(dwT, [1, 2, 0, 3]) as tf.Tensor4D;
  });
}

/** Inserts stride-1 zeros between the rows and columns of dy (NHWC): the "transposed" side of a strided conv. */
function dilate(dy: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return dy;
  const [n, h, w, c] = dy.shape;
  const spread = tf.pad(tf.reshape(dy, [n, h, 1, w, 1, c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
  return tf.slice(tf.reshape(spread, [n, h * sh, w * sw, c]) as tf.Tensor4D, [0, 0, 0, 0], [n, (h - 1) * sh + 1, (w - 1) * sw + 1, c]);
}

/**
 * The filter rotated 180° spatially with its in/out channels swapped: out[i,j,co,ci] = f[kh-1-i, kw-1-j, ci, co].
 * One loop over its (small) data: the wasm backend's Reverse alone takes ~3 ms on the lecture's [3,3,64,128] filter.
 */
export function flipFilter(filter: tf.Tensor4D): tf.Tensor4D {
  const [kh, kw, cin, cout] = filter.shape;
  const src = filter.dataSync() as Float32Array, out = new Float32Array(src.length);
  for (let i = 0, o = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const base = ((kh - 1 - i) * kw + (kw - 1 - j)) * cin * cout;
      for (let co = 0; co < cout; co++) for (let ci = 0; ci < cin; ci++, o++) out[o] = src[base + ci * cout + co];
    }
  }
  return tf.tensor4d(out, [kh, kw, cout, cin]);
}

/**
 * dx = the forward convolution of dy (dilated by the stride, padded by k-1-pad) with the filter flipped
 * spatially and its in/out channels swapped.
 */
export function conv2dBackpropInput(dy: tf.Tensor4D, filter: tf.Tensor4D, inputShape: Shape4, attrs: ConvGradAttrs): tf.Tensor4D {
  return tf.tidy(() => {
    const info = convInfo("conv2dBackpropInput", inputShape, filter.shape, dy.shape, attrs);
    const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, inHeight, inWidth } = info;
    const nchw = info.dataFormat === "channelsFirst";
    const dyN = dilate(nchw ? (tf.transpose(dy, [0, 2, 3, 1]) as tf.Tensor4D) : dy, sh, sw);
    const flipped = flipFilter(filter);
    const { top, left } = info.padInfo;
    const [, dh, dw] = dyN.shape;
    const padT = kh - 1 - top, padL = kw - 1 - left;
    const padB = inHeight + kh - 1 - padT - dh, padR = inWidth + kw - 1 - padL - dw;
    // XNNPACK pads inside the convolution; only a crop (rare) needs a copy first.
    const dx = Math.min(padT, padB, padL, padR) >= 0
      ? tf.conv2d(dyN, flipped, 1, [[0, 0], [padT, padB], [padL, padR], [0, 0]])
      : tf.conv2d(padOrCrop(dyN, padT, padB, padL, padR), flipped, 1, "valid");
    return nchw ? (tf.transpose(dx, [0, 3, 1, 2]) as tf.Tensor4D) : dx;
  });
}

export const conv2dBackpropFilterKernel: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: "wasm",
  kernelFunc: ({ inputs, attrs }) => {
    const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    return conv2dBackpropFilter(inputs.x as tf.Tensor4D, inputs.dy as tf.Tensor4D, a.filterShape, a);
  },
};

export const conv2dBackpropInputKernel: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: "wasm",
  kernelFunc: ({ inputs, attrs }) => {
    const a = attrs as unknown as tf.Conv2DBackpropInputAttrs;
    return conv2dBackpropInput(inputs.dy as tf.Tensor4D, inputs.filter as tf.Tensor4D, a.inputShape, a);
  },
};
