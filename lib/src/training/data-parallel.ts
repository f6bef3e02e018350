// Data-parallel training over worker threads: the wasm backend runs on one core, so a batch is split
// into shards, each thread computes the gradient of its shard's mean loss, and the main thread combines
// them weighted by shard size (= the gradient of the whole batch's mean loss) and applies ONE optimizer
// step. A step therefore equals a single-threaded step on the same batch (dropout masks aside). Every thread
// computes its shard with step.ts's grad(), the same function a single-threaded trainStep() calls.
import * as os from "node:os";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { grad, trainableVariables, type Gradients } from "../lecture/step";

/** Messages between the trainer and its replicas (data-parallel-worker.ts). */
export interface ReplicaInit { kind: "init"; backend: string; topology: string }
export interface ShardRequest {
  kind: "step"; step: number; replica: number;
  /** Current weights, in model.getWeights() order. */
  weights: Float32Array[];
  x: Float32Array; xShape: number[]; y: Float32Array; yShape: number[];
}
export interface ShardReply {
  loss: number; correct: number; grads: Float32Array[];
  /** Milliseconds the replica spent on the request (weights in, gradient, read out). */
  ms: number;
}

/**
 * Where a data-parallel step's time went, in milliseconds. `npm run bench` reports the medians: the shards are
 * the part that parallelizes, the rest is what splitting a batch costs.
 */
export interface StepTiming {
  /** Each thread's shard, main thread first: the gradient of its part of the batch (workers: with the weights in). */
  shards: number[];
  /** Slicing the batch and sending the shards. */
  send: number;
  /** The main thread waiting for the workers after its own shard. */
  wait: number;
  /** Combining the gradients and the optimizer update (the workers idle meanwhile). */
  update: number;
  total: number;
}

/**
 * A seeded Dropout layer draws the same mask on every call; this gives it seed + a per-(step, replica)
 * offset instead, so masks differ between steps and replicas and a run stays reproducible.
 */
export function dropoutReseeder(model: Pick<tf.LayersModel, "layers">): (step: number, replica: number) => void {
  const layers = model.layers.filter((l) => l.getClassName() === "Dropout") as unknown as { seed?: number }[];
  const base = layers.map((l) => l.seed);
  return (step, replica) => layers.forEach((l, i) => {
    if (base[i] !== undefined) l.seed = base[i]! + 1_000_003 * replica + step;
  });
}

/**
 * Refuses a worker count that cannot help, before any thread starts: more threads than cores only compete for
 * them (and each costs a heap), and each of the 1 + workers threads takes at least one image of every batch, the
 * epoch's last, smaller one included (`images` per epoch; default: whole batches only).
 */
export function checkWorkers(workers: number, batchSize: number, images = batchSize, cores = os.availableParallelism()): void {
  if (!Number.isInteger(workers) || workers < 0) throw new Error(`workers must be a whole number >= 0, got ${workers}`);
  if (workers > cores) throw new Error(`workers must be at most ${cores} (the CPU cores; more threads only compete for them), got ${workers}`);
  const smallest = Math.min(batchSize, images % batchSize || batchSize);
  if (workers + 1 > smallest) {
    const last = smallest < batchSize ? ` (the epoch's last batch: ${images} images in batches of ${batchSize})` : "";
    throw new Error(`workers must be at most ${smallest - 1} for batches of ${smallest} image(s)${last} (each of the 1 + workers threads takes at least one image of every batch), got ${workers}`);
  }
}

function spawn(): Worker {
  const ts = __filename.endsWith(".ts"); // running from source (tsx): the worker needs the loader too
  return new Worker(path.join(__dirname, `data-parallel-worker.${ts ? "ts" : "js"}`), ts ? { execArgv: ["--require", "tsx/cjs"] } : {});
}

function call<T>(worker: Worker, msg: ReplicaInit | ShardRequest, transfer: ArrayBuffer[] = []): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (r: { ok: boolean; error?: string } & T) => {
      worker.off("error", onError);
      if (r.ok) resolve(r); else reject(new Error(`training worker failed: ${r.error}`));
    };
    const onError = (e: Error) => { worker.off("message", onMessage); reject(e); };
    worker.once("message", onMessage);
    worker.once("error", onError);
    worker.postMessage(msg, transfer);
  });
}

export interface DataParallelOptions {
  /** Extra worker threads besides the main thread (default: CPU cores - 1, at least 1). */
  workers?: number;
}

/**
 * Trains `model` with `optimizer` on the lecture's loss (softmax cross-entropy on logits, one-hot labels),
 * each batch split across the main thread and `workers` threads. Build it with `await DataParallelTrainer.create(...)`,
 * call `await trainer.step(x, y)` per batch, `await trainer.dispose()` at the end. On 2 cores the lecture CNN
 * trains ~830-880 images/s this way, against ~530 single-threaded (npm run bench, 2026-11-29; lastTiming says where
 * a step's time went).
 */
export class DataParallelTrainer {
  private stepCount = 0;
  /** The last step's timing. */
  lastTiming?: StepTiming;
  private readonly reseed: (step: number, replica: number) => void;
  private constructor(readonly model: tf.LayersModel, readonly optimizer: tf.Optimizer, private readonly workers: Worker[]) {
    this.reseed = dropoutReseeder(model);
  }

  static async create(model: tf.LayersModel, optimizer: tf.Optimizer, opts: DataParallelOptions = {}): Promise<DataParallelTrainer> {
    const n = opts.workers ?? Math.max(1, os.availableParallelism() - 1);
    if (!Number.isInteger(n) || n < 1) throw new Error(`workers must be a positive integer, got ${n}`);
    const topology = JSON.stringify(model.toJSON(undefined, false));
    const workers = Array.from({ length: n }, spawn);
    try {
      await Promise.all(workers.map((w) => call(w, { kind: "init", backend: tf.getBackend(), topology })));
    } catch (e) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw e;
    }
    return new DataParallelTrainer(model, optimizer, workers);
  }

  /**
   * One optimizer step on the batch (x [n, ...], one-hot y [n, classes]); returns the batch's mean loss and
   * accuracy (training mode, before the update), as a single-threaded step would.
   * `step` numbers the run's batches (it picks the dropout masks); a resumed run passes its global batch
   * index so it draws the masks the uninterrupted run would have. Default: this trainer's own count.
   */
  async step(x: tf.Tensor, y: tf.Tensor, step = this.stepCount): Promise<{ loss: number; accuracy: number }> {
    const n = x.shape[0];
    if (y.shape[0] !== n) throw new Error(`step: x has ${n} examples but y has ${y.shape[0]}`);
    const shards = this.workers.length + 1;
    if (n < shards) throw new Error(`step: a batch of ${n} cannot be split across ${shards} threads`);
    // Shard sizes as equal as possible; the main thread takes the first one.
    const sizes = Array.from({ length: shards }, (_, i) => Math.floor(n / shards) + (i < n % shards ? 1 : 0));
    const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
    this.stepCount = step + 1;
    const t0 = performance.now();
    const weights = this.model.getWeights().map((w) => w.dataSync() as Float32Array);
    const replies = this.workers.map((worker, k) => {
      const [xs, ys] = [x, y].map((t) => t.slice(starts[k + 1], sizes[k + 1]));
      const msg: ShardRequest = {
        kind: "step", step, replica: k + 1, weights: weights.map((w) => w.slice()),
        x: xs.dataSync() as Float32Array, xShape: xs.shape, y: ys.dataSync() as Float32Array, yShape: ys.shape,
      };
      tf.dispose([xs, ys]);
      return call<ShardReply>(worker, msg, [msg.x.buffer as ArrayBuffer, msg.y.buffer as ArrayBuffer, ...msg.weights.map((w) => w.buffer as ArrayBuffer)]);
    });
    // The main thread's shard runs while the workers run theirs.
    const vars = trainableVariables(this.model);
    const t1 = performance.now();
    let t2 = t1, localLoss = 0;
    let local: Gradients;
    let remote: ShardReply[];
    try {
      this.reseed(step, 0);
      local = tf.tidy(() => grad(this.model, x.slice(0, sizes[0]), y.slice(0, sizes[0])));
      localLoss = local.loss.dataSync()[0]; // read once: on an asynchronous backend too, the shard is done here
      t2 = performance.now();
    } finally {
      // Never leave a worker's reply (or failure) unawaited.
      remote = await Promise.all(replies);
    }
    const t3 = performance.now();
    let loss = (localLoss * sizes[0]) / n, correct = local.correct.dataSync()[0];
    remote.forEach((r, k) => { loss += (r.loss * sizes[k + 1]) / n; correct += r.correct; });
    tf.tidy(() => {
      const combined: tf.NamedTensorMap = {};
      vars.forEach((v, i) => {
        let g = tf.mul(local.grads[v.name], sizes[0] / n);
        remote.forEach((r, k) => { g = tf.add(g, tf.mul(tf.tensor(r.grads[i], v.shape), sizes[k + 1] / n)); });
        combined[v.name] = g;
      });
      this.optimizer.applyGradients(combined);
    });
    tf.dispose([local.loss, local.correct, ...Object.values(local.grads)]);
    const t4 = performance.now();
    this.lastTiming = { shards: [t2 - t1, ...remote.map((r) => r.ms)], send: t1 - t0, wait: t3 - t2, update: t4 - t3, total: t4 - t0 };
    return { loss, accuracy: correct / n };
  }

  async dispose(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
