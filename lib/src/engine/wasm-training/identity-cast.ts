// Identity and same-dtype Cast copy the whole tensor on wasm; the cpu backend shares the memory instead
// (reference counted). Backprop clones every tensor it saves and the Relu gradient casts float32 to
// float32, so sharing saves several full-size copies per training step.
import * as tf from "@tensorflow/tfjs";

interface RefCountingBackend { incRef(dataId: tf.DataId): void }

function share(x: tf.TensorInfo, backend: {}): tf.TensorInfo {
  (backend as RefCountingBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export function identityKernel(original: tf.KernelFunc): tf.KernelConfig {
  return {
    kernelName: tf.Identity,
    backendName: "wasm",
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      return x.dtype === "string" ? original(args) : share(x, args.backend);
    },
  };
}

export function castKernel(original: tf.KernelFunc): tf.KernelConfig {
  return {
    kernelName: tf.Cast,
    backendName: "wasm",
    kernelFunc: (args) => {
      const x = args.inputs.x as tf.TensorInfo;
      return x.dtype !== "string" && x.dtype === (args.attrs as unknown as tf.CastAttrs).dtype ? share(x, args.backend) : original(args);
    },
  };
}
