// Padding VALID / SAME and the output-size rule, as TensorFlow (and so Keras and TF.js) defines them.

const PADDINGS = ["VALID", "SAME"] as const;
export type Padding = (typeof PADDINGS)[number];

/**
 * The lecture writes padding="VALID"/"SAME" (Keras accepts any case); tf.layers wants
 * "valid"/"same". Returns the TF.js spelling, or throws naming what was expected.
 */
export function paddingMode(padding: string): "valid" | "same" {
  const upper = String(padding).toUpperCase();
  if (!(PADDINGS as readonly string[]).includes(upper)) {
    throw new Error(`unknown padding "${padding}": expected "VALID" or "SAME" (any case)`);
  }
  return upper === "VALID" ? "valid" : "same";
}

function checkPositive(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
}

/**
 * Output size along one axis. VALID: the filter stays inside the input, ceil((n - k + 1) / s)
 * (0 when the filter is larger than the input). SAME: ceil(n / s), whatever the filter size.
 */
export function outputSize(inputSize: number, kernelSize: number, stride: number, padding: string): number {
  checkPositive("inputSize", inputSize);
  checkPositive("kernelSize", kernelSize);
  checkPositive("stride", stride);
  return paddingMode(padding) === "valid"
    ? Math.max(0, Math.ceil((inputSize - kernelSize + 1) / stride))
    : Math.ceil(inputSize / stride);
}

/**
 * Zeros SAME adds along one axis: enough for ceil(n / s) outputs, split with the odd one
 * after (bottom / right), which is why the lecture's SAME output ends in smaller numbers.
 */
export function samePadding(inputSize: number, kernelSize: number, stride: number): { before: number; after: number } {
  const out = outputSize(inputSize, kernelSize, stride, "SAME");
  const total = Math.max((out - 1) * stride + kernelSize - inputSize, 0);
  return { before: Math.floor(total / 2), after: total - Math.floor(total / 2) };
}
