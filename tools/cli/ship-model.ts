// npm run ship-model -- CHECKPOINT [--out DIR]
// Exports a finished training run's checkpoint as the project's shipped model (default data/lecture-cnn/): weights
// only, with provenance.json (seed, schedule, test accuracy measured now and checked against the run's own record).
import * as path from "node:path";
import { parseFlags, runCli, UsageError } from "./cli";
import { projectPath, PROJECT_ROOT, userPath } from "./user-path";
import { tf, setupBackend, latestCheckpoint, loadMnist, mnistForTraining, shipModel, SHIPPED_MODEL_DIR, checkMakeDirs } from "cnn-lab";

const USAGE = `usage: npm run ship-model -- CHECKPOINT [--out DIR]
  CHECKPOINT  a checkpoint folder (epoch-NNN) or a training --out folder (its last epoch is used)
  --out DIR   where to write (default data/lecture-cnn; an existing folder is refused)`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { out: { type: "string" } }, true);
  if (positionals.length !== 1) throw new UsageError(`expected one checkpoint folder, got ${positionals.length}`);
  const from = latestCheckpoint(userPath(positionals[0]));
  if (!from) throw new UsageError(`${positionals[0]} holds no checkpoint (expected model.json, or epoch-NNN/ folders)`);
  const out = values.out === undefined ? projectPath(path.relative(PROJECT_ROOT, SHIPPED_MODEL_DIR)) : userPath(values.out);
  checkMakeDirs(out, `the shipped model folder ${out}`); // before loading anything
  const backend = await setupBackend({ quiet: true });
  const test = mnistForTraining((await loadMnist()).test);
  try {
    const p = await shipModel(from, out, test, { source: path.relative(PROJECT_ROOT, from), backend: backend.name });
    console.log(`shipped ${from} as ${out}: seed ${p.seed}, ${p.schedule.epochs} epochs, test accuracy ${p.testAccuracy.toFixed(4)} (${p.testCorrect}/${p.testImages})`);
  } finally {
    tf.dispose(test.images);
  }
  return 0;
}

if (require.main === module) runCli(main, USAGE);
