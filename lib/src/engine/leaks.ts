// Which live tensors nothing holds: the notebook runner's leak check (tools/jupyter/execute.ts) calls this in the
// kernel with the notebook's top-level variables as roots. A tensor no variable reaches can never be disposed by
// the learner: it stays until the next setupBackend(), or for good when tf.keep() saved it.
import * as tf from "@tensorflow/tfjs";

export interface UnheldTensors {
  /** tf.memory().numTensors: every live tensor and variable. */
  live: number;
  /**
   * Tensor data buffers that no root reaches: memory the learner cannot free. Counted by buffer, not by tensor
   * object, since tensors may share one (tf.variable(tf.zeros(…)), reshape): a dropped view of held data costs nothing.
   */
  unheld: number;
  /** "float32 [10,10]" for each unheld tensor still tracked by the notebook scope (kept ones are not listed). */
  shapes: string[];
}

/** Values that belong to libraries, not to the notebook: loaded modules, the engine and its backends. */
function libraryValues(): Set<unknown> {
  const skip = new Set<unknown>([globalThis, tf.engine()]);
  for (const m of Object.values(require.cache)) if (m) skip.add(m.exports);
  return skip;
}

/** Every tensor reachable from `roots` through data properties, array items and Map/Set entries. */
function reachableTensors(roots: unknown[]): Set<tf.Tensor> {
  const skip = libraryValues();
  const found = new Set<tf.Tensor>();
  const seen = new Set<object>();
  const stack = [...roots];
  while (stack.length) {
    const v = stack.pop();
    if (v === null || typeof v !== "object" || seen.has(v) || skip.has(v)) continue;
    seen.add(v);
    if (v instanceof tf.Tensor) { found.add(v); continue; }
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof tf.KernelBackend || (v as { __esModule?: unknown }).__esModule) continue;
    if (Array.isArray(v)) { for (const x of v) if (x !== null && typeof x === "object") stack.push(x); continue; }
    if (v instanceof Map) { for (const [k, x] of v) stack.push(k, x); continue; }
    if (v instanceof Set) { for (const x of v) stack.push(x); continue; }
    // Own data properties only: getters (a layer's `output`) may throw or compute.
    for (const d of Object.values(Object.getOwnPropertyDescriptors(v))) if ("value" in d) stack.push(d.value);
  }
  return found;
}

/** Counts tensor data that none of `roots` reaches (a notebook's variables, in the runner's leak check). */
export function unheldTensors(roots: unknown[]): UnheldTensors {
  const held = new Set([...reachableTensors(roots)].filter((t) => !t.isDisposed).map((t) => t.dataId));
  const { numTensors, numDataBuffers } = tf.memory();
  // The notebook scope (freshTensorScope) tracks what cells made outside tf.tidy: name those.
  const scope = (tf.engine() as unknown as { state: { activeScope: { track: tf.Tensor[] } | null } }).state.activeScope;
  const lost = new Map<object, tf.Tensor>();
  for (const t of scope?.track ?? []) if (!t.isDisposed && !held.has(t.dataId)) lost.set(t.dataId, t);
  return { live: numTensors, unheld: numDataBuffers - held.size, shapes: [...lost.values()].map((t) => `${t.dtype} [${t.shape}]`) };
}
