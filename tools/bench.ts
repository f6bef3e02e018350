// `npm run bench [-- --json] [--steps N] [--warmup N] [--batch N] [--workers N]`: trains the lecture CNN on synthetic
// MNIST-shaped batches with the backend setupBackend() picks (TFJS_BACKEND forces one) and reports
// training and inference throughput and peak memory. --workers N splits each batch across the main thread
// and N worker threads (DataParallelTrainer). A measurement script, not a test.
import * as os from "node:os";
import { intOption, parseFlags, runCli } from "./cli";
import { tf, setupBackend, createModel, DataParallelTrainer, trainStep } from "cnn-lab";

const USAGE = `usage: npm run bench -- [--json] [--steps N] [--warmup N] [--batch N] [--workers N]
  --json       one JSON object instead of text
  --steps N    timed steps (default 20); --warmup N untimed steps first (default 3)
  --batch N    images per step (default 100, the lecture's)
  --workers N  extra worker threads per batch (default 0: the main thread alone)`;

/**
 * The step the benchmark times: the lecture's trainStep on one thread, or the data-parallel trainer's step (the
 * same grad() on every thread), i.e. exactly what train() runs per batch.
 */
export function makeTrainStep(model: tf.LayersModel, optimizer: tf.Optimizer, x: tf.Tensor, y: tf.Tensor, parallel?: DataParallelTrainer): () => Promise<void> {
  return async () => {
    if (parallel) await parallel.step(x, y);
    else trainStep(model, optimizer, x, y);
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Wall and CPU seconds of f (the wasm backend is synchronous; dataSync waits for any other). */
async function timed(f: () => void | Promise<void>): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage(), t0 = performance.now();
  await f();
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    json: { type: "boolean" }, steps: { type: "string" }, warmup: { type: "string" }, batch: { type: "string" }, workers: { type: "string" },
  });
  const json = values.json ?? false;
  const steps = intOption("steps", values.steps, 1, 20)!, warmup = intOption("warmup", values.warmup, 0, 3)!;
  const batch = intOption("batch", values.batch, 1, 100)!, workers = intOption("workers", values.workers, 0, 0)!;
  const { name: backend } = await setupBackend({ quiet: json });

  const model = createModel(777);
  const optimizer = tf.train.adam(0.001);
  const x = tf.randomUniform([batch, 28, 28, 1], 0, 1, "float32", 1);
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, "int32", 2) as tf.Tensor1D, 10);
  const parallel = workers ? await DataParallelTrainer.create(model, optimizer, { workers }) : undefined;
  const timedStep = makeTrainStep(model, optimizer, x, y, parallel);
  const inferStep = () => tf.tidy(() => { (model.predict(x) as tf.Tensor).dataSync(); });

  for (let i = 0; i < warmup; i++) await timedStep();
  const tensorsBefore = tf.memory().numTensors;
  const train = [];
  for (let i = 0; i < steps; i++) train.push(await timed(timedStep));
  const leaked = (tf.memory().numTensors - tensorsBefore) / steps;
  for (let i = 0; i < warmup; i++) inferStep();
  const infer = [];
  for (let i = 0; i < steps; i++) infer.push(await timed(inferStep));
  await parallel?.dispose();

  const result = {
    backend,
    workers,
    batch,
    steps,
    trainImagesPerSec: Math.round(batch / median(train.map((t) => t.wall))),
    // CPU time of the whole process (all threads): with workers it exceeds wall time.
    trainImagesPerCpuSec: Math.round(batch / median(train.map((t) => t.cpu))),
    inferImagesPerSec: Math.round(batch / median(infer.map((t) => t.wall))),
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    tensorsLeakedPerStep: leaked,
    machine: `${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.availableParallelism()} cores, load ${os.loadavg()[0].toFixed(1)}`,
    node: process.version,
    tfjs: tf.version_core,
    date: new Date().toISOString(),
  };
  if (json) {
    console.log(JSON.stringify(result));
  } else {
    const threads = workers ? `, main thread + ${workers} worker${workers > 1 ? "s" : ""}` : "";
    console.log(`training:  ${result.trainImagesPerSec} images/s (median of ${steps} steps of ${batch}${threads}; ${result.trainImagesPerCpuSec} per CPU-second)`);
    console.log(`inference: ${result.inferImagesPerSec} images/s`);
    console.log(`peak RSS:  ${result.peakRssMB} MB; tensors leaked per step: ${leaked}`);
    console.log(`${result.machine}; node ${result.node}; tfjs ${result.tfjs}; ${result.date}`);
  }
  return 0;
}

if (require.main === module) runCli(main, USAGE);
