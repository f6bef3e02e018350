// Several full training runs side by side. One run's last-epoch test accuracy moves by about 0.002 with
// the seed (initial weights, shuffle order, dropout masks), so a comparison with the lecture's single
// printed number is fair only over a few seeds: this collects finished runs and summarises them.
import * as fs from "node:fs";
import * as path from "node:path";
import { latestCheckpoint, readTrainingMeta, type EpochLog } from "../checkpoints/checkpoint";
import { fsError, readJson } from "../checkpoints/fs-errors";
import { ensembleCheckpoints, readRecipeFile, type EnsembleEpochLog, type EnsembleRecipe } from "./ensemble";

/** One finished training run of the lecture's schedule. */
export interface FullRun {
  seed: number;
  /** Extra worker threads (each draws its own dropout masks), when known. */
  workers?: number;
  /** Where the numbers come from: a checkpoint folder or a notebook's stored outputs. */
  source: string;
  history: EpochLog[];
}

export interface Schedule { epochs: number; batchSize: number; learningRate: number; trainImages: number }

/** The lecture's schedule: what a run must have used to be compared with 0.9938. */
export const LECTURE_SCHEDULE: Readonly<Schedule> = { epochs: 15, batchSize: 100, learningRate: 0.001, trainImages: 60_000 };

function fail(source: string, problem: string): never {
  throw new Error(`${source}: ${problem}`);
}

/** A JSON file's content; an unreadable or corrupt file is an error naming it and what it should hold. */
function checkHistory(source: string, history: unknown, epochs: number): EpochLog[] {
  if (!Array.isArray(history)) fail(source, "no training history");
  const logs = history as EpochLog[];
  if (logs.length !== epochs) fail(source, `expected a finished run of ${epochs} epochs, found ${logs.length}`);
  logs.forEach((h, i) => {
    if (h.epoch !== i + 1 || typeof h.testAccuracy !== "number") fail(source, `epoch ${i + 1} has no test accuracy`);
  });
  return logs;
}

/** The run whose checkpoints are in `dir` (a `npm run train --out` folder), checked against the lecture's schedule. */
export function runFromCheckpoints(dir: string, schedule: Readonly<Schedule> = LECTURE_SCHEDULE): FullRun {
  const last = latestCheckpoint(dir);
  if (!last) fail(dir, "no checkpoint (expected epoch-NNN folders from npm run train)");
  const meta = readTrainingMeta(last);
  for (const key of ["batchSize", "learningRate", "trainImages"] as const) {
    // trainImages was not recorded by early checkpoints; every other setting must match.
    if (meta[key] === undefined && key === "trainImages") continue;
    if (meta[key] !== schedule[key]) fail(last, `${key} ${meta[key]} is not the lecture's ${schedule[key]}`);
  }
  if (meta.changes?.length) {
    const c = meta.changes[0];
    fail(last, `the run changed its schedule on resume (${c.setting} ${c.from} → ${c.to} after epoch ${c.epoch}): not one schedule`);
  }
  const history = checkHistory(last, meta.history, schedule.epochs);
  return { seed: meta.seed, ...(meta.workers === undefined ? {} : { workers: meta.workers }), source: dir, history };
}

const EPOCH_LINE = /^Epoch: (\d+) loss = ([\d.]+) train accuracy = ([\d.]+) test accuracy = ([\d.]+) \(([\d.]+) s\)/gm;

/** The text of a notebook's stream outputs (what its cells printed), checked to be a notebook first. */
function notebookOutputText(file: string): string {
  const nb = readJson(file, "a Jupyter notebook") as { cells?: unknown } | null;
  if (nb === null || typeof nb !== "object" || !Array.isArray(nb.cells)) fail(file, "not a notebook (expected an object with a cells array)");
  const cells = nb.cells as ({ outputs?: unknown } | null)[];
  cells.forEach((c, i) => {
    if (c === null || typeof c !== "object" || (c.outputs !== undefined && !Array.isArray(c.outputs))) {
      fail(file, `cell ${i + 1} is not a notebook cell (expected an object, with an outputs array if any)`);
    }
  });
  return (cells as { outputs?: ({ text?: string | string[] } | null)[] }[])
    .flatMap((c) => (c.outputs ?? []).filter((o): o is { text?: string | string[] } => o !== null && typeof o === "object"))
    .map((o) => [o.text ?? ""].flat().join(""))
    .join("\n");
}

/** The run printed in a notebook's stored outputs (formatEpoch's lines), e.g. notebook 06's own full run. */
export function runFromNotebook(file: string, seed: number, workers?: number, epochs: number = LECTURE_SCHEDULE.epochs): FullRun {
  const text = notebookOutputText(file);
  const history = [...text.matchAll(EPOCH_LINE)].map((m) => ({
    epoch: Number(m[1]), loss: Number(m[2]), trainAccuracy: Number(m[3]), testAccuracy: Number(m[4]), seconds: Number(m[5]),
  }));
  return { seed, ...(workers === undefined ? {} : { workers }), source: file, history: checkHistory(file, history, epochs) };
}

export interface RunsSummary {
  /** Each run's last-epoch test accuracy. */
  final: number[];
  mean: number;
  /** Sample standard deviation (n - 1). */
  sd: number;
  min: number;
  max: number;
}

/** Summary of the runs' last-epoch test accuracies (single models or ensembles alike). */
export function summarizeRuns(runs: readonly { history: readonly { testAccuracy?: number }[] }[]): RunsSummary {
  if (runs.length === 0) throw new Error("no runs to summarise");
  const final = runs.map((r) => r.history[r.history.length - 1].testAccuracy!);
  const mean = final.reduce((a, b) => a + b, 0) / final.length;
  const sd = final.length > 1 ? Math.sqrt(final.reduce((a, b) => a + (b - mean) ** 2, 0) / (final.length - 1)) : 0;
  return { final, mean, sd, min: Math.min(...final), max: Math.max(...final) };
}

/** A table, one run per line: seed, last-epoch and best test accuracy, minutes; then the summary. */
export function formatRuns(runs: FullRun[]): string {
  const s = summarizeRuns(runs);
  const lines = ["seed  last epoch  best (epoch)  minutes"];
  runs.forEach((r, i) => {
    const best = r.history.reduce((a, b) => (b.testAccuracy! > a.testAccuracy! ? b : a));
    const minutes = r.history.reduce((a, b) => a + b.seconds, 0) / 60;
    lines.push(
      `${String(r.seed).padStart(4)}  ${s.final[i].toFixed(4).padStart(10)}  ${best.testAccuracy!.toFixed(4)} (${String(best.epoch).padStart(2)})` +
        `  ${minutes.toFixed(1).padStart(7)}`,
    );
  });
  lines.push(
    `last-epoch test accuracy over ${runs.length} runs: mean ${s.mean.toFixed(4)}, sd ${s.sd.toFixed(4)}, ` +
      `min ${s.min.toFixed(4)}, max ${s.max.toFixed(4)}`,
  );
  return lines.join("\n");
}

/** Runs saved by `npm run runs` (data/full-runs.json), each checked again as a finished lecture-schedule run. */
export function readRuns(file: string): FullRun[] {
  if (!fs.existsSync(file)) throw new Error(`${file} does not exist (write it with npm run runs)`);
  const runs = (readJson(file, "npm run runs' output") as { runs?: unknown } | null)?.runs;
  if (!Array.isArray(runs) || runs.length === 0) fail(file, "expected a non-empty runs array");
  return (runs as FullRun[]).map((r, i) => ({ ...r, history: checkHistory(`${file} run ${i + 1}`, r.history, LECTURE_SCHEDULE.epochs) }));
}

// Ensembles (notebooks 09 and 10): a run is one ensemble.json folder of trainEnsemble. Its result is the
// ensemble's test accuracy after the last epoch; several seeds of one recipe are compared by their mean.

/** One ensemble epoch as a runs file keeps it: the ensemble's test accuracy always; the rest when recorded. */
export type EnsembleEpochRecord = Pick<EnsembleEpochLog, "epoch" | "testAccuracy"> & Partial<EnsembleEpochLog>;

/** One finished ensemble run: its recipe (seed included) and the ensemble's history up to the recipe's last epoch. */
export interface EnsembleRun {
  seed: number;
  /** Where the numbers come from: a checkpoint folder, or a record of figures whose checkpoints are elsewhere. */
  source: string;
  recipe: EnsembleRecipe;
  history: EnsembleEpochRecord[];
}

/** The run in an ensemble checkpoint folder (npm run train --recipe lab-11-4|lab-11-5 --out DIR), finished. */
export function ensembleRunFromCheckpoints(dir: string): EnsembleRun {
  if (!fs.existsSync(dir)) fail(dir, "does not exist (expected an ensemble checkpoint folder from npm run train --recipe lab-11-4 or lab-11-5)");
  const saved = readRecipeFile(dir);
  if (!saved) fail(dir, "no ensemble.json (expected an ensemble checkpoint folder from npm run train --recipe lab-11-4 or lab-11-5)");
  const { recipe, history } = saved;
  const models = ensembleCheckpoints(dir);
  const behind = models.filter((m) => m.epoch < recipe.epochs).map((m) => `model-${m.model + 1} at epoch ${m.epoch}`);
  if (models.length !== recipe.models) fail(dir, `expected ${recipe.models} model folders (model-1 …), found ${models.length}`);
  if (behind.length) fail(dir, `not finished: ${behind.join(", ")} of ${recipe.epochs} (resume it with the same npm run train command and --resume)`);
  history.forEach((h) => {
    if (h.modelTestAccuracy?.length !== recipe.models) fail(dir, `epoch ${h.epoch} has ${h.modelTestAccuracy?.length ?? 0} model accuracies, expected ${recipe.models}`);
  });
  return { seed: recipe.seed, source: dir, recipe, history: checkEnsembleHistory(path.join(dir, "ensemble.json"), history, recipe.epochs, true) };
}

/** The history's epochs ascending, each with a test accuracy in [0, 1], the last one the recipe's last. */
function checkEnsembleHistory(source: string, history: unknown, epochs: number, complete: boolean): EnsembleEpochRecord[] {
  if (!Array.isArray(history) || history.length === 0) fail(source, "no ensemble history");
  const logs = history as EnsembleEpochRecord[];
  logs.forEach((h, i) => {
    if (h === null || typeof h !== "object" || !Number.isInteger(h.epoch) || (i > 0 && h.epoch <= logs[i - 1].epoch)) {
      fail(source, `history entry ${i + 1} has no epoch after the previous one`);
    }
    if (!(typeof h.testAccuracy === "number" && h.testAccuracy >= 0 && h.testAccuracy <= 1)) fail(source, `epoch ${h.epoch} has no test accuracy in [0, 1]`);
  });
  const last = logs[logs.length - 1].epoch;
  if (last !== epochs || (complete && logs.length !== epochs)) {
    fail(source, `expected a finished run of ${epochs} epochs, found ${complete ? `${logs.length} epochs` : `epochs up to ${last}`}`);
  }
  return logs;
}

const ENSEMBLE_EPOCH_LINE = /^Epoch: (\d+) loss = ([\d.]+) train accuracy = ([\d.]+) test accuracy = ([\d.]+) \(models: ([\d. ]+); ([\d.]+) s\)/gm;

/** The ensemble run printed in a notebook's stored outputs (formatEnsembleEpoch's lines), trained with `recipe`. */
export function ensembleRunFromNotebook(file: string, recipe: EnsembleRecipe): EnsembleRun {
  const history = [...notebookOutputText(file).matchAll(ENSEMBLE_EPOCH_LINE)].map((m) => ({
    epoch: Number(m[1]), loss: Number(m[2]), trainAccuracy: Number(m[3]), testAccuracy: Number(m[4]),
    modelTestAccuracy: m[5].trim().split(/\s+/).map(Number), seconds: Number(m[6]),
  }));
  history.forEach((h) => {
    if (h.modelTestAccuracy.length !== recipe.models) fail(file, `epoch ${h.epoch} shows ${h.modelTestAccuracy.length} models, the recipe has ${recipe.models}`);
  });
  return { seed: recipe.seed, source: file, recipe, history: checkEnsembleHistory(file, history, recipe.epochs, true) };
}

/** The recipe fields (the seed aside) on which two runs differ: runs compared by their mean must share the rest. */
function recipeDifferences(a: EnsembleRecipe, b: EnsembleRecipe): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => k !== "seed") as (keyof EnsembleRecipe)[];
  return keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).map((k) => `${k} ${JSON.stringify(a[k])} vs ${JSON.stringify(b[k])}`);
}

/** Checks that ensemble runs can be averaged: one recipe but the seed, each seed once. */
export function checkEnsembleRuns(runs: EnsembleRun[], source: string): EnsembleRun[] {
  if (runs.length === 0) fail(source, "expected at least one ensemble run");
  runs.forEach((r, i) => {
    const diff = recipeDifferences(runs[0].recipe, r.recipe);
    if (diff.length) fail(source, `run ${i + 1} (seed ${r.seed}) has another recipe than run 1: ${diff.join("; ")}`);
    if (r.seed !== r.recipe.seed) fail(source, `run ${i + 1}: seed ${r.seed} but its recipe's seed is ${r.recipe.seed}`);
    if (runs.findIndex((o) => o.seed === r.seed) !== i) fail(source, `seed ${r.seed} appears twice: each run must have its own seed`);
  });
  return runs;
}

/** Ensemble runs saved by `npm run runs -- --ensemble` (e.g. data/ensemble-runs.json), checked again. */
export function readEnsembleRuns(file: string): EnsembleRun[] {
  if (!fs.existsSync(file)) throw new Error(`${file} does not exist (write it with npm run runs -- --ensemble DIR …)`);
  const runs = (readJson(file, "npm run runs -- --ensemble's output") as { runs?: unknown } | null)?.runs;
  if (!Array.isArray(runs) || runs.length === 0) fail(file, "expected a non-empty runs array");
  return checkEnsembleRuns((runs as EnsembleRun[]).map((r, i) => {
    const where = `${file} run ${i + 1}`;
    if (r === null || typeof r !== "object" || typeof r.recipe !== "object" || r.recipe === null || !Number.isInteger(r.recipe.epochs)) {
      fail(where, "expected { seed, source, recipe, history } with the recipe's epochs");
    }
    return { ...r, history: checkEnsembleHistory(where, r.history, r.recipe.epochs, false) };
  }), file);
}

/** A table, one ensemble run per line: seed, the last three epochs' test accuracy, its models' range; then the mean. */
export function formatEnsembleRuns(runs: EnsembleRun[]): string {
  const s = summarizeRuns(runs);
  const epochs = runs[0].recipe.epochs;
  const shown = [epochs - 2, epochs - 1, epochs].filter((e) => e >= 1);
  const lines = [`seed  ${shown.map((e) => `epoch ${e}`.padStart(8)).join("  ")}  models (epoch ${epochs})`];
  for (const r of runs) {
    const at = (e: number) => r.history.find((h) => h.epoch === e)?.testAccuracy?.toFixed(4) ?? "-";
    const models = r.history[r.history.length - 1].modelTestAccuracy;
    const range = models?.length ? `${Math.min(...models).toFixed(4)}-${Math.max(...models).toFixed(4)}` : "-";
    lines.push(`${String(r.seed).padStart(4)}  ${shown.map((e) => at(e).padStart(8)).join("  ")}  ${range}`);
  }
  lines.push(
    `ensemble test accuracy after epoch ${epochs} over ${runs.length} run${runs.length === 1 ? "" : "s"}: mean ${s.mean.toFixed(4)}` +
      (runs.length > 1 ? `, sd ${s.sd.toFixed(4)}, min ${s.min.toFixed(4)}, max ${s.max.toFixed(4)}` : ""),
  );
  return lines.join("\n");
}
