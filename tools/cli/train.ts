// npm run train -- --epochs N --batch-size B --backend X --out DIR [--resume] [--plot] [--workers W] [--limit N]
// The notebook's training (lib/src/training/train.ts) from a terminal: progress bar, one summary line and one
// checkpoint per epoch, --resume from the last checkpoint, Ctrl-C stops cleanly after the current batch.
// package.json runs it as `node --import tsx`, not `tsx`: the tsx CLI's parent process SIGKILLs a child that
// does not acknowledge Ctrl-C within 30 ms, and a training batch keeps the event loop busy longer than that.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { intOption as int, parseFlags, runCli, UsageError } from "./cli";
import { projectPath, userPath } from "./user-path";
import {
  defaultWorkers,
  tf, BACKENDS, BackendName, setupBackend, loadMnist, createModel, mnistForTraining, train,
  formatEpoch, formatProgress, latestCheckpoint, listCheckpoints, BatchProgress, EpochLog,
  readTrainingMeta, scheduleChanges, workersChanges, ScheduleMismatchError, checkWorkers, MAX_SEED, refuseOtherRun,
  batchSizeLimit, residentBytes, checkCheckpointDir, checkpointBytes, RunLockedError, checkMakeDirs,
  trainEnsemble, formatEnsembleEpoch, ensembleCheckpoints, ENSEMBLE_RECIPES, EnsembleRecipeSpec, memberSeeds,
} from "cnn-lab";

/** Images in MNIST's training split (what --limit defaults to). */
const MNIST_TRAIN_IMAGES = 60_000;

const USAGE = `usage: npm run train -- [--recipe R] [--epochs N] [--batch-size B] [--backend ${BACKENDS.join("|")}] [--out DIR]
                      [--resume [--allow-schedule-change]] [--plot] [--workers W] [--limit N] [--seed S] [--epoch-images N]
  --recipe R       lab-11-1 (default): one lecture CNN (notebook 06)
                   lab-11-4: ${ENSEMBLE_RECIPES["lab-11-4"].description}
                   lab-11-5: ${ENSEMBLE_RECIPES["lab-11-5"].description}
                   (ensembles train one model per thread; checkpoints in --out/model-N/epoch-NNN)
  --epoch-images N ensembles: images each epoch visits (default: the whole set; lab-11-5's is 300,000: notebook 10's
                   reduced schedule visits 40,000 per epoch, successive pieces of the augmented set's shuffles)
  --epochs N       epochs in total (default 15, the lecture's)
  --batch-size B   images per batch (default 100)
  --backend X      force a TensorFlow.js backend (default: the best that loads)
  --out DIR        checkpoint folder, one epoch-NNN/ per epoch (default checkpoints/cnn)
  --resume         continue from the last checkpoint in --out (weights, Adam state, history); refuses a
                   different --seed, --batch-size or --limit than the checkpoint's unless
  --allow-schedule-change  is given too (the run is then recorded as changed, and npm run runs skips it)
  --plot           live loss/accuracy curves in a browser window (needs the optional package nodeplotlib)
  --workers W      extra worker threads per batch, at most the CPU cores (default: CPU cores - 1 on wasm, else 0;
                   --resume: the run's); ensembles: threads (default: one per model, at most the CPU cores)
  --limit N        train on the first N training images only (default all 60000)
  --seed S         shuffle/dropout seed, 0 to ${MAX_SEED} (default 777, the lecture's)`;


export const RECIPES = ["lab-11-1", "lab-11-4", "lab-11-5"] as const;
export type RecipeName = (typeof RECIPES)[number];

export interface TrainArgs {
  recipe: RecipeName;
  epochImages?: number;
  epochs: number;
  batchSize: number;
  backend?: BackendName;
  out: string;
  resume: boolean;
  allowScheduleChange: boolean;
  plot: boolean;
  workers?: number;
  limit?: number;
  seed: number;
}


export function parseTrainArgs(argv: string[]): TrainArgs {
  const { values } = parseFlags(argv, {
    epochs: { type: "string" }, "batch-size": { type: "string" }, backend: { type: "string" },
    out: { type: "string" }, resume: { type: "boolean" }, "allow-schedule-change": { type: "boolean" }, plot: { type: "boolean" },
    workers: { type: "string" }, limit: { type: "string" }, seed: { type: "string" }, recipe: { type: "string" }, "epoch-images": { type: "string" },
  });
  if (values.recipe !== undefined && !(RECIPES as readonly string[]).includes(values.recipe)) {
    throw new UsageError(`--recipe must be one of ${RECIPES.join(", ")}, got "${values.recipe}"`);
  }
  const recipe = (values.recipe ?? "lab-11-1") as RecipeName;
  if (values["epoch-images"] !== undefined && recipe === "lab-11-1") throw new UsageError("--epoch-images is for the ensembles (--recipe lab-11-4 or lab-11-5); lab-11-1 trains on --limit images per epoch");
  if (values.plot && recipe !== "lab-11-1") throw new UsageError("--plot draws one model's curves: use it with --recipe lab-11-1");
  if (values.backend !== undefined && !(BACKENDS as readonly string[]).includes(values.backend)) {
    throw new UsageError(`--backend must be one of ${BACKENDS.join(", ")}, got "${values.backend}"`);
  }
  if (values.out !== undefined && values.out.trim() === "") throw new UsageError("--out must be a folder path, got an empty string");
  return {
    recipe,
    epochImages: int("epoch-images", values["epoch-images"], 1),
    epochs: int("epochs", values.epochs, 1, 15)!,
    batchSize: int("batch-size", values["batch-size"], 1, 100)!,
    backend: values.backend as BackendName | undefined,
    out: values.out === undefined ? projectPath(recipe === "lab-11-1" ? "checkpoints/cnn" : `checkpoints/${recipe}`) : userPath(values.out),
    resume: values.resume ?? false,
    allowScheduleChange: values["allow-schedule-change"] ?? false,
    plot: values.plot ?? false,
    workers: int("workers", values.workers, 0),
    limit: int("limit", values.limit, 1),
    seed: int("seed", values.seed, 0, 777, MAX_SEED)!,
  };
}

/**
 * nodeplotlib is optional (heavy: a NestJS server); a clear message when it is not installed, or when its page lacks
 * the local plotly that tools/patch-nodeplotlib.mjs puts there at npm install (without it the page is empty offline).
 */
function loadNodeplotlib(): { plot: (data: unknown, layout?: unknown) => void; rxjs: { BehaviorSubject: new <T>(v: T) => { next(v: T): void; complete(): void } } } {
  let loaded;
  try {
    loaded = { plot: require("nodeplotlib").plot, rxjs: require("rxjs") };
  } catch {
    throw new UsageError("--plot needs the optional package nodeplotlib, which is not installed: run `npm install nodeplotlib` (or drop --plot)");
  }
  const plotly = path.join(path.dirname(require.resolve("nodeplotlib/package.json")), "src", "lib", "server", "web", "plotly.min.js");
  if (!fs.existsSync(plotly)) {
    throw new UsageError(`--plot: nodeplotlib's page has no local plotly (${plotly} is missing): run \`npm install\` (its postinstall, tools/patch-nodeplotlib.mjs, copies it from plotly.js-dist-min and keeps the server on 127.0.0.1)`);
  }
  return loaded;
}

/** Streams running loss/accuracy per batch and test accuracy per epoch to two live browser plots. */
function livePlot(history: EpochLog[]) {
  const { plot, rxjs } = loadNodeplotlib();
  const x: number[] = [], loss: number[] = [], acc: number[] = [];
  const ex = history.map((h) => h.epoch), testAcc = history.map((h) => h.testAccuracy ?? NaN);
  const traces = () => ({
    loss: [{ x, y: loss, type: "scatter", name: "train loss (running mean)" }],
    acc: [
      { x, y: acc, type: "scatter", name: "train accuracy (running mean)" },
      { x: ex, y: testAcc, type: "scatter", mode: "lines+markers", name: "test accuracy" },
    ],
  });
  const loss$ = new rxjs.BehaviorSubject(traces().loss);
  const acc$ = new rxjs.BehaviorSubject(traces().acc);
  plot(loss$, { title: "loss", xaxis: { title: "epoch" } });
  plot(acc$, { title: "accuracy", xaxis: { title: "epoch" } });
  return {
    batch(p: BatchProgress) {
      x.push(p.epoch - 1 + p.batch / p.batches);
      loss.push(p.loss);
      acc.push(p.accuracy);
      loss$.next(traces().loss);
      acc$.next(traces().acc);
    },
    epoch(log: EpochLog) {
      ex.push(log.epoch);
      testAcc.push(log.testAccuracy ?? NaN);
      acc$.next(traces().acc);
    },
  };
}

const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * The first Ctrl-C, SIGTERM or SIGHUP (also what a tool sends itself when npm is gone: stop-with-launcher.mjs) aborts
 * the returned controller (training stops cleanly, saying `what`), a second quits at once; `exitCode()` is the shell's
 * code for the signal (128 + its number: 130 for Ctrl-C). `stopListening()` removes the handlers.
 */
function stopOnSignal(what: string): { controller: AbortController; exitCode: () => number; stopListening: () => void } {
  const controller = new AbortController();
  let received: NodeJS.Signals = "SIGINT";
  const exitCode = () => 128 + os.constants.signals[received];
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(exitCode()); // the lock is released on exit; checkpoints are whole
    received = sig;
    controller.abort();
    process.stderr.write(sig === "SIGINT" ? `\nCtrl-C: ${what} (Ctrl-C again to quit now)\n` : `\n${sig}: ${what}\n`);
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  return { controller, exitCode, stopListening: () => { for (const s of STOP_SIGNALS) process.off(s, onSignal); } };
}

/** A library check's error as a usage error (exit 2, with the usage text): the user's flags asked for it. */
function asUsage<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw e instanceof RunLockedError ? e : new UsageError((e as Error).message);
  }
}

/** A worker count train() would refuse, as a usage error about --workers (`recordedIn`: the count is that checkpoint's). */
function checkWorkersFlag(workers: number, batchSize: number, images: number, recordedIn?: string): void {
  try {
    checkWorkers(workers, batchSize, images);
  } catch (e) {
    const why = (e as Error).message;
    throw new UsageError(recordedIn === undefined ? `--${why}` : `${recordedIn} was trained with ${workers} worker thread(s), which cannot run here: ${why}; ` +
      "choose --workers and add --allow-schedule-change (the run is then recorded as changed)");
  }
}

/** Another run training into the same folder: exit 2 with its pid (RunLockedError's message), no usage text. */
async function main(argv: string[]): Promise<number> {
  try {
    return await trainMain(argv);
  } catch (e) {
    if (!(e instanceof RunLockedError)) throw e;
    console.error(`error: ${e.message}`);
    return 2;
  }
}

async function trainMain(argv: string[]): Promise<number> {
  const args = parseTrainArgs(argv);
  if (args.recipe !== "lab-11-1") return ensembleMain(args, ENSEMBLE_RECIPES[args.recipe]);
  if (args.plot) loadNodeplotlib(); // fail before loading data, not after
  asUsage(() => refuseOtherRun(args.out, "single"));
  const existing = listCheckpoints(args.out);
  if (existing.length && !args.resume) {
    throw new UsageError(
      `${args.out} already holds checkpoints (up to epoch ${existing[existing.length - 1].epoch}): add --resume to continue, or choose another --out`,
    );
  }
  const latest = args.resume ? latestCheckpoint(args.out) : undefined;
  const trainImages = args.limit ?? MNIST_TRAIN_IMAGES;
  let recordedWorkers: number | undefined;
  if (latest) {
    // Before loading anything: a resume continues the checkpoint's schedule unless the user says otherwise.
    const meta = readTrainingMeta(latest);
    recordedWorkers = meta.workers;
    try {
      scheduleChanges(meta, { seed: args.seed, batchSize: args.batchSize, learningRate: 0.001, trainImages }, latest, args.allowScheduleChange);
      if (args.workers !== undefined) workersChanges(meta, args.workers, latest, args.allowScheduleChange);
    } catch (e) {
      if (e instanceof ScheduleMismatchError) {
        throw new UsageError(e.message.replace("leave the worker count unset", "leave --workers out").replace("allow the change explicitly", "add --allow-schedule-change"));
      }
      throw e;
    }
  }
  checkMakeDirs(args.out, `the checkpoint folder ${args.out}`); // before any work; a refused run writes nothing
  if (args.workers !== undefined) checkWorkersFlag(args.workers, args.batchSize, trainImages);
  const backend = await setupBackend({ force: args.backend });
  // The run's own count on resume; else cores - 1 on wasm, as many as the batch can share.
  const workers = args.workers ?? recordedWorkers ??
    Math.min(defaultWorkers(backend.name), Math.max(0, Math.min(args.batchSize, trainImages % args.batchSize || args.batchSize) - 1));
  checkWorkersFlag(workers, args.batchSize, trainImages, args.workers === undefined && recordedWorkers !== undefined ? latest : undefined);
  const mnist = await loadMnist();
  if (args.limit !== undefined && args.limit > mnist.train.count) {
    throw new UsageError(`--limit must be at most ${mnist.train.count} (the training set), got ${args.limit}`);
  }
  const trainSet = mnistForTraining(mnist.train, args.limit);
  const testSet = mnistForTraining(mnist.test);
  const model = createModel(args.seed);
  const limit = batchSizeLimit(model, { trainImages: trainSet.labels.length, residentBytes: residentBytes(trainSet, testSet), workers });
  if (args.batchSize > limit.max) throw new UsageError(`--batch-size must be at most ${limit.max} (${limit.reason}), got ${args.batchSize}`);
  // Writable with room for a checkpoint and not in use, before any training (train() then takes the lock).
  checkCheckpointDir(args.out, checkpointBytes(model));

  const from = args.resume ? latestCheckpoint(args.out) : undefined;
  console.log(from ? `resuming from ${from}` : `training from scratch${args.resume ? ` (no checkpoint in ${args.out} yet)` : ""}`);
  console.log(`${args.epochs} epochs, batch ${args.batchSize}, ${trainSet.labels.length} training images, ${workers} extra worker thread(s); checkpoints in ${args.out}`);

  const { controller, exitCode, stopListening } = stopOnSignal("stopping after this batch; the last complete checkpoint is kept");

  const tty = process.stderr.isTTY;
  let lastDraw = 0;
  const plotter = args.plot ? livePlot([]) : undefined;
  const result = await train(model, trainSet, {
    epochs: args.epochs, batchSize: args.batchSize, seed: args.seed, test: testSet,
    checkpointDir: args.out, resume: args.resume, allowScheduleChange: args.allowScheduleChange, workers, signal: controller.signal,
    onBatch: (p) => {
      const now = Date.now();
      if (tty && (now - lastDraw > 200 || p.batch === p.batches)) {
        lastDraw = now;
        process.stderr.write(`\r${formatProgress(p, 30)}\x1b[K`);
      }
      if (plotter && (p.batch % Math.max(1, Math.floor(p.batches / 50)) === 0 || p.batch === p.batches)) plotter?.batch(p);
    },
    onEpoch: (log) => {
      if (tty) process.stderr.write("\r\x1b[K");
      console.log(`${formatEpoch(log)}  checkpoint ${args.out}/epoch-${String(log.epoch).padStart(3, "0")}`);
      plotter?.epoch(log);
    },
  }).finally(stopListening);

  tf.dispose([trainSet.images, testSet.images]);
  model.dispose();
  if (result.stopped) {
    const last = latestCheckpoint(args.out);
    console.log(`stopped. ${last ? `last complete checkpoint: ${last}; continue with --resume` : "no epoch completed, no checkpoint written"}`);
    return exitCode();
  }
  const done = result.history.length;
  if (result.resumedFrom >= args.epochs) console.log(`nothing to do: ${args.out} already has ${result.resumedFrom} epoch(s)`);
  const last = result.history[done - 1];
  if (last?.testAccuracy !== undefined) console.log(`done: ${done} epoch(s), test accuracy ${last.testAccuracy.toFixed(4)}`);
  if (plotter) console.log("the plots stay up until you close their browser window (or press Ctrl-C)");
  return 0;
}

/** The ensembles (lab-11-4, lab-11-5): trainEnsemble with the recipe's models and schedule, one model per thread. */
async function ensembleMain(args: TrainArgs, spec: EnsembleRecipeSpec): Promise<number> {
  const existing = ensembleCheckpoints(args.out).filter((c) => c.epoch > 0);
  if (existing.length && !args.resume) {
    throw new UsageError(`${args.out} already holds an ensemble's checkpoints: add --resume to continue, or choose another --out`);
  }
  asUsage(() => refuseOtherRun(args.out, "ensemble"));
  if (args.allowScheduleChange) throw new UsageError("--allow-schedule-change is for lab-11-1: an ensemble resumes its own recipe only");
  checkMakeDirs(args.out, `the checkpoint folder ${args.out}`);
  const backend = await setupBackend({ force: args.backend });
  const mnist = await loadMnist();
  if (args.limit !== undefined && args.limit > mnist.train.count) {
    throw new UsageError(`--limit must be at most ${mnist.train.count} (the training set), got ${args.limit}`);
  }
  const trainSet = mnistForTraining(mnist.train, args.limit);
  const testSet = mnistForTraining(mnist.test);
  const models = memberSeeds(args.seed, spec.models).map((s) => spec.build(s));
  const threads = args.workers ?? Math.min(spec.models, backend.name === "wasm" ? os.availableParallelism() : 1);
  const perEpoch = args.epochImages ?? spec.schedule.trainImages;
  console.log(`${args.recipe}: ${spec.description}`);
  console.log(`${args.epochs} epochs${perEpoch ? ` of ${perEpoch} images` : ""}, batch ${args.batchSize}, ${trainSet.labels.length} training images, ${threads} thread(s); checkpoints in ${args.out}`);

  const { controller, exitCode, stopListening } = stopOnSignal("stopping after the current batches; every model keeps its last complete checkpoint");
  const tty = process.stderr.isTTY;
  const progress = models.map(() => "waiting");
  let lastDraw = 0;
  const result = await trainEnsemble(models, trainSet, {
    ...spec.schedule, epochs: args.epochs, batchSize: args.batchSize, seed: args.seed, trainImages: perEpoch,
    test: testSet, checkpointDir: args.out, threads, signal: controller.signal,
    onProgress: (p) => {
      progress[p.model] = `e${p.epoch} ${p.batch}/${p.batches}`;
      if (tty && Date.now() - lastDraw > 500) {
        lastDraw = Date.now();
        process.stderr.write(`\r${progress.map((s, i) => `model ${i + 1}: ${s}`).join("  ")}\x1b[K`);
      }
    },
    onEpoch: (log) => {
      if (tty) process.stderr.write("\r\x1b[K");
      console.log(formatEnsembleEpoch(log));
    },
  }).catch((e) => {
    throw e instanceof ScheduleMismatchError ? new UsageError(e.message) : e;
  }).finally(stopListening);
  tf.dispose([trainSet.images, testSet.images]);
  models.forEach((m) => m.dispose());
  if (result.stopped) {
    console.log(`stopped. Every model keeps its last complete epoch in ${args.out}; continue with --resume`);
    return exitCode();
  }
  const last = result.history[result.history.length - 1];
  if (result.resumedFrom >= args.epochs) console.log(`nothing to do: ${args.out} already has ${result.resumedFrom} epoch(s)`);
  if (last) console.log(`done: ${result.history.length} epoch(s), ensemble test accuracy ${last.testAccuracy.toFixed(4)}`);
  return 0;
}

if (require.main === module) runCli(main, USAGE);
