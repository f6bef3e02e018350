// One folder, one kind of run: train()'s epoch-NNN/ checkpoints (lab-11-1) and trainEnsemble()'s model-N/ folders
// with ensemble.json never share a folder. Mixed, "the last checkpoint" and the recipe of the folder would be
// ambiguous, and a resume would silently continue the wrong run.
import * as fs from "node:fs";

/** The file in which trainEnsemble records an ensemble's recipe and history. */
export const ENSEMBLE_FILE = "ensemble.json";

export type RunKind = "single" | "ensemble";

/** Which kinds of run `dir` holds (none when it does not exist or holds neither). */
export function runKinds(dir: string): Set<RunKind> {
  const kinds = new Set<RunKind>();
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return kinds; // no such folder (or not one): the checkpoint folder's own checks say what is wrong
  }
  for (const name of names) {
    if (/^epoch-\d+$/.test(name)) kinds.add("single");
    if (name === ENSEMBLE_FILE || /^model-\d+$/.test(name)) kinds.add("ensemble");
  }
  return kinds;
}

/** Throws when `dir` holds a run of the other kind than `want`, saying how to continue that run instead. */
export function refuseOtherRun(dir: string, want: RunKind): void {
  const kinds = runKinds(dir);
  if (want === "single" && kinds.has("ensemble")) {
    throw new Error(`${dir} holds an ensemble's run (${ENSEMBLE_FILE}, model-N/): a single model cannot train into it; ` +
      "continue it with its --recipe and --resume, or use another folder");
  }
  if (want === "ensemble" && kinds.has("single")) {
    throw new Error(`${dir} holds a single model's run (epoch-NNN/): an ensemble cannot train into it; ` +
      "continue that run without --recipe, or use another folder");
  }
}
