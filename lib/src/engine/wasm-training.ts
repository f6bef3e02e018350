// Training on the wasm backend: kernels that stock tfjs-backend-wasm 4.22 lacks (Conv2DBackpropFilter)
// or runs slowly (Conv2DBackpropInput, MaxPoolGrad, transposed BatchMatMul, bias-gradient Sum, copying
// Identity/Cast), registered whenever setupBackend() picks wasm, and a batch-norm gradient without Tile. Same results as TF's kernels (tested
// against the cpu backend); the lecture CNN trains at ~530 images/s on one core instead of not at all.
import * as tf from "@tensorflow/tfjs";
import { conv2dBackpropFilterKernel, conv2dBackpropInputKernel } from "./wasm-training/conv2d-grads";
import { maxPoolGradKernel } from "./wasm-training/max-pool-grad";
import { batchMatMulKernel, meanKernel, sumKernel } from "./wasm-training/matmul-sum";
import { castKernel, identityKernel } from "./wasm-training/identity-cast";
import { installBatchNormGrad } from "./wasm-training/batch-norm-grad";

export { conv2dBackpropFilter, conv2dBackpropInput, flipFilter } from "./wasm-training/conv2d-grads";
export { batchNormGrad, installBatchNormGrad } from "./wasm-training/batch-norm-grad";

const KERNELS: tf.KernelConfig[] = [conv2dBackpropFilterKernel, conv2dBackpropInputKernel, maxPoolGradKernel];
/** Wrappers around stock kernels: built on first install from the originals they fall back to. */
const WRAPPERS: [string, (original: tf.KernelFunc) => tf.KernelConfig][] = [
  [tf.BatchMatMul, batchMatMulKernel],
  [tf.Sum, sumKernel],
  [tf.Mean, meanKernel],
  [tf.Identity, identityKernel],
  [tf.Cast, castKernel],
];
let wrapped: tf.KernelConfig[] | undefined;

/**
 * Registers the fast training kernels for the wasm backend (idempotent). setupBackend() calls it when wasm
 * is chosen; call it yourself only after a bare `tf.setBackend("wasm")`.
 */
export function installWasmTrainingKernels(): void {
  installBatchNormGrad();
  wrapped ??= WRAPPERS.map(([name, wrap]) => {
    const stock = tf.getKernel(name, "wasm");
    if (!stock) throw new Error(`wasm kernel ${name} is not registered: load @tensorflow/tfjs-backend-wasm first`);
    return wrap(stock.kernelFunc);
  });
  for (const k of [...KERNELS, ...wrapped]) {
    if (tf.getKernel(k.kernelName, "wasm")?.kernelFunc === k.kernelFunc) continue;
    if (tf.getKernel(k.kernelName, "wasm")) tf.unregisterKernel(k.kernelName, "wasm");
    tf.registerKernel(k);
  }
}
