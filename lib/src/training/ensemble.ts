// Ensembles (lab-11-4, lab-11-5): several models trained on the same batches, their logits summed to predict.
// The models never exchange gradients, so each trains in its own worker thread (the wasm backend uses one core
// per thread) and a whole batch of 100 stays on one thread, as batch norm needs. The unit of work is one epoch of
// one model: a thread loads the model's previous epoch checkpoint (weights and ITS OWN Adam state), trains the
// epoch with step.ts's trainStep, scores the test set and writes the next checkpoint. Checkpoints are therefore
// both resume and the hand-over between threads, and the result does not depend on which thread ran which epoch.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { epochDirName, latestCheckpoint, listCheckpoints, loadCheckpoint, readTrainingMeta, type EpochLog } from "../checkpoints/checkpoint";
import { checkFreeSpace, checkpointBytes, freeBytes, openCheckpointDir } from "../checkpoints/checkpoint-dir";
import { ENSEMBLE_FILE, refuseOtherRun } from "../checkpoints/run-kind";
import { readJson } from "../checkpoints/fs-errors";
import { AUGMENT_COPIES } from "../lecture/augment";
import { ensembleLogits } from "../lecture/evaluate";
import { staircaseDecay } from "../lecture/lr-schedule";
import { countCorrect, type LabelledImages } from "../lecture/step";
import { cellInterruptSignal, interruptedMessage } from "./interrupt";
import { checkSeed, epochOrder, scheduleChanges, ScheduleMismatchError } from "./train";

/** The recipe shared by every model of an ensemble; ensemble.json in the checkpoint folder records it. */
export interface EnsembleRecipe {
  models: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Seeds the shuffle: every model sees the same batches in the same order (the lecture's one train_dataset). */
  seed: number;
  /** Images each epoch visits (default: the whole training set, or the whole augmented set). */
  trainImages: number;
  /** Staircase decay: the learning rate is multiplied by `rate` every `everyEpochs` epochs (lab-11-5). */
  decay?: { everyEpochs: number; rate: number };
  /** Train on the augmented set (each image and 4 rotated/shifted copies, lab-11-5), drawn with this seed. */
  augmentSeed?: number;
}

export interface EnsembleEpochLog {
  epoch: number;
  /** Mean over the models of their epoch's mean training loss and accuracy (dropout on, before each update). */
  loss: number;
  trainAccuracy: number;
  /** The ensemble's test accuracy: argmax of the models' summed logits. */
  testAccuracy: number;
  /** Each model's own test accuracy. */
  modelTestAccuracy: number[];
  /** Wall time from the previous epoch's end (all models) to this one's. */
  seconds: number;
}

export interface EnsembleProgress { model: number; epoch: number; epochs: number; batch: number; batches: number; loss: number; accuracy: number }

export interface EnsembleOptions {
  epochs: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
  trainImages?: number;
  decay?: EnsembleRecipe["decay"];
  augmentSeed?: number;
  test: LabelledImages;
  /** Holds model-1/epoch-001 … per model, and ensemble.json (recipe and history). A finished or stopped run resumes. */
  checkpointDir: string;
  /** Worker threads (default: one per model, at most the number of cores). */
  threads?: number;
  signal?: AbortSignal;
  /** Free bytes on the checkpoint folder's disk (default: statfs); tests inject a reading. */
  freeSpace?: (dir: string) => number;
  onProgress?: (p: EnsembleProgress) => void;
  onEpoch?: (log: EnsembleEpochLog) => void;
}

export interface EnsembleResult { history: EnsembleEpochLog[]; stopped: boolean; resumedFrom: number }

/** One epoch of one model, as the worker receives it (ensemble-worker.ts). */
export interface EpochJob {
  kind: "epoch";
  model: number;
  epoch: number;
  topology: string;
  /** Epoch 1: the model's initial weights (getWeights() order); later epochs load `from`. */
  initialWeights?: Float32Array[];
  from?: string;
  to: string;
  learningRate: number;
  recipe: EnsembleRecipe;
}
export interface EpochDone {
  kind: "done"; model: number; epoch: number; log: EpochLog; testLogits: Float32Array;
}
export interface WorkerData {
  backend: string;
  train: { images: Float32Array; labels: Uint8Array };
  test: { images: Float32Array; labels: Uint8Array };
  /** Set to 1 to stop the running epochs after their current batch. */
  stop: Int32Array;
}

const RECIPE_FILE = ENSEMBLE_FILE;

/** The lecture's epoch line for an ensemble, with each model's own test accuracy and the epoch's wall time. */
export function formatEnsembleEpoch(log: EnsembleEpochLog): string {
  return `Epoch: ${log.epoch} loss = ${log.loss.toFixed(8)} train accuracy = ${log.trainAccuracy.toFixed(4)} test accuracy = ${log.testAccuracy.toFixed(4)}`
    + ` (models: ${log.modelTestAccuracy.map((a) => a.toFixed(4)).join(" ")}; ${log.seconds.toFixed(1)} s)`;
}

/** The directory of model m's (0-based) checkpoints. */
export function modelDirName(m: number): string {
  return `model-${m + 1}`;
}

/**
 * Learning rate of an epoch (1-based) under the recipe's staircase decay. The lecture's decay steps fall on epoch
 * boundaries, so counting epochs instead of batches gives the same rates; each job builds its Adam with its epoch's.
 */
export function epochLearningRate(recipe: Pick<EnsembleRecipe, "learningRate" | "decay">, epoch: number): number {
  if (!recipe.decay) return recipe.learningRate;
  return staircaseDecay(recipe.learningRate, recipe.decay.everyEpochs, recipe.decay.rate)(epoch - 1);
}

/**
 * The examples epoch `epoch` (1-based) visits: the run is one stream of seeded shuffles of the whole set
 * (epochOrder 1, 2, …) cut into pieces of `perEpoch`. With perEpoch = setSize this is epochOrder itself, so an
 * ensemble member sees exactly the batches train() would show it.
 */
export function epochExamples(setSize: number, perEpoch: number, seed: number, epoch: number): Int32Array {
  if (perEpoch === setSize) return epochOrder(setSize, seed, epoch);
  const out = new Int32Array(perEpoch);
  let start = (epoch - 1) * perEpoch;
  for (let filled = 0; filled < perEpoch;) {
    const pass = Math.floor(start / setSize);
    const offset = start % setSize;
    const take = Math.min(perEpoch - filled, setSize - offset);
    out.set(epochOrder(setSize, seed, pass + 1).subarray(offset, offset + take), filled);
    filled += take;
    start += take;
  }
  return out;
}

/**
 * The ensemble's accuracy from logits the models computed elsewhere (worker threads), each [n * classes]: summed
 * as ensembleLogits sums them, then countCorrect against the labels.
 */
export function ensembleAccuracy(logits: Float32Array[], labels: ArrayLike<number>, classes = 10): number {
  const n = labels.length;
  return tf.tidy(() => {
    const sum = tf.addN(logits.map((l) => tf.tensor2d(l, [n, classes])));
    return countCorrect(sum, tf.oneHot(tf.tensor1d(Int32Array.from(labels), "int32"), classes)).dataSync()[0] / n;
  });
}

function shared<T extends Float32Array | Uint8Array>(src: ArrayLike<number>, Ctor: { new(b: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number }): T {
  const out = new Ctor(new SharedArrayBuffer(src.length * Ctor.BYTES_PER_ELEMENT));
  (out as unknown as { set(a: ArrayLike<number>): void }).set(src);
  return out;
}

function spawn(data: WorkerData): Worker {
  const ts = __filename.endsWith(".ts");
  return new Worker(path.join(__dirname, `ensemble-worker.${ts ? "ts" : "js"}`), { workerData: data, ...(ts ? { execArgv: ["--require", "tsx/cjs"] } : {}) });
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
}

export interface RecipeFile { recipe: EnsembleRecipe; history: EnsembleEpochLog[] }

/** An ensemble folder's ensemble.json (recipe and per-epoch history); undefined when the folder has none. */
export function readRecipeFile(dir: string): RecipeFile | undefined {
  const file = path.join(dir, RECIPE_FILE);
  if (!fs.existsSync(file)) return undefined;
  const r = readJson(file, "an ensemble's recipe and history (written by trainEnsemble)") as RecipeFile;
  if (!r || typeof r.recipe !== "object" || !Array.isArray(r.history)) throw new Error(`${file}: expected { recipe, history } written by trainEnsemble`);
  return r;
}

function writeRecipeFile(dir: string, r: RecipeFile): void {
  const file = path.join(dir, RECIPE_FILE);
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(r, null, 1));
  fs.renameSync(tmp, file);
}

/** The recipe fields that differ between a run's ensemble.json and the one asked for now. */
function recipeChanges(was: EnsembleRecipe, now: EnsembleRecipe): string[] {
  const keys = new Set([...Object.keys(was), ...Object.keys(now)]) as Set<keyof EnsembleRecipe>;
  return [...keys].filter((k) => k !== "epochs" && JSON.stringify(was[k]) !== JSON.stringify(now[k]))
    .map((k) => `${k} ${JSON.stringify(was[k])} in the run, ${JSON.stringify(now[k])} now`);
}

/**
 * Trains `models` as an ensemble, one model-epoch at a time per worker thread, with per-model checkpoints in
 * checkpointDir/model-N/epoch-EEE. Resumes whatever the folder holds (refusing another recipe); every model
 * keeps its own Adam. Returns the ensemble's per-epoch history; the models end with their last epoch's weights.
 */
export async function trainEnsemble(models: tf.LayersModel[], data: LabelledImages, opts: EnsembleOptions): Promise<EnsembleResult> {
  const n = data.images.shape[0];
  if (models.length < 1) throw new Error("trainEnsemble needs at least one model");
  if (data.labels.length !== n) throw new Error(`expected one label per image: ${n} images but ${data.labels.length} labels`);
  const setSize = opts.augmentSeed === undefined ? n : AUGMENT_COPIES * n;
  const recipe: EnsembleRecipe = {
    models: models.length, epochs: opts.epochs, batchSize: opts.batchSize ?? 100, learningRate: opts.learningRate ?? 0.001,
    seed: opts.seed ?? 777, trainImages: opts.trainImages ?? setSize,
    ...(opts.decay ? { decay: opts.decay } : {}), ...(opts.augmentSeed !== undefined ? { augmentSeed: opts.augmentSeed } : {}),
  };
  positiveInt("epochs", recipe.epochs);
  positiveInt("batchSize", recipe.batchSize);
  positiveInt("trainImages", recipe.trainImages);
  if (recipe.decay) {
    positiveInt("decay.everyEpochs", recipe.decay.everyEpochs);
    if (!(recipe.decay.rate > 0 && recipe.decay.rate <= 1)) throw new Error(`decay.rate must be in (0, 1], got ${recipe.decay.rate}`);
  }
  checkSeed(recipe.seed);
  const threads = opts.threads ?? Math.min(models.length, Math.max(1, os.availableParallelism()));
  positiveInt("threads", threads);

  const dir = opts.checkpointDir;
  refuseOtherRun(dir, "ensemble");
  // Each member's next checkpoint, all written within an epoch: probed at their real size, and checked again
  // before every epoch, so a full disk is found before the epoch's training, not after it.
  const sizes = models.map((m) => checkpointBytes(m));
  const freeSpace = opts.freeSpace ?? freeBytes;
  const roomFor = (epoch: number, members: number[]) =>
    checkFreeSpace(dir, members.reduce((n, m) => n + sizes[m], 0), `cannot train epoch ${epoch} into ${dir}: the models' next checkpoints`, freeSpace);
  const pending = (done: number[]) => models.map((_, m) => m).filter((m) => done[m] < recipe.epochs);
  const release = openCheckpointDir(dir, sizes.reduce((a, b) => a + b, 0));
  const workers: Worker[] = [];
  const stop = new Int32Array(new SharedArrayBuffer(4));
  try {
    // Before any thread starts: what the folder holds must be this recipe's run.
    const saved = readRecipeFile(dir);
    if (saved) {
      const diff = recipeChanges(saved.recipe, recipe);
      if (diff.length) throw new ScheduleMismatchError(`cannot resume the ensemble in ${dir} with another recipe: ${diff.join("; ")} (use the run's settings, or another folder)`);
    } else if (fs.existsSync(dir) && fs.readdirSync(dir).some((f) => /^model-\d+$/.test(f))) {
      throw new Error(`${dir} holds model checkpoints but no ${RECIPE_FILE}: not an ensemble run of trainEnsemble (use another folder)`);
    }
    const done = models.map((_, m) => {
      const latest = latestCheckpoint(path.join(dir, modelDirName(m)));
      if (!latest) return 0;
      const meta = readTrainingMeta(latest);
      scheduleChanges(meta, { seed: recipe.seed, batchSize: recipe.batchSize, learningRate: recipe.learningRate, trainImages: recipe.trainImages }, latest);
      return meta.epoch;
    });
    const history = (saved?.history ?? []).filter((h) => h.epoch <= Math.min(...done));
    const resumedFrom = history.length;
    let checkedEpoch = Math.min(...done) + 1; // the next epoch whose room is checked
    if (pending(done).length) roomFor(checkedEpoch, pending(done));
    writeRecipeFile(dir, { recipe, history });

    // Test logits of finished epochs whose ensemble line is missing (a run stopped mid-epoch) come from the checkpoints.
    const logits = new Map<number, Float32Array[]>(); // epoch → per-model test logits
    const logs = new Map<number, EpochLog[]>();
    const topology = models.map((m) => JSON.stringify(m.toJSON(undefined, false)));
    const data0 = {
      backend: tf.getBackend(),
      train: { images: shared(data.images.dataSync(), Float32Array), labels: shared(data.labels, Uint8Array) },
      test: { images: shared(opts.test.images.dataSync(), Float32Array), labels: shared(opts.test.labels, Uint8Array) },
      stop,
    } satisfies WorkerData;

    const next = done.map((e) => e + 1); // next epoch per model
    const busy = new Set<number>();
    let lastEnd = Date.now();
    let stopped = false;
    let failure: Error | undefined;
    const want = (m: number) => next[m] <= recipe.epochs && !busy.has(m);
    const jobFor = (m: number): EpochJob => {
      const e = next[m];
      const mdir = path.join(dir, modelDirName(m));
      return {
        kind: "epoch", model: m, epoch: e, topology: topology[m], recipe, learningRate: epochLearningRate(recipe, e),
        to: path.join(mdir, epochDirName(e)),
        ...(e === 1 ? { initialWeights: models[m].getWeights().map((w) => w.dataSync() as Float32Array) } : { from: path.join(mdir, epochDirName(e - 1)) }),
      };
    };

    const epochEnded = (e: number) => {
      const ls = models.map((_, m) => logs.get(e)?.[m]);
      const lg = logits.get(e);
      if (ls.some((l) => !l) || !lg || lg.some((l) => !l)) return;
      const log: EnsembleEpochLog = {
        epoch: e,
        loss: ls.reduce((a, l) => a + l!.loss, 0) / models.length,
        trainAccuracy: ls.reduce((a, l) => a + l!.trainAccuracy, 0) / models.length,
        testAccuracy: ensembleAccuracy(lg, opts.test.labels),
        modelTestAccuracy: ls.map((l) => l!.testAccuracy!),
        seconds: (Date.now() - lastEnd) / 1000,
      };
      lastEnd = Date.now();
      history.push(log);
      logits.delete(e);
      logs.delete(e);
      writeRecipeFile(dir, { recipe, history });
      opts.onEpoch?.(log);
    };

    // A model may already be ahead (stopped run): its logged epochs need logits recomputed later; simplest
    // honest rule: the ensemble line of an epoch needs every model's result of that epoch from this session or
    // from its checkpoint. Models behind catch up first because jobs go to the model with the lowest epoch.
    for (let e = resumedFrom + 1; e <= Math.min(...done); e++) {
      logits.set(e, await Promise.all(models.map((_, m) => checkpointTestLogits(path.join(dir, modelDirName(m), epochDirName(e)), opts.test))));
      logs.set(e, models.map((_, m) => readTrainingMeta(path.join(dir, modelDirName(m), epochDirName(e))).history[e - 1]));
      epochEnded(e);
    }
    for (let m = 0; m < models.length; m++) {
      for (let e = Math.min(...done) + 1; e <= done[m]; e++) {
        const ckpt = path.join(dir, modelDirName(m), epochDirName(e));
        (logits.get(e) ?? logits.set(e, []).get(e)!)[m] = await checkpointTestLogits(ckpt, opts.test);
        (logs.get(e) ?? logs.set(e, []).get(e)!)[m] = readTrainingMeta(ckpt).history[e - 1];
      }
    }

    const onAbort = () => { Atomics.store(stop, 0, 1); };
    const signal = opts.signal ?? cellInterruptSignal(); // default: the notebook cell's Kernel > Interrupt
    signal?.addEventListener("abort", onAbort);
    if (signal?.aborted) onAbort();
    try {
      await new Promise<void>((resolve) => {
        const idle: Worker[] = [];
        const dispatch = () => {
          while (idle.length && !Atomics.load(stop, 0) && !failure) {
            // The model furthest behind goes first, so ensemble epochs complete in order.
            const m = models.map((_, i) => i).filter(want).sort((a, b) => next[a] - next[b] || a - b)[0];
            if (m === undefined) break;
            if (next[m] > checkedEpoch) {
              // The first job of a new epoch: room for every member's checkpoint of it. Jobs running on already
              // finish; the refused epoch starts nowhere.
              checkedEpoch = next[m];
              try {
                roomFor(checkedEpoch, pending(next.map((e) => e - 1)));
              } catch (e) {
                failure ??= e as Error;
                break;
              }
            }
            const w = idle.pop()!;
            busy.add(m);
            const job = jobFor(m);
            w.postMessage(job);
          }
          if (busy.size === 0) resolve();
        };
        const count = Math.min(threads, models.filter((_, m) => next[m] <= recipe.epochs).length);
        for (let k = 0; k < count; k++) {
          const w = spawn(data0);
          workers.push(w);
          w.on("message", (msg: ({ kind: "progress" } & EnsembleProgress) | EpochDone | { kind: "stopped"; model: number } | { kind: "error"; model: number; error: string }) => {
            if (msg.kind === "progress") { opts.onProgress?.(msg); return; }
            busy.delete(msg.model);
            if (msg.kind === "error") {
              failure ??= new Error(`training model ${msg.model + 1} failed: ${msg.error}`);
              Atomics.store(stop, 0, 1);
            } else if (msg.kind === "done") {
              next[msg.model] = msg.epoch + 1;
              (logits.get(msg.epoch) ?? logits.set(msg.epoch, []).get(msg.epoch)!)[msg.model] = msg.testLogits;
              (logs.get(msg.epoch) ?? logs.set(msg.epoch, []).get(msg.epoch)!)[msg.model] = msg.log;
              epochEnded(msg.epoch);
            }
            idle.push(w);
            dispatch();
          });
          w.on("error", (e) => {
            failure ??= e;
            Atomics.store(stop, 0, 1);
            for (const m of [...busy]) busy.delete(m);
            dispatch();
          });
          idle.push(w);
        }
        dispatch();
      });
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    if (failure) throw failure;
    stopped = next.some((e) => e <= recipe.epochs);
    if (stopped && signal && !opts.signal) {
      console.log(interruptedMessage(`stopped after the current batches; models at epochs ${next.map((e) => e - 1).join(", ")}`, `Every model keeps its last complete epoch in ${dir} (resume: true continues).`));
    }
    // The caller's models end with their newest weights.
    for (let m = 0; m < models.length; m++) {
      const latest = latestCheckpoint(path.join(dir, modelDirName(m)));
      if (latest) await loadWeightsInto(models[m], latest);
    }
    return { history, stopped, resumedFrom };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    release();
  }
}

/** Runs f on a checkpoint's model, then frees the loaded model and optimizer state. */
async function withCheckpoint<T>(dir: string, f: (model: tf.LayersModel) => T): Promise<T> {
  const ckpt = await loadCheckpoint(dir);
  try {
    return f(ckpt.model);
  } finally {
    ckpt.model.dispose();
    tf.dispose(ckpt.optimizerWeights.map((w) => w.tensor));
  }
}

async function loadWeightsInto(model: tf.LayersModel, dir: string): Promise<void> {
  await withCheckpoint(dir, (saved) => model.setWeights(saved.getWeights()));
}

/** Test-set logits of a checkpointed model, [n * 10] (used when a resumed run needs an earlier epoch's). */
export function checkpointTestLogits(dir: string, test: LabelledImages): Promise<Float32Array> {
  return withCheckpoint(dir, (model) => testLogits(model, test.images));
}

/** A model's logits on every image (inference mode), in batches of 500: [n * classes]. */
export function testLogits(model: tf.LayersModel, images: tf.Tensor4D, batchSize = 500): Float32Array {
  const n = images.shape[0];
  let out: Float32Array | undefined;
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const l = tf.tidy(() => model.predict(images.slice([start, 0, 0, 0], [size, -1, -1, -1])) as tf.Tensor);
    const v = l.dataSync() as Float32Array;
    out ??= new Float32Array(n * l.shape[1]!);
    out.set(v, start * l.shape[1]!);
    l.dispose();
  }
  return out!;
}

/** Models whose checkpoints exist in an ensemble folder (model-1 …), with their newest epoch. */
export function ensembleCheckpoints(dir: string): { model: number; epoch: number }[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).map((f) => /^model-(\d+)$/.exec(f)).filter((x): x is RegExpExecArray => !!x)
    .map((x) => ({ model: Number(x[1]) - 1, epoch: listCheckpoints(path.join(dir, x[0])).pop()?.epoch ?? 0 }))
    .sort((a, b) => a.model - b.model);
}
