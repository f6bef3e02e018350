// One thread of an ensemble trainer (see ensemble.ts): trains one model for one epoch at a time, from the
// model's previous checkpoint (weights and its own Adam state) to the next, with step.ts's trainStep.
import { parentPort, workerData } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { AUGMENT_COPIES, augmentImages, augmentParams } from "../lecture/augment";
import { setupBackend, type BackendName } from "../engine/backend";
import { loadCheckpoint, readTrainingMeta, restoreOptimizer, saveCheckpoint, type TrainingMeta } from "../checkpoints/checkpoint";
import { dropoutReseeder } from "./data-parallel";
import { ensembleAccuracy, epochExamples, testLogits, type EpochDone, type EpochJob, type WorkerData } from "./ensemble";
import { trainStep } from "../lecture/step";
import type { EpochLog } from "../checkpoints/checkpoint";

const data = workerData as WorkerData;
const ready = setupBackend({ force: data.backend as BackendName, quiet: true });
// Each model is built once per thread, with its dropout reseeder taken from the topology's seeds (a reseeder made
// later would start from the seed the last batch set).
const models = new Map<number, { model: tf.LayersModel; reseed: (step: number, replica: number) => void }>();
const pixels = data.train.images.length / data.train.labels.length;
let testImages: tf.Tensor4D | undefined;

/**
 * The batch of examples `idx`: images [b, 28, 28, 1] and one-hot labels. Indices count the training set, or with
 * an augmentation seed the augmented set (5 per original: augment.ts), whose images are made here from the originals.
 */
function batchOf(idx: Int32Array, augmentSeed?: number): [tf.Tensor4D, tf.Tensor2D] {
  const params = augmentSeed === undefined ? undefined : Array.from(idx, (j) => augmentParams(augmentSeed, j));
  const x = new Float32Array(idx.length * pixels);
  const y = new Float32Array(idx.length * 10);
  idx.forEach((j, k) => {
    const i = params ? params[k].original : j;
    x.set(data.train.images.subarray(i * pixels, (i + 1) * pixels), k * pixels);
    y[k * 10 + data.train.labels[i]] = 1;
  });
  const images = tf.tensor4d(x, [idx.length, 28, 28, 1]);
  if (!params) return [images, tf.tensor2d(y, [idx.length, 10])];
  const augmented = augmentImages(images, params);
  images.dispose();
  return [augmented, tf.tensor2d(y, [idx.length, 10])];
}

async function runEpoch(job: EpochJob): Promise<EpochDone | undefined> {
  await ready;
  const t0 = Date.now();
  const { recipe } = job;
  if (!models.has(job.model)) {
    const built = await tf.models.modelFromJSON(JSON.parse(job.topology));
    models.set(job.model, { model: built, reseed: dropoutReseeder(built) });
  }
  const { model, reseed } = models.get(job.model)!;
  const optimizer = tf.train.adam(job.learningRate); // this model's own Adam, rebuilt from its checkpoint
  try {
    let history: EpochLog[] = [];
    if (job.initialWeights) {
      const ws = job.initialWeights.map((w, i) => tf.tensor(w, model.weights[i].shape as number[]));
      model.setWeights(ws);
      tf.dispose(ws);
    } else {
      const ckpt = await loadCheckpoint(job.from!);
      try {
        model.setWeights(ckpt.model.getWeights());
        await restoreOptimizer(optimizer, ckpt.optimizerWeights);
      } finally {
        ckpt.model.dispose();
        tf.dispose(ckpt.optimizerWeights.map((w) => w.tensor));
      }
      history = readTrainingMeta(job.from!).history;
    }
    const n = data.train.labels.length;
    const order = epochExamples(recipe.augmentSeed === undefined ? n : AUGMENT_COPIES * n, recipe.trainImages, recipe.seed, job.epoch);
    const batches = Math.ceil(order.length / recipe.batchSize);
    let lossSum = 0, accSum = 0;
    for (let b = 0; b < batches; b++) {
      if (Atomics.load(data.stop, 0)) return undefined;
      const [x, y] = batchOf(order.subarray(b * recipe.batchSize, Math.min(order.length, (b + 1) * recipe.batchSize)), recipe.augmentSeed);
      reseed((job.epoch - 1) * batches + b, 0); // the masks train() draws for this batch
      try {
        const r = trainStep(model, optimizer, x, y);
        lossSum += r.loss;
        accSum += r.accuracy;
      } finally {
        tf.dispose([x, y]);
      }
      if ((b + 1) % 10 === 0 || b + 1 === batches) {
        parentPort!.postMessage({ kind: "progress", model: job.model, epoch: job.epoch, epochs: recipe.epochs, batch: b + 1, batches, loss: lossSum / (b + 1), accuracy: accSum / (b + 1) });
      }
    }
    testImages ??= tf.tensor4d(data.test.images, [data.test.labels.length, 28, 28, 1]);
    const logits = testLogits(model, testImages);
    const log: EpochLog = { epoch: job.epoch, loss: lossSum / batches, trainAccuracy: accSum / batches, testAccuracy: ensembleAccuracy([logits], data.test.labels), seconds: (Date.now() - t0) / 1000 };
    history = [...history, log];
    await saveCheckpoint(job.to, model, {
      optimizer,
      meta: { epoch: job.epoch, history, seed: recipe.seed, batchSize: recipe.batchSize, learningRate: recipe.learningRate, trainImages: recipe.trainImages, workers: 0 } satisfies TrainingMeta,
    });
    return { kind: "done", model: job.model, epoch: job.epoch, log, testLogits: logits };
  } finally {
    optimizer.dispose();
  }
}

parentPort!.on("message", async (job: EpochJob) => {
  try {
    const done = await runEpoch(job);
    if (done) parentPort!.postMessage(done, [done.testLogits.buffer as ArrayBuffer]);
    else parentPort!.postMessage({ kind: "stopped", model: job.model });
  } catch (e) {
    parentPort!.postMessage({ kind: "error", model: job.model, error: e instanceof Error ? e.message : String(e) });
  }
});
