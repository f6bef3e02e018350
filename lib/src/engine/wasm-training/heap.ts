// Direct access to tensors living in the wasm backend's heap, for kernels written as plain loops.
import * as tf from "@tensorflow/tfjs";

/** The part of tfjs-backend-wasm's BackendWasm these kernels use. */
export interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** A float32 view of a tensor's memory. Take views after every makeOutput: the heap may grow and move. */
export function f32(backend: WasmHeapBackend, t: tf.TensorInfo): Float32Array {
  if (t.dtype !== "float32") throw new Error(`expected a float32 tensor, got ${t.dtype} (shape [${t.shape}])`);
  return backend.typedArrayFromHeap(t) as Float32Array;
}
