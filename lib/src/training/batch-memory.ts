// How large a training batch can be. A step holds every example's layer outputs and their gradients at once:
// measured on the lecture CNN with the wasm backend, the heap grows by ~1.35 MB per example (batch 1000:
// 1.27 GB, 2000: 2.62 GB), about 6 times the 4-byte floats of all its layer outputs (58k per example).
// A batch of 1,000,000 therefore needs terabytes and ends, after minutes, in "memory access out of bounds".
import * as os from "node:os";
import * as tf from "@tensorflow/tfjs";

/** tfjs-backend-wasm's heap limit (emscripten's getHeapMax: 4 GiB - 64 KiB, wasm32), per thread. */
const WASM_HEAP_MAX = 4294901760;
/** Bytes a training step takes per example per float of layer output (measured, see above; rounded up). */
const STEP_BYTES_PER_OUTPUT_FLOAT = 24;
/** The wasm heap before any data (backend, kernels, model): 48 MB measured. */
const WASM_BASE_BYTES = 64 * 2 ** 20;

const size = (shape: (number | null)[]) => shape.slice(1).reduce<number>((a, b) => a * (b ?? 1), 1);

/** Estimated bytes one training step of `model` takes per example. */
function stepBytesPerExample(model: tf.LayersModel): number {
  let floats = 0;
  for (const layer of model.layers) {
    const shapes = layer.outputShape;
    floats += Array.isArray(shapes[0]) ? (shapes as tf.Shape[]).reduce((n, s) => n + size(s), 0) : size(shapes as tf.Shape);
  }
  return STEP_BYTES_PER_OUTPUT_FLOAT * floats;
}

export interface BatchSizeLimit {
  max: number;
  /** Why, for messages: "the training images" or the memory bound. */
  reason: string;
}

/**
 * The largest batch worth running: at most the training images, and no more than fits in memory. On wasm each
 * of the 1 + `workers` threads takes a shard in its own heap (at most 4 GiB), the main thread's also holding
 * `residentBytes` (the data sets); elsewhere the bound is the machine's memory.
 */
export function batchSizeLimit(model: tf.LayersModel, opts: { trainImages: number; residentBytes: number; workers?: number; backend?: string }): BatchSizeLimit {
  const perExample = stepBytesPerExample(model);
  const workers = opts.workers ?? 0;
  const threads = 1 + (Number.isInteger(workers) && workers > 0 ? workers : 0); // invalid counts are train()'s to refuse
  const wasm = (opts.backend ?? tf.getBackend()) === "wasm";
  const room = wasm ? WASM_HEAP_MAX - WASM_BASE_BYTES - opts.residentBytes : os.totalmem() - opts.residentBytes;
  const memoryMax = Math.max(0, Math.floor(room / perExample)) * (wasm ? threads : 1);
  const mb = (perExample / 2 ** 20).toFixed(1);
  if (opts.trainImages <= memoryMax) return { max: opts.trainImages, reason: "the number of training images" };
  return {
    max: memoryMax,
    reason: wasm
      ? `a training step takes ~${mb} MB per image and the wasm backend's memory is at most 4 GiB per thread (${threads} thread(s))`
      : `a training step takes ~${mb} MB per image and this machine has ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB of memory`,
  };
}
