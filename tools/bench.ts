// `npm run bench [-- --json] [--steps N] [--warmup N] [--batch N] [--workers N]`: trains the lecture CNN on synthetic
// MNIST-shaped batches with the backend setupBackend() picks (TFJS_BACKEND forces one) and reports
// training and inference throughput and peak memory. --workers N splits each batch across the main thread
// and N worker threads (DataParallelTrainer). A measurement script, not a test.
import * as os from "node:os";
import { tf, setupBackend, createLectureCnn, DataParallelTrainer } from "cnn-lab";

const FLAGS = ["--json", "--steps", "--warmup", "--batch", "--workers"];

/** Rejects anything but the known flags (and their values), so a typo does not silently measure the default. */
function checkArgs(args: string[]): void {
  for (let i = 0; i < args.length; i++) {
    if (!FLAGS.includes(args[i])) throw new Error(`unknown argument "${args[i]}": expected ${FLAGS.join(", ")}`);
    if (args[i] !== "--json") i++;
  }
}

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} expects a positive integer, got "${process.argv[i + 1]}"`);
  return v;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Wall and CPU seconds of f (the wasm backend is synchronous; dataSync waits for any other). */
async function timed(f: () => void | Promise<void>): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage(), t0 = performance.now();
  await f();
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
}

async function main() {
  checkArgs(process.argv.slice(2));
  const json = process.argv.includes("--json");
  const steps = option("steps", 20), warmup = option("warmup", 3), batch = option("batch", 100);
  const workers = process.argv.includes("--workers") ? option("workers", 1) : 0;
  const { name: backend } = await setupBackend({ quiet: json });

  const model = createLectureCnn(777);
  const optimizer = tf.train.adam(0.001);
  const x = tf.randomUniform([batch, 28, 28, 1], 0, 1, "float32", 1);
  const y = tf.oneHot(tf.randomUniform([batch], 0, 10, "int32", 2) as tf.Tensor1D, 10);
  // The training step of the lecture (and of lib/src/train.ts): softmax cross-entropy on logits, Adam.
  const parallel = workers ? await DataParallelTrainer.create(model, optimizer, { workers }) : undefined;
  const trainStep = parallel ? async () => { await parallel.step(x, y); } : () => {
    const loss = optimizer.minimize(
      () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true);
    loss!.dataSync();
    loss!.dispose();
  };
  const inferStep = () => tf.tidy(() => { (model.predict(x) as tf.Tensor).dataSync(); });

  for (let i = 0; i < warmup; i++) await trainStep();
  const tensorsBefore = tf.memory().numTensors;
  const train = [];
  for (let i = 0; i < steps; i++) train.push(await timed(trainStep));
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
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
