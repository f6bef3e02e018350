// Tensor helpers in the lecture's words: tf.constant from nested arrays, a Keras-like
// constant_initializer for filter weights, splitting an output into its feature maps, and
// printing arrays the way numpy does so notebook output reads like the lecture's.
import * as tf from "@tensorflow/tfjs";

/** A number or arbitrarily nested arrays of numbers, like the lecture's `np.array([...])`. */
export type Nested = number | Nested[];

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

function flatten(v: Nested): number[] {
  return Array.isArray(v) ? v.flatMap(flatten) : [v];
}

/**
 * Shape of nested arrays; throws on ragged input, naming the first row whose length differs.
 * `what` names the argument in the message.
 */
export function shapeOf(values: Nested, what = "values"): number[] {
  const shape: number[] = [];
  for (let level: Nested = values; Array.isArray(level); level = level[0]) {
    shape.push(level.length);
    if (level.length === 0) break;
  }
  const walk = (v: Nested, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (typeof v !== "number") {
        throw new Error(`${what} is ragged: ${path || what} should be a number (shape ${fmtShape(shape)}), got an array`);
      }
      return;
    }
    if (!Array.isArray(v)) {
      throw new Error(`${what} is ragged: ${path || what} should be an array of length ${shape[depth]}, got ${JSON.stringify(v)}`);
    }
    if (v.length !== shape[depth]) {
      throw new Error(`${what} is ragged: ${path || what} has length ${v.length}, expected ${shape[depth]} like its siblings (shape ${fmtShape(shape)})`);
    }
    v.forEach((item, i) => walk(item, depth + 1, `${path}[${i}]`));
  };
  walk(values, 0, "");
  return shape;
}

/**
 * The lecture's `tf.constant(...)`: a float32 tensor from nested arrays. With `shape`, checks the
 * arrays have exactly that shape (say [1, 3, 3, 1] for a batch of one 3x3 single-channel image).
 */
export function constant(values: Nested, shape?: number[]): tf.Tensor {
  const actual = shapeOf(values);
  if (shape && fmtShape(shape) !== fmtShape(actual)) {
    throw new Error(`constant: expected shape ${fmtShape(shape)}, got ${fmtShape(actual)}`);
  }
  return tf.tensor(values as number[], actual, "float32");
}

type Initializer = ReturnType<typeof tf.initializers.zeros>;
// tfjs accepts only instances of its own Initializer class (which it does not export), so take it
// from a built-in initializer rather than importing a second copy of tfjs-layers.
const InitializerBase = Object.getPrototypeOf(tf.initializers.zeros().constructor) as new () => Initializer;

class ConstantKernel extends InitializerBase {
  static className = "ConstantKernel";
  constructor(
    private readonly values: Float32Array,
    private readonly weightShape: number[],
  ) {
    super();
  }
  apply(shape: number[], dtype?: tf.DataType): tf.Tensor {
    if (fmtShape(shape) !== fmtShape(this.weightShape)) {
      throw new Error(
        `constantInitializer: the layer's kernel has shape ${fmtShape(shape)} ` +
          `([kernelHeight, kernelWidth, inChannels, filters]) but the weight has shape ${fmtShape(this.weightShape)}`,
      );
    }
    return tf.tensor(this.values, shape, dtype ?? "float32");
  }
  getConfig(): tf.serialization.ConfigDict {
    return { shape: this.weightShape, values: Array.from(this.values) };
  }
}

/**
 * Keras' `tf.constant_initializer(weight)`: a kernel initializer holding fixed filter weights.
 * `weight` has shape [kernelHeight, kernelWidth, inChannels, filters]; the layer checks it
 * matches its kernel when it builds, and throws a clear error otherwise.
 */
export function constantInitializer(weight: Nested | tf.Tensor): Initializer {
  const shape = weight instanceof tf.Tensor ? weight.shape : shapeOf(weight, "weight");
  const values = weight instanceof tf.Tensor ? (weight.dataSync() as Float32Array) : Float32Array.from(flatten(weight));
  return new ConstantKernel(Float32Array.from(values), shape);
}

/**
 * Splits a batch-1 NHWC output [1, height, width, channels] into its feature maps, one
 * height x width array per channel: the lecture's `np.swapaxes(conv2d.numpy(), 0, 3)`.
 */
export function featureMaps(x: tf.Tensor): number[][][] {
  if (x.rank !== 4 || x.shape[0] !== 1) {
    throw new Error(`featureMaps: expected a batch-1 output of shape [1, height, width, channels], got ${fmtShape(x.shape)}`);
  }
  // [1, h, w, c] -> [c, h, w, 1] -> [c, h, w]
  return tf.tidy(() => tf.transpose(x, [3, 1, 2, 0]).squeeze([3]).arraySync() as number[][][]);
}

function asNested(x: tf.Tensor | Nested): Nested {
  if (x instanceof tf.Tensor) return x.arraySync() as Nested;
  shapeOf(x);
  return x;
}

/** One number the way numpy prints a float32: `12.`, `-0.5`, `0.12345679`. */
function numpyFloat(v: number, precision: number): string {
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  const s = v.toFixed(precision).replace(/0+$/, "");
  return s === "-0." ? "-0." : s;
}

/**
 * numpy's `print(array)` for float arrays: aligned columns, `12.` for whole numbers, rows on
 * their own lines, blank lines between blocks of rank 3 and up. `precision` digits at most
 * after the point (numpy's default is 8). Fixed notation only: numpy switches to e-notation
 * when values span more than 1e3 or go below 1e-4; this does not.
 */
export function formatArray(x: tf.Tensor | Nested, precision = 8): string {
  const values = asNested(x);
  if (typeof values === "number") return numpyFloat(values, precision);
  const flat = flatten(values);
  if (flat.length === 0) return "[]";
  const strs = flat.map((v) => numpyFloat(v, precision));
  // numpy pads the integer part on the left and the fraction on the right so the points line up.
  const intWidth = Math.max(...strs.map((s) => (s.includes(".") ? s.indexOf(".") : s.length)));
  const fracWidth = Math.max(...strs.map((s) => (s.includes(".") ? s.length - s.indexOf(".") : 0)));
  const pad = (s: string): string => {
    const dot = s.includes(".") ? s.indexOf(".") : s.length;
    return " ".repeat(intWidth - dot) + s + " ".repeat(fracWidth - (s.length - dot));
  };
  const ndim = shapeOf(values).length;
  let k = 0;
  const render = (v: Nested, depth: number): string => {
    if (!Array.isArray(v)) return pad(strs[k++]);
    const parts = v.map((item) => render(item, depth + 1));
    if (depth === ndim - 1) return `[${parts.join(" ")}]`;
    const sep = "\n".repeat(ndim - depth - 1) + " ".repeat(depth + 1);
    return `[${parts.join(sep)}]`;
  };
  return render(values, 0);
}

/** Prints like numpy's `print(array)` (see formatArray). */
export function printArray(x: tf.Tensor | Nested, precision = 8): void {
  console.log(formatArray(x, precision));
}
