// npm run runs -- [DIR ...] [--notebook FILE --notebook-seed S --notebook-workers W] [--out FILE]
// npm run runs -- --ensemble DIR ... [--out FILE]
// Collects finished full training runs (npm run train --out DIR, and the run stored in notebook 06's outputs)
// into data/full-runs.json, which notebook 06 shows: the lecture prints one run, a fair comparison needs several.
// With --ensemble: finished ensemble runs (npm run train --recipe lab-11-4|lab-11-5 --out DIR) of one recipe into
// data/ensemble-runs.json, whose mean notebook 10 prints.
import * as path from "node:path";
import { intOption, parseFlags, runCli, UsageError, writeJson } from "./cli";
import { ensembleMain } from "./ensemble-runs";
import { PROJECT_ROOT, projectPath, userPath } from "./user-path";
import { runFromCheckpoints, runFromNotebook, formatRuns, FullRun, LECTURE_SCHEDULE } from "cnn-lab";

const USAGE = `usage: npm run runs -- [DIR ...] [--notebook FILE] [--notebook-seed S] [--notebook-workers W] [--out FILE]
  DIR                  a finished npm run train --out folder (15 epochs, batch 100, Adam 0.001, 60,000 images)
  --notebook FILE      also the run printed in FILE's stored outputs (default notebooks/06-full-cnn.ipynb)
  --notebook-seed S    that run's seed (default 777)
  --notebook-workers W that run's extra worker threads (default 1)
  --out FILE           where to write (default data/full-runs.json)
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
  const notebook = values.notebook === undefined ? projectPath("notebooks/06-full-cnn.ipynb") : userPath(values.notebook);
  const runs: FullRun[] = [
    runFromNotebook(notebook, intOption("notebook-seed", values["notebook-seed"], 0, 777)!, intOption("notebook-workers", values["notebook-workers"], 0, 1)),
    ...positionals.map((dir) => runFromCheckpoints(userPath(dir))),
  ];
  const seeds = runs.map((r) => r.seed);
  const twice = seeds.find((s, i) => seeds.indexOf(s) !== i);
  if (twice !== undefined) throw new UsageError(`seed ${twice} appears twice: each run must have its own seed`);
  const out = values.out === undefined ? projectPath("data/full-runs.json") : userPath(values.out);
  writeJson(out, { schedule: LECTURE_SCHEDULE, runs: runs.map((r) => ({ ...r, source: path.relative(PROJECT_ROOT, r.source) })) });
  console.log(formatRuns(runs));
  console.log(`written: ${out}`);
  return 0;
}

if (require.main === module) runCli(main, USAGE);
