// The trained lab-11-1 model that ships with the project (data/lecture-cnn/): the standard TF.js layers files
// without optimizer state, and provenance.json saying where it came from, so `npm run predict` and the book's
// drawing page work on a fresh clone with no training.
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { loadCheckpoint, MODEL_JSON, readTrainingMeta, saveCheckpoint } from "./checkpoint";
import { accuracy, predictClasses } from "../lecture/evaluate";
import { readJson } from "./fs-errors";
import { assertFiniteWeights, assertLogitsModel } from "./model-check";
import type { LabelledImages } from "../lecture/step";

/** data/lecture-cnn, from lib/dist or lib/src alike. */
export const SHIPPED_MODEL_DIR = path.resolve(__dirname, "..", "..", "..", "data", "lecture-cnn");
const PROVENANCE_JSON = "provenance.json";

/** Where a shipped model came from: its training run and the test accuracy it was shipped with. */
export interface Provenance {
  model: string;
  parameters: number;
  seed: number;
  schedule: { epochs: number; batchSize: number; learningRate: number; trainImages?: number };
  /** Extra worker threads of the run (each draws its own dropout masks). */
  workers?: number;
  /** Test accuracy on MNIST's 10,000 test images, and the count behind it. */
  testAccuracy: number;
  testCorrect: number;
  testImages: number;
  backend: string;
  dtype: "float32";
  /** The checkpoint it was exported from, relative to the project, and when. */
  source: string;
  date: string;
}

/**
 * Exports a training checkpoint as a shipped model in `outDir`: weights only (no Adam state), plus provenance.json
 * with the run's schedule (from the checkpoint's metadata) and the test accuracy measured now, which must equal the
 * accuracy the run itself recorded for that epoch. Refuses an existing outDir.
 */
export async function shipModel(checkpointDir: string, outDir: string, test: LabelledImages, extra: { source: string; backend: string }): Promise<Provenance> {
  if (fs.existsSync(outDir)) throw new Error(`${outDir} already exists: move it away first (a shipped model is never overwritten)`);
  const meta = readTrainingMeta(checkpointDir);
  const { model, optimizerWeights } = await loadCheckpoint(checkpointDir);
  tf.dispose(optimizerWeights.map((w) => w.tensor));
  try {
    assertLogitsModel(model, `checkpoint ${checkpointDir}`);
    assertFiniteWeights(model, `checkpoint ${checkpointDir}`);
    const testAccuracy = accuracy(test.labels, predictClasses(model, test.images));
    const recorded = meta.history[meta.history.length - 1].testAccuracy;
    if (recorded !== undefined && recorded !== testAccuracy) {
      throw new Error(`checkpoint ${checkpointDir}: its run recorded test accuracy ${recorded}, but it scores ${testAccuracy} now`);
    }
    const provenance: Provenance = {
      model: model.name, parameters: model.countParams(), seed: meta.seed,
      schedule: { epochs: meta.epoch, batchSize: meta.batchSize, learningRate: meta.learningRate, ...(meta.trainImages ? { trainImages: meta.trainImages } : {}) },
      ...(meta.workers === undefined ? {} : { workers: meta.workers }),
      testAccuracy, testCorrect: Math.round(testAccuracy * test.labels.length), testImages: test.labels.length,
      backend: extra.backend, dtype: "float32", source: extra.source, date: new Date().toISOString().slice(0, 10),
    };
    await saveCheckpoint(outDir, model);
    fs.writeFileSync(path.join(outDir, PROVENANCE_JSON), JSON.stringify(provenance, null, 1) + "\n");
    return provenance;
  } finally {
    model.dispose();
  }
}

/** The provenance of a shipped model folder. */
export function readProvenance(dir: string = SHIPPED_MODEL_DIR): Provenance {
  if (!fs.existsSync(path.join(dir, MODEL_JSON))) throw new Error(`${dir} holds no model (expected ${MODEL_JSON} and ${PROVENANCE_JSON})`);
  return readJson(path.join(dir, PROVENANCE_JSON), "a shipped model's provenance") as Provenance;
}
