// lab-11-5's data augmentation, on the fly. The lecture precomputes 5 × 60,000 images (each original, then 4 copies
// rotated by an integer angle in [−15, 14]° about the centre and shifted by integer rows and cols in [−2, 1]); stored
// as float32 that is 0.94 GB. Here image j of the augmented set is computed when a batch needs it: original
// floor(j / 5), copy j % 5, with parameters hashed from (seed, original, copy), so any batch of any epoch is
// reproducible without state. Copy 0 is the original unchanged.
import * as tf from "@tensorflow/tfjs";
import { batchOf, type LabelledImages } from "./step";

/** Each original followed by this many images: itself and 4 augmented copies. */
export const AUGMENT_COPIES = 5;

export interface AugmentParams {
  /** Index of the original image. */
  original: number;
  /** Rotation in degrees, counter-clockwise as displayed (rows downward), about the image centre: ndimage.rotate's. */
  angle: number;
  /** Shift in rows (down) and columns (right) after the rotation: ndimage.shift(img, [dy, dx]). */
  dy: number;
  dx: number;
}

// A 32-bit integer mixer (the "lowbias32" finaliser): consecutive inputs give unrelated outputs.
function mix(h: number): number {
  h ^= h >>> 16; h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15; h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Integer in [lo, hi] drawn from (seed, original, copy, which draw). The modulo's bias is below 1e-8. */
function draw(seed: number, original: number, copy: number, which: number, lo: number, hi: number): number {
  const h = mix(mix(mix(mix(seed ^ 0x9e3779b9) ^ original) ^ copy) ^ which);
  return lo + (h % (hi - lo + 1));
}

function checkIndex(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${name} must be a non-negative integer, got ${v}`);
}

/** The parameters of image j of the augmented set (np.random.randint(-15, 15) and randint(-2, 2): upper bounds excluded). */
export function augmentParams(seed: number, j: number): AugmentParams {
  if (!Number.isInteger(seed)) throw new Error(`augmentation seed must be an integer, got ${seed}`);
  checkIndex("augmented index", j);
  const original = Math.floor(j / AUGMENT_COPIES);
  const copy = j % AUGMENT_COPIES;
  if (copy === 0) return { original, angle: 0, dy: 0, dx: 0 };
  return { original, angle: draw(seed, original, copy, 0, -15, 14), dy: draw(seed, original, copy, 1, -2, 1), dx: draw(seed, original, copy, 2, -2, 1) };
}

// @save
// cos and sin of degrees, exact at multiples of 90° (as scipy's cosdg/sindg), so 0° and 90° move whole pixels.
function cosSinDeg(angle: number): [number, number] {
  const q = ((angle % 360) + 360) % 360;
  if (q % 90 === 0) return [[1, 0], [0, 1], [-1, 0], [0, -1]][q / 90] as [number, number];
  const r = (angle * Math.PI) / 180;
  return [Math.cos(r), Math.sin(r)];
}

// @save
// The projective matrix [a0 a1 a2 b0 b1 b2 c0 c1] of tf.image.transform, which maps each OUTPUT pixel (x = col,
// y = row) to the input point it reads. Writing the two steps backwards from the output (centre c = (size − 1) / 2,
// as ndimage): shift reads rot[r − dy, col − dx]; ndimage.rotate reads, relative to the centre,
// input[cos·r + sin·col, −sin·r + cos·col] (its rotation matrix [[cos, sin], [−sin, cos]] on (row, col)).
export function transformMatrix(p: Pick<AugmentParams, "angle" | "dy" | "dx">, height: number, width: number): number[] {
  const [c, s] = cosSinDeg(p.angle);
  const [cy, cx] = [(height - 1) / 2, (width - 1) / 2];
  const [y0, x0] = [p.dy + cy, p.dx + cx]; // where the rotated image's centre lands
  return [c, -s, cx - c * x0 + s * y0, s, c, cy - s * x0 - c * y0, 0, 0];
}

// @save
// Rotates and shifts every image of a [b, h, w, c] batch by its params, in one tf.image.transform call: bilinear,
// filled with 0. The lecture fills with np.median(x), which is 0 for every one of the 60,000 MNIST training digits
// (test/augment.test.ts counts them): most of a digit's 784 pixels are background. Two differences from the lecture:
// its ndimage interpolates with cubic splines (on 30 digits, pixels in 0..1 differ by up to 0.22, 0.013 on average;
// with ndimage's order=1 they agree to 1e-4), and it rotates and shifts in two passes, which would lose content rotated
// out of the frame that the shift brings back: none for MNIST, whose digits fit a central 20 × 20 box.
export function augmentImages(images: tf.Tensor4D, params: readonly Pick<AugmentParams, "angle" | "dy" | "dx">[]): tf.Tensor4D {
  const [b, h, w] = images.shape;
  if (params.length !== b) throw new Error(`augmentImages: ${params.length} params for a batch of ${b} images: expected one per image`);
  return tf.tidy(() => {
    const matrices = tf.tensor2d(params.map((p) => transformMatrix(p, h, w)), [b, 8], "float32");
    return tf.image.transform(images, matrices, "bilinear", "constant", 0);
  });
}

/** The params of `indices` of the augmented set of n originals; throws on an index past its 5n images. */
function paramsOf(n: number, indices: ArrayLike<number>, seed: number): AugmentParams[] {
  return Array.from(indices, (j) => {
    const p = augmentParams(seed, j);
    if (p.original >= n) throw new Error(`augmented index ${j} out of range: expected below ${AUGMENT_COPIES} × ${n} = ${AUGMENT_COPIES * n}`);
    return p;
  });
}

/** The images at `indices` of the augmented set (5 × images.shape[0] long): the originals gathered, then transformed. */
export function augmentBatch(images: tf.Tensor4D, indices: ArrayLike<number>, seed: number): tf.Tensor4D {
  const params = paramsOf(images.shape[0], indices, seed);
  return tf.tidy(() => augmentImages(tf.gather(images, tf.tensor1d(params.map((p) => p.original), "int32")), params));
}

/** batchOf for the augmented set: [images, one-hot labels] at `indices`, each label its original's. */
export function augmentedBatchOf(data: LabelledImages, indices: ArrayLike<number>, seed: number): [tf.Tensor4D, tf.Tensor2D] {
  const params = paramsOf(data.images.shape[0], indices, seed);
  const [originals, y] = batchOf(data, Int32Array.from(params, (p) => p.original));
  const x = augmentImages(originals, params);
  originals.dispose();
  return [x, y];
}
