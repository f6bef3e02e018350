// npm run runs -- --ensemble DIR …: finished ensemble runs (npm run train --recipe lab-11-4|lab-11-5 --out DIR) of
// one recipe into data/ensemble-runs.json, whose mean notebook 10 prints. runs.ts parses the flags and calls this.
import * as path from "node:path";
import { UsageError, writeJson } from "./cli";
import { PROJECT_ROOT, projectPath, userPath } from "./user-path";
import { ensembleRunFromCheckpoints, checkEnsembleRuns, formatEnsembleRuns } from "cnn-lab";

export function ensembleMain(dirs: string[], outFlag: string | undefined): number {
  if (dirs.length === 0) throw new UsageError("--ensemble needs at least one ensemble checkpoint folder");
  const runs = checkEnsembleRuns(dirs.map((dir) => ensembleRunFromCheckpoints(userPath(dir))), "the folders given");
  const out = outFlag === undefined ? projectPath("data/ensemble-runs.json") : userPath(outFlag);
  writeJson(out, {
    provenance: "collected by npm run runs -- --ensemble from each run's ensemble.json (its model checkpoints finished)",
    runs: runs.map((r) => ({ ...r, source: path.relative(PROJECT_ROOT, r.source) })),
  });
  console.log(formatEnsembleRuns(runs));
  console.log(`written: ${out}`);
  return 0;
}
