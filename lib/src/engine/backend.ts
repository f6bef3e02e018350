// Backend choice: native TensorFlow (tfjs-node) when it loads, else WebAssembly, else plain JS.
// tfjs-node downloads libtensorflow at install time, which fails offline, on new Node versions,
// on Apple Silicon and on Windows, so it is optional and every failure falls through to wasm.
import * as tf from "@tensorflow/tfjs";
import { availableParallelism } from "node:os";
import { installTensorflowKernels, restoreRemovedUtil } from "./tensorflow-kernels";
import { installWasmTrainingKernels } from "./wasm-training";

export const BACKENDS = ["tensorflow", "wasm", "cpu"] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface BackendInfo {
  /** The backend that runs. */
  name: BackendName;
  /** Why the preferred backends were not used (empty when the first choice loaded). */
  fallbacks: string[];
}

function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split("\n")[0];
}

/** Loads tfjs-node; returns why not when it cannot. A half-installed package (binary missing) lands here too. */
function loadTensorflow(): string | undefined {
  // TensorFlow reads its log level when the native library loads: later is too late. 2 drops its INFO and WARNING
  // lines (cpu_feature_guard's); a user's own setting stands.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= "2";
  restoreRemovedUtil(); // tfjs-node's dist calls util functions Node 23 removed
  try {
    require("@tensorflow/tfjs-node");
    return undefined;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "MODULE_NOT_FOUND" && /'@tensorflow\/tfjs-node'/.test(firstLine(e))) {
      return "tfjs-node not installed: optional, its install downloads native libtensorflow";
    }
    return `tfjs-node installed but its native library failed to load: ${firstLine(e)}`;
  }
}

function loadWasm(): string | undefined {
  try {
    require("@tensorflow/tfjs-backend-wasm");
    return undefined;
  } catch (e) {
    return `tfjs-backend-wasm failed to load: ${firstLine(e)}`;
  }
}

async function activate(name: BackendName): Promise<string | undefined> {
  const why = name === "tensorflow" ? loadTensorflow() : name === "wasm" ? loadWasm() : undefined;
  if (why) return why;
  try {
    if (!(await tf.setBackend(name))) return `${name} backend failed to initialise`;
  } catch (e) {
    return `${name} backend failed to initialise: ${firstLine(e)}`;
  }
  // Stock tfjs-backend-wasm cannot train a CNN: add the project's gradient kernels.
  if (name === "wasm") installWasmTrainingKernels();
  // tfjs-node lacks Transform (tf.image.transform, lab-11-5's augmentation).
  if (name === "tensorflow") installTensorflowKernels();
  return undefined;
}

/** The backend named by TFJS_BACKEND, or undefined; throws on an unknown name. */
function requestedBackend(env: NodeJS.ProcessEnv = process.env): BackendName | undefined {
  const v = env.TFJS_BACKEND?.trim();
  if (!v) return undefined;
  if (!(BACKENDS as readonly string[]).includes(v)) {
    throw new Error(`TFJS_BACKEND="${v}" is not a backend: expected one of ${BACKENDS.join(", ")}`);
  }
  return v as BackendName;
}

let notebookScopeOpen = false;

/**
 * Disposes every tensor and variable made since the last call, then opens a new tracking scope. setupBackend()
 * calls it, and it is every notebook's first cell: so "Run All" again does not grow tf.memory().numTensors.
 * Anything that must outlive a re-run (a lib cache) uses tf.keep().
 */
export function freshTensorScope(): void {
  if (notebookScopeOpen) {
    tf.engine().endScope();
    tf.disposeVariables();
  }
  tf.engine().startScope();
  notebookScopeOpen = true;
}

/**
 * Picks and activates the backend, prints one line saying which runs (and why it fell back),
 * and returns it. `TFJS_BACKEND=tensorflow|wasm|cpu` (or `force`) demands one and throws if it cannot load.
 */
export async function setupBackend(opts: { force?: BackendName; quiet?: boolean } = {}): Promise<BackendInfo> {
  // tfjs prints a long "install tfjs-node" banner on first use in Node; this line says it instead.
  tf.env().set("PROD", true);
  freshTensorScope();
  const forced = opts.force ?? requestedBackend();
  const candidates = forced ? [forced] : [...BACKENDS];
  const fallbacks: string[] = [];
  for (const name of candidates) {
    const why = await activate(name);
    if (!why) {
      const info: BackendInfo = { name, fallbacks };
      if (!opts.quiet) console.log(describeBackend(info));
      return info;
    }
    fallbacks.push(why);
  }
  throw new Error(
    forced
      ? `backend "${forced}" was requested (TFJS_BACKEND) but cannot load: ${fallbacks.join("; ")}`
      : `no TensorFlow.js backend could load: ${fallbacks.join("; ")}`,
  );
}

/**
 * Worker threads to split each batch over by default (`npm run train`, `npm run bench`): wasm computes on one thread,
 * so cores - 1 extra threads; TensorFlow runs every op on its own threads (a worker bought 1.02x), and cpu is too slow
 * for it to matter: 0.
 */
export function defaultWorkers(backend: BackendName, cores = availableParallelism()): number {
  return backend === "wasm" ? Math.max(0, cores - 1) : 0;
}

/** One line: the backend that runs and, when it fell back, why. */
function describeBackend(info: BackendInfo): string {
  const why = info.fallbacks.length ? ` (${info.fallbacks.join("; ")})` : "";
  return `backend: ${info.name}${why}`;
}
