// Several full training runs side by side. One run's last-epoch test accuracy moves by about 0.002 with
// the seed (initial weights, shuffle order, dropout masks), so a comparison with the lecture's single
// printed number is fair only over a few seeds: this collects finished runs and summarises them.
import * as fs from "node:fs";
import * as path from "node:path";
import { latestCheckpoint, readTrainingMeta, type EpochLog } from "../checkpoints/checkpoint";
import { fsError, readJson } from "../checkpoints/fs-errors";

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
export function notebookOutputText(file: string): string {
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

/**
 * The table `npm run runs` writes: the runs already in it (`kept`) with those collected now (`fresh`) merged in by
 * seed, the seed being a run's identity (a table holds one run per seed). A fresh run replaces the stored run of its
 * seed in place (say, a notebook re-run); the others are appended. Nothing stored is dropped: collecting fewer
 * folders than the table lists must not shrink the committed table.
 */
export function mergeRuns(kept: FullRun[], fresh: FullRun[]): { runs: FullRun[]; replaced: FullRun[]; added: FullRun[] } {
  const bySeed = new Map(fresh.map((r) => [r.seed, r]));
  const replaced = kept.filter((r) => bySeed.has(r.seed));
  const runs = kept.map((r) => bySeed.get(r.seed) ?? r);
  const added = fresh.filter((r) => !kept.some((k) => k.seed === r.seed));
  return { runs: [...runs, ...added], replaced, added };
}

/** Runs saved by `npm run runs` (data/full-runs.json), each checked again as a finished lecture-schedule run. */
export function readRuns(file: string): FullRun[] {
  if (!fs.existsSync(file)) throw new Error(`${file} does not exist (write it with npm run runs)`);
  const runs = (readJson(file, "npm run runs' output") as { runs?: unknown } | null)?.runs;
  if (!Array.isArray(runs) || runs.length === 0) fail(file, "expected a non-empty runs array");
  return (runs as FullRun[]).map((r, i) => ({ ...r, history: checkHistory(`${file} run ${i + 1}`, r.history, LECTURE_SCHEDULE.epochs) }));
}
