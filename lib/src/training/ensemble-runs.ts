// Ensemble runs side by side (notebooks 09 and 10): a run is one ensemble.json folder of trainEnsemble, its result
// the ensemble's test accuracy after the last epoch; several seeds of one recipe are compared by their mean, as
// runs.ts does for single models.
import * as fs from "node:fs";
import * as path from "node:path";
import { readJson } from "../checkpoints/fs-errors";
import { ensembleCheckpoints, readRecipeFile, type EnsembleEpochLog, type EnsembleRecipe } from "./ensemble";
import { notebookOutputText, summarizeRuns } from "./runs";

function fail(source: string, problem: string): never {
  throw new Error(`${source}: ${problem}`);
}

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
