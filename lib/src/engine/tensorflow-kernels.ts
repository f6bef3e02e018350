// What tfjs-node 4.22 lacks for this project, provided before and after it loads:
// - Node 23 removed util.isNullOrUndefined and util.isArray, which tfjs-node's dist calls when it builds op
//   attributes (the first Slice fails on Node 24/26): put back, only where missing, before tfjs-node loads.
// - No `Transform` kernel (tf.image.transform, lab-11-5's augmentation): TensorFlow's own op
//   ImageProjectiveTransformV3 computes it, the same bilinear/nearest sampling and fill modes as tfjs-core's.
import * as tf from "@tensorflow/tfjs";
// The module object itself (an `import * as` namespace would be a copy, and tfjs-node would not see the additions).
import util = require("node:util");

/** Restores util.isNullOrUndefined / util.isArray where this Node has removed them (23+). Returns what it added. */
export function restoreRemovedUtil(target: Record<string, unknown> = util as unknown as Record<string, unknown>): string[] {
  const added: string[] = [];
  if (typeof target.isNullOrUndefined !== "function") {
    target.isNullOrUndefined = (v: unknown) => v === null || v === undefined;
    added.push("isNullOrUndefined");
  }
  if (typeof target.isArray !== "function") {
    target.isArray = Array.isArray;
    added.push("isArray");
  }
  return added;
}

/** The part of tfjs-node's NodeJSKernelBackend a kernel uses (structural: tfjs-node is optional, not a type dep). */
interface NodeBackend {
  binding: Record<string, number>;
  executeSingleOutput(name: string, attrs: { name: string; type: number; value: unknown }[], inputs: tf.TensorInfo[]): tf.Tensor;
}

function tfDtype(backend: NodeBackend, dtype: tf.DataType): number {
  const code = { float32: backend.binding.TF_FLOAT, int32: backend.binding.TF_INT32 }[dtype as "float32" | "int32"];
  if (code === undefined) throw new Error(`tf.image.transform on tensorflow: images of dtype ${dtype} are not supported (float32 or int32)`);
  return code;
}

const transformConfig: tf.KernelConfig = {
  kernelName: tf.Transform,
  backendName: "tensorflow",
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { image, transforms } = inputs as { image: tf.TensorInfo; transforms: tf.TensorInfo };
    const { interpolation, fillMode, fillValue, outputShape } = attrs as unknown as tf.TransformAttrs;
    const nb = backend as unknown as NodeBackend;
    const [, height, width] = image.shape;
    const shape = tf.tensor1d(outputShape ?? [height, width], "int32");
    const fill = tf.scalar(fillValue, "float32");
    try {
      return nb.executeSingleOutput("ImageProjectiveTransformV3", [
        { name: "dtype", type: nb.binding.TF_ATTR_TYPE, value: tfDtype(nb, image.dtype) },
        { name: "interpolation", type: nb.binding.TF_ATTR_STRING, value: interpolation.toUpperCase() },
        { name: "fill_mode", type: nb.binding.TF_ATTR_STRING, value: fillMode.toUpperCase() },
      ], [image, transforms, shape, fill]) as unknown as tf.TensorInfo;
    } finally {
      shape.dispose();
      fill.dispose();
    }
  },
};

/** Registers the kernels above for the tensorflow backend (once). */
export function installTensorflowKernels(): void {
  if (!tf.getKernel(tf.Transform, "tensorflow")) tf.registerKernel(transformConfig);
}
