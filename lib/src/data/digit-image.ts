// A user's own digit photo or drawing → a 28x28 MNIST-style input, the way MNIST itself was made:
// white ink on black, the digit scaled so its longer side is 20 px (aspect kept), then placed so its
// centre of mass sits at the centre of the 28x28 field.

const MIN_SIDE = 8;
export const MAX_SIDE = 8192;

export interface DigitInput {
  /** 784 values 0..1, row-major 28x28, ink = 1 (like the /255 training images). */
  pixels: Float32Array;
  /** True when the image had a light background (dark ink) and was inverted. */
  inverted: boolean;
  /** The ink's bounding box in the original image. */
  box: { x: number; y: number; width: number; height: number };
}

/** RGBA bytes (e.g. canvas getImageData) → gray 0..255; transparent pixels count as white paper. */
export function rgbaToGray(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): Float32Array {
  if (rgba.length !== width * height * 4) {
    throw new Error(`expected ${width * height * 4} RGBA bytes for ${width}x${height}, got ${rgba.length}`);
  }
  const gray = new Float32Array(width * height);
  for (let i = 0; i < gray.length; i++) {
    const a = rgba[4 * i + 3] / 255;
    const lum = 0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2];
    gray[i] = a * lum + (1 - a) * 255;
  }
  return gray;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Area-average resampling (a downscaled digit keeps thin strokes instead of aliasing them away). */
function resize(src: Float32Array, sw: number, sh: number, dw: number, dh: number): Float32Array {
  const out = new Float32Array(dw * dh);
  for (let y = 0; y < dh; y++) {
    const y0 = (y * sh) / dh;
    const y1 = ((y + 1) * sh) / dh;
    for (let x = 0; x < dw; x++) {
      const x0 = (x * sw) / dw;
      const x1 = ((x + 1) * sw) / dw;
      let sum = 0;
      let area = 0;
      for (let sy = Math.floor(y0); sy < Math.min(sh, Math.ceil(y1)); sy++) {
        const wy = Math.min(y1, sy + 1) - Math.max(y0, sy);
        for (let sx = Math.floor(x0); sx < Math.min(sw, Math.ceil(x1)); sx++) {
          const w = wy * (Math.min(x1, sx + 1) - Math.max(x0, sx));
          sum += w * src[sy * sw + sx];
          area += w;
        }
      }
      out[y * dw + x] = area > 0 ? sum / area : 0;
    }
  }
  return out;
}

/**
 * Gray pixels (0..255, any size, light or dark background) → MNIST-style 28x28 input.
 * The background is the median of the border pixels; a light one means dark ink, which is inverted.
 */
export function preprocessDigit(gray: ArrayLike<number>, width: number, height: number): DigitInput {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < MIN_SIDE || height < MIN_SIDE) {
    throw new Error(`image is ${width}x${height} pixels: expected at least ${MIN_SIDE}x${MIN_SIDE} to hold a digit`);
  }
  if (width > MAX_SIDE || height > MAX_SIDE) {
    throw new Error(`image is ${width}x${height} pixels: expected at most ${MAX_SIDE}x${MAX_SIDE}`);
  }
  if (gray.length !== width * height) throw new Error(`expected ${width * height} gray values for ${width}x${height}, got ${gray.length}`);
  const border: number[] = [];
  for (let x = 0; x < width; x++) border.push(gray[x], gray[(height - 1) * width + x]);
  for (let y = 0; y < height; y++) border.push(gray[y * width], gray[y * width + width - 1]);
  const inverted = median(border) > 127;
  // Ink strength 0..1 above the background level.
  const bg = inverted ? 255 - median(border) : median(border);
  const ink = new Float32Array(width * height);
  let max = 0;
  for (let i = 0; i < ink.length; i++) {
    const v = (inverted ? 255 - gray[i] : gray[i]) - bg;
    ink[i] = v > 0 ? v : 0;
    if (ink[i] > max) max = ink[i];
  }
  if (max < 32) throw new Error("no digit found: the image is (almost) one uniform colour");
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      ink[i] /= max;
      // Faint specks (paper grain, JPEG noise) do not stretch the box.
      if (ink[i] > 0.25) {
        x0 = Math.min(x0, x); x1 = Math.max(x1, x);
        y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      }
    }
  }
  const bw = x1 - x0 + 1;
  const bh = y1 - y0 + 1;
  const crop = new Float32Array(bw * bh);
  for (let y = 0; y < bh; y++) crop.set(ink.subarray((y0 + y) * width + x0, (y0 + y) * width + x0 + bw), y * bw);
  const scale = 20 / Math.max(bw, bh);
  const dw = Math.max(1, Math.round(bw * scale));
  const dh = Math.max(1, Math.round(bh * scale));
  const small = resize(crop, bw, bh, dw, dh);
  // Centre of mass of the 20-px digit → pixel index (14, 14) of the 28x28 field, where MNIST's own digits have it.
  let m = 0, cx = 0, cy = 0;
  for (let y = 0; y < dh; y++) for (let x = 0; x < dw; x++) {
    const v = small[y * dw + x];
    m += v; cx += v * x; cy += v * y;
  }
  const ox = Math.round(14 - cx / m);
  const oy = Math.round(14 - cy / m);
  const pixels = new Float32Array(28 * 28);
  for (let y = 0; y < dh; y++) for (let x = 0; x < dw; x++) {
    const tx = x + ox;
    const ty = y + oy;
    if (tx >= 0 && tx < 28 && ty >= 0 && ty < 28) pixels[ty * 28 + tx] = Math.min(1, small[y * dw + x]);
  }
  return { pixels, inverted, box: { x: x0, y: y0, width: bw, height: bh } };
}
