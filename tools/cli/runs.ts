// npm run runs -- [DIR ...] [--notebook FILE --notebook-seed S --notebook-workers W] [--out FILE]
// npm run runs -- --ensemble DIR ... [--out FILE]
// Collects finished full training runs (npm run train --out DIR, and the run stored in notebook 06's outputs)
// into data/full-runs.json, which notebook 06 shows: the lecture prints one run, a fair comparison needs several.
// The runs collected are merged into the file by seed: a run already in it and not collected now is kept.
// With --ensemble: finished ensemble runs (npm run train --recipe lab-11-4|lab-11-5 --out DIR) of one recipe into
// data/ensemble-runs.json, whose mean notebook 10 prints.
import * as fs from "node:fs";
import * as path from "node:path";
import { intOption, parseFlags, runCli, UsageError, writeJson } from "./cli";
import { ensembleMain } from "./ensemble-runs";
import { PROJECT_ROOT, projectPath, userPath } from "./user-path";
import { runFromCheckpoints, runFromNotebook, formatRuns, FullRun, LECTURE_SCHEDULE, mergeRuns, readRuns, checkMakeDirs } from "cnn-lab";

const USAGE = `usage: npm run runs -- [DIR ...] [--notebook FILE] [--notebook-seed S] [--notebook-workers W] [--out FILE]
  DIR                  a finished npm run train --out folder (15 epochs, batch 100, Adam 0.001, 60,000 images)
  --notebook FILE      also the run printed in FILE's stored outputs (default notebooks/06-full-cnn.ipynb)
  --notebook-seed S    that run's seed (default 777)
  --notebook-workers W that run's extra worker threads (default 1)
  --out FILE           the table to merge the runs into, by seed (default data/full-runs.json; runs already in it
                       stay, a run of the same seed is replaced)
usage: npm run runs -- --ensemble DIR ... [--out FILE]
  --ensemble           DIRs are finished ensemble folders (npm run train --recipe lab-11-4|lab-11-5 --out DIR),
                       one recipe, one seed each; written to data/ensemble-runs.json unless --out says otherwise`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    notebook: { type: "string" }, "notebook-seed": { type: "string" }, "notebook-workers": { type: "string" }, out: { type: "string" },
    ensemble: { type: "boolean" },
  }, true);
  if (values.ensemble) {
    const single = (["notebook", "notebook-seed", "notebook-workers"] as const).find((k) => values[k] !== undefined);
    if (single) throw new UsageError(`--${single} is for single-model runs, not with --ensemble`);
    return ensembleMain(positionals, values.out);
  }
  const out = values.out === undefined ? projectPath("data/full-runs.json") : userPath(values.out);
  checkMakeDirs(path.dirname(out), `the folder of ${out}`); // before reading the runs
  const notebook = values.notebook === undefined ? projectPath("notebooks/06-full-cnn.ipynb") : userPath(values.notebook);
  const runs: FullRun[] = [
    runFromNotebook(notebook, intOption("notebook-seed", values["notebook-seed"], 0, 777)!, intOption("notebook-workers", values["notebook-workers"], 0, 1)),
    ...positionals.map((dir) => runFromCheckpoints(userPath(dir))),
  ];
  const seeds = runs.map((r) => r.seed);
  const twice = seeds.find((s, i) => seeds.indexOf(s) !== i);
  if (twice !== undefined) throw new UsageError(`seed ${twice} appears twice: each run must have its own seed`);
  // The table is merged, never rebuilt: runs collected earlier (their folders maybe gone) stay. A file that is not
  // such a table is refused rather than overwritten.
  const stored = fs.existsSync(out) ? readRuns(out) : [];
  const fresh = runs.map((r) => ({ ...r, source: path.relative(PROJECT_ROOT, r.source) }));
  const merged = mergeRuns(stored, fresh);
  writeJson(out, { schedule: LECTURE_SCHEDULE, runs: merged.runs });
  console.log(formatRuns(merged.runs));
  const kept = stored.length - merged.replaced.length;
  console.log(`written: ${out} (${merged.added.length} run(s) added, ${merged.replaced.length} updated` +
    `${kept ? `, ${kept} kept from the file: seed ${stored.filter((r) => !merged.replaced.includes(r)).map((r) => r.seed).join(", ")}` : ""})`);
  return 0;
}

if (require.main === module) runCli(main, USAGE);
