// The lecture's training loop (lab-11-1) for long runs, shared by notebook 06 and `npm run train`: the epoch/batch
// loop the notebook writes out, around the same step (step.ts's trainStep, or its grad() on worker threads), plus
// per-epoch checkpoints, resume, a stop signal and progress callbacks.
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import {
  epochDirName, latestCheckpoint, listCheckpoints, loadCheckpoint, readTrainingMeta, restoreOptimizer, saveCheckpoint,
  SCHEDULE_KEYS, ScheduleChange, TrainingMeta, type EpochLog,
} from "../checkpoints/checkpoint";
import { checkpointBytes, openCheckpointDir } from "../checkpoints/checkpoint-dir";
import { batchSizeLimit } from "./batch-memory";
import { accuracy, predictClasses } from "../lecture/evaluate";
import { checkWorkers, DataParallelTrainer, dropoutReseeder } from "./data-parallel";
import { refuseOtherRun } from "../checkpoints/run-kind";
import { batchOf, trainStep, type LabelledImages } from "../lecture/step";
import { cellInterruptSignal, interruptedMessage } from "./interrupt";

export interface BatchProgress {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  /** Running means over this epoch's batches so far. */
  loss: number;
  accuracy: number;
}

export interface TrainOptions {
  epochs: number;
  batchSize?: number;
  learningRate?: number;
  /** Seeds the shuffle (and dropout, when the model's dropout layer has a seed). Lecture: 777. */
  seed?: number;
  test?: LabelledImages;
  /** Folder for per-epoch checkpoints (epoch-001, epoch-002, ...). */
  checkpointDir?: string;
  /** How many of the newest epoch checkpoints to keep (default: all). */
  keepCheckpoints?: number;
  /** Continue from the newest checkpoint in checkpointDir: weights, Adam state and history. */
  resume?: boolean;
  /**
   * Let resume change the seed, batch size, learning rate or training-set size of the checkpointed run (recorded
   * in the metadata's `changes`, so `npm run runs` no longer counts it as one schedule). Default: refuse.
   */
  allowScheduleChange?: boolean;
  /**
   * Extra worker threads that each compute a shard of every batch's gradient (wasm runs on one core);
   * 0 (default) trains on this thread only. One optimizer step per batch either way. At most the CPU cores, and
   * fewer than the images of a batch. The count shapes the run (dropout masks per shard, the gradient's sum), so a
   * resume keeps the run's: unset, it is the recorded one; another is refused unless allowScheduleChange.
   */
  workers?: number;
  /**
   * Abort to stop after the current batch; the unfinished epoch is dropped, its checkpoint not written.
   * Default: the notebook cell's Kernel > Interrupt (interrupt.ts), which also prints where training stopped.
   */
  signal?: AbortSignal;
  onBatch?: (p: BatchProgress) => void;
  onEpoch?: (log: EpochLog) => void;
}

export interface TrainResult {
  history: EpochLog[];
  /** True when the signal stopped training before the last epoch. */
  stopped: boolean;
  /** Epoch the run started from (0 unless resumed). */
  resumedFrom: number;
}

/** Small seeded PRNG (mulberry32): the same seed gives the same shuffle on every platform. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The order in which an epoch visits the examples: a Fisher-Yates shuffle seeded by (seed, epoch). */
export function epochOrder(n: number, seed: number, epoch: number): Int32Array {
  const rand = mulberry32(Math.imul(seed, 0x9e3779b1) ^ epoch);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** "Epoch: 1 loss = 0.12345678 train accuracy = 0.9600 test accuracy = 0.9846 (81.2 s)", as the lecture prints. */
export function formatEpoch(log: EpochLog): string {
  const test = log.testAccuracy === undefined ? "" : ` test accuracy = ${log.testAccuracy.toFixed(4)}`;
  return `Epoch: ${log.epoch} loss = ${log.loss.toFixed(8)} train accuracy = ${log.trainAccuracy.toFixed(4)}${test} (${log.seconds.toFixed(1)} s)`;
}

/** A compact progress line: "epoch 3/15 [######--------------] 180/600 loss 0.0412 acc 0.9871". */
export function formatProgress(p: BatchProgress, width = 20): string {
  const done = Math.round((p.batch / p.batches) * width);
  const bar = "#".repeat(done) + "-".repeat(width - done);
  return `epoch ${p.epoch}/${p.epochs} [${bar}] ${p.batch}/${p.batches} loss ${p.loss.toFixed(4)} acc ${p.accuracy.toFixed(4)}`;
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
}

/** The largest seed: the shuffle mixes seeds as 32-bit integers (Math.imul), so larger ones would repeat smaller ones' shuffles. */
export const MAX_SEED = 2 ** 31 - 1;

/** Refuses a seed that is not a whole number from 0 to MAX_SEED. */
export function checkSeed(seed: number, name = "seed"): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) throw new Error(`${name} must be a whole number from 0 to ${MAX_SEED}, got ${seed}`);
}

/** A resume that would change the run's schedule: both values named, so the user can choose. */
export class ScheduleMismatchError extends Error {}

/**
 * The changes between a checkpointed run's schedule and the one asked for now. Throws ScheduleMismatchError
 * unless `allow`; returns them (to be recorded) when allowed.
 */
export function scheduleChanges(meta: TrainingMeta, now: Record<(typeof SCHEDULE_KEYS)[number], number>, where: string, allow = false): ScheduleChange[] {
  const changes = SCHEDULE_KEYS.filter((k) => meta[k] !== undefined && meta[k] !== now[k])
    .map((setting) => ({ epoch: meta.epoch, setting, from: meta[setting]!, to: now[setting] }));
  if (changes.length && !allow) {
    const list = changes.map((c) => `${c.setting} ${c.from} in the checkpoint, ${c.to} now`).join("; ");
    throw new ScheduleMismatchError(`cannot resume ${where} with a different schedule: ${list} (use the checkpoint's settings, or allow the change explicitly)`);
  }
  return changes;
}

/**
 * A resume on another number of worker threads than the run's: not the run it would have been (each shard draws
 * its own dropout masks, and the gradient is summed over other shards). Throws ScheduleMismatchError unless
 * `allow`; returns the change (to be recorded) when allowed. Checkpoints from before the count was recorded pass.
 */
export function workersChanges(meta: TrainingMeta, workers: number, where: string, allow = false): ScheduleChange[] {
  if (meta.workers === undefined || meta.workers === workers) return [];
  if (!allow) {
    throw new ScheduleMismatchError(
      `cannot resume ${where} with ${workers} worker thread(s): the run used ${meta.workers}, and another count trains ` +
        `differently (other dropout masks and gradient sums) (leave the worker count unset to use the run's, or allow the change explicitly)`,
    );
  }
  return [{ epoch: meta.epoch, setting: "workers", from: meta.workers, to: workers }];
}

async function restore(model: tf.LayersModel, optimizer: tf.Optimizer, dir: string): Promise<EpochLog[]> {
  const ckpt = await loadCheckpoint(dir);
  try {
    try {
      model.setWeights(ckpt.model.getWeights());
    } catch (e) {
      throw new Error(`checkpoint ${dir} does not fit this model: ${(e as Error).message}`);
    }
    if (ckpt.optimizerWeights.length) await restoreOptimizer(optimizer, ckpt.optimizerWeights);
    return readTrainingMeta(dir).history;
  } finally {
    ckpt.model.dispose();
    tf.dispose(ckpt.optimizerWeights.map((w) => w.tensor));
  }
}

/**
 * Trains `model` in place. Returns the per-epoch history (including epochs restored by resume).
 * Refuses a batch that cannot fit first; with checkpointDir, holds that folder's lock for the whole run.
 */
export async function train(model: tf.LayersModel, data: LabelledImages, opts: TrainOptions): Promise<TrainResult> {
  const batchSize = opts.batchSize ?? 100;
  positiveInt("batchSize", batchSize);
  checkSeed(opts.seed ?? 777);
  // The folder must hold no ensemble; a resume runs on the run's worker threads unless told otherwise.
  if (opts.checkpointDir !== undefined) refuseOtherRun(opts.checkpointDir, "single");
  const latest = opts.resume && opts.checkpointDir !== undefined ? latestCheckpoint(opts.checkpointDir) : undefined;
  const workers = opts.workers ?? (latest === undefined ? undefined : readTrainingMeta(latest).workers) ?? 0;
  checkWorkers(workers, batchSize, data.images.shape[0]);
  const limit = batchSizeLimit(model, { trainImages: data.images.shape[0], residentBytes: residentBytes(data, opts.test), workers });
  if (batchSize > limit.max) throw new Error(`batchSize must be at most ${limit.max} (${limit.reason}), got ${batchSize}`);
  const release = opts.checkpointDir === undefined ? undefined : openCheckpointDir(opts.checkpointDir, checkpointBytes(model));
  try {
    return await trainLoop(model, data, { ...opts, workers });
  } finally {
    release?.();
  }
}

/** Bytes the data sets take in the backend's memory (float32 images). */
export function residentBytes(data: LabelledImages, test?: LabelledImages): number {
  return 4 * (data.images.size + (test?.images.size ?? 0));
}

async function trainLoop(model: tf.LayersModel, data: LabelledImages, opts: TrainOptions): Promise<TrainResult> {
  const { epochs, batchSize = 100, learningRate = 0.001, seed = 777 } = opts;
  positiveInt("epochs", epochs);
  positiveInt("batchSize", batchSize);
  const n = data.images.shape[0];
  if (data.labels.length !== n) {
    throw new Error(`expected one label per image: ${n} images but ${data.labels.length} labels`);
  }
  if (opts.resume && !opts.checkpointDir) throw new Error("resume needs checkpointDir (where the checkpoints are)");
  const existing = opts.checkpointDir && !opts.resume ? listCheckpoints(opts.checkpointDir).pop() : undefined;
  if (existing) {
    // Mixing a new run's epochs with an old run's would make "the last checkpoint" ambiguous.
    throw new Error(
      `${opts.checkpointDir} already holds checkpoints (up to epoch ${existing.epoch}): resume to continue them, or use another folder`,
    );
  }

  const workers = opts.workers ?? 0;
  const latest = opts.resume ? latestCheckpoint(opts.checkpointDir!) : undefined;
  let changes: ScheduleChange[] = [];
  if (latest) {
    // Before anything is built or touched: a resume must continue the same schedule.
    const meta = readTrainingMeta(latest);
    changes = [
      ...(meta.changes ?? []),
      ...scheduleChanges(meta, { seed, batchSize, learningRate, trainImages: n }, latest, opts.allowScheduleChange),
      ...workersChanges(meta, workers, latest, opts.allowScheduleChange),
    ];
  }
  const optimizer = tf.train.adam(learningRate);
  const reseedDropout = dropoutReseeder(model);
  const batches = Math.ceil(n / batchSize);
  let history: EpochLog[] = [];
  let resumedFrom = 0;
  let stopped = false;
  let trainer: DataParallelTrainer | undefined;
  const signal = opts.signal ?? cellInterruptSignal();

  try {
    if (latest) history = await restore(model, optimizer, latest);
    resumedFrom = history.length;
    // The parallel trainer reseeds dropout per step and replica itself.
    if (workers > 0) trainer = await DataParallelTrainer.create(model, optimizer, { workers });
    for (let epoch = resumedFrom + 1; epoch <= epochs && !stopped; epoch++) {
      const t0 = Date.now();
      const order = epochOrder(n, seed, epoch);
      let lossSum = 0;
      let accSum = 0;
      for (let b = 0; b < batches; b++) {
        const idx = order.subarray(b * batchSize, Math.min(n, (b + 1) * batchSize));
        const globalStep = (epoch - 1) * batches + b; // picks the dropout masks, so resume draws the same ones
        const [images, labels] = batchOf(data, idx);
        let r: { loss: number; accuracy: number };
        try {
          if (trainer) {
            r = await trainer.step(images, labels, globalStep);
          } else {
            reseedDropout(globalStep, 0); // the single-threaded loop is replica 0
            r = trainStep(model, optimizer, images, labels);
          }
        } finally {
          tf.dispose([images, labels]);
        }
        lossSum += r.loss;
        accSum += r.accuracy;
        opts.onBatch?.({ epoch, epochs, batch: b + 1, batches, loss: lossSum / (b + 1), accuracy: accSum / (b + 1) });
        // Let signal handlers (Ctrl-C) and progress output run between batches.
        await new Promise((r) => setImmediate(r));
        if (signal?.aborted) {
          stopped = true;
          if (!opts.signal) {
            const kept = opts.checkpointDir && latestCheckpoint(opts.checkpointDir);
            console.log(interruptedMessage(`stopped in epoch ${epoch} after batch ${b + 1}/${batches}`, kept ? `Last complete checkpoint: ${kept} (resume: true continues from it).` : undefined));
          }
          break;
        }
      }
      if (stopped) break;
      const log: EpochLog = { epoch, loss: lossSum / batches, trainAccuracy: accSum / batches, seconds: 0 };
      if (opts.test) log.testAccuracy = accuracy(opts.test.labels, predictClasses(model, opts.test.images));
      log.seconds = (Date.now() - t0) / 1000;
      history.push(log);
      if (opts.checkpointDir) {
        await saveCheckpoint(path.join(opts.checkpointDir, epochDirName(epoch)), model, {
          optimizer,
          meta: { epoch, history, seed, batchSize, learningRate, trainImages: n, workers, ...(changes.length ? { changes } : {}) } satisfies TrainingMeta,
        });
        prune(opts.checkpointDir, opts.keepCheckpoints);
      }
      opts.onEpoch?.(log);
      stopped = signal?.aborted === true && epoch < epochs;
      if (stopped && !opts.signal) console.log(interruptedMessage(`stopped after epoch ${epoch}`, opts.checkpointDir ? `Last complete checkpoint: ${latestCheckpoint(opts.checkpointDir)} (resume: true continues from it).` : undefined));
    }
  } finally {
    await trainer?.dispose();
    optimizer.dispose();
  }
  return { history, stopped, resumedFrom };
}

function prune(dir: string, keep: number | undefined): void {
  if (keep === undefined) return;
  const all = listCheckpoints(dir);
  for (const c of all.slice(0, Math.max(0, all.length - keep))) fs.rmSync(c.dir, { recursive: true, force: true });
}

/**
 * The first `count` images of an MNIST split as the model's input: [n, 28, 28, 1] float32 scaled to 0..1
 * (the lecture's `astype(np.float32) / 255.0`), with their labels.
 */
export function mnistForTraining(split: { images: Uint8Array; labels: Uint8Array; count: number; rows: number; cols: number }, count = split.count): LabelledImages {
  positiveInt("count", count);
  if (count > split.count) throw new Error(`count must be at most ${split.count} (the split's size), got ${count}`);
  const size = split.rows * split.cols;
  const images = tf.tidy(() =>
    tf.tensor4d(split.images.subarray(0, count * size), [count, split.rows, split.cols, 1], "float32").div(255),
  ) as tf.Tensor4D;
  return { images, labels: split.labels.subarray(0, count) };
}
