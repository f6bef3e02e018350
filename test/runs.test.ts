// Full runs side by side: collected from checkpoints or a notebook's stored lines, checked against the
// lecture's schedule, summarised (mean/sd checked against a hand computation).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  tf, setupBackend, createModel, loadMnist, mnistForTraining, train, formatEpoch, EpochLog, FullRun,
  runFromCheckpoints, runFromNotebook, summarizeRuns, formatRuns, readRuns, LECTURE_SCHEDULE,
  trainEnsemble, formatEnsembleEpoch, modelDirName, ensembleRunFromCheckpoints, ensembleRunFromNotebook, readEnsembleRuns,
  formatEnsembleRuns, EnsembleRecipe, EnsembleRun,
} from "cnn-lab";

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "runs-test-"));
const tmp = () => fs.mkdtempSync(path.join(tmpRoot, "t-"));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
before(() => setupBackend({ quiet: true }));

const logs = (accs: number[]): EpochLog[] =>
  accs.map((a, i) => ({ epoch: i + 1, loss: 0.1 / (i + 1), trainAccuracy: 0.95, testAccuracy: a, seconds: 100 + i }));
const run = (seed: number, accs: number[]): FullRun => ({ seed, workers: 0, source: "test", history: logs(accs) });

test("runFromCheckpoints reads a train() run and refuses one that is not the lecture's schedule", async () => {
  const mnist = await loadMnist();
  const data = mnistForTraining(mnist.train, 200);
  const dir = tmp();
  const model = createModel(3);
  const { history } = await train(model, data, { epochs: 1, seed: 3, test: data, checkpointDir: dir });
  model.dispose();
  tf.dispose(data.images);
  const mine = { ...LECTURE_SCHEDULE, epochs: 1, trainImages: 200 };
  const r = runFromCheckpoints(dir, mine);
  assert.equal(r.seed, 3);
  assert.equal(r.workers, 0);
  assert.deepEqual(r.history, history);
  assert.throws(() => runFromCheckpoints(dir), /trainImages 200 is not the lecture's 60000/);
  assert.throws(() => runFromCheckpoints(dir, { ...mine, epochs: 15 }), /expected a finished run of 15 epochs, found 1/);
  assert.throws(() => runFromCheckpoints(tmp()), /no checkpoint/);
});

test("runFromNotebook parses the lecture-style epoch lines of stored outputs", () => {
  const history = logs(Array.from({ length: 15 }, (_, i) => 0.98 + i / 1000));
  const text = history.map((h) => `${formatEpoch(h)}  checkpoint x\n`);
  const nb = (lines: string[]) => {
    const file = path.join(tmp(), "nb.ipynb");
    fs.writeFileSync(file, JSON.stringify({ cells: [{ cell_type: "code", outputs: [{ output_type: "stream", name: "stdout", text: lines }] }] }));
    return file;
  };
  const r = runFromNotebook(nb(text), 777, 1);
  assert.equal(r.seed, 777);
  assert.deepEqual(r.history.map((h) => h.testAccuracy), history.map((h) => Number(h.testAccuracy!.toFixed(4))));
  assert.throws(() => runFromNotebook(nb(text.slice(0, 14)), 777), /expected a finished run of 15 epochs, found 14/);
});

test("runFromNotebook and readRuns name the file when it is not a notebook / not JSON / holds a null cell", () => {
  const write = (content: string) => { const f = path.join(tmp(), "nb.ipynb"); fs.writeFileSync(f, content); return f; };
  let file = write("null");
  assert.throws(() => runFromNotebook(file, 1), { message: `${file}: not a notebook (expected an object with a cells array)` });
  file = write(JSON.stringify({ cells: [{ outputs: [] }, null] }));
  assert.throws(() => runFromNotebook(file, 1), { message: `${file}: cell 2 is not a notebook cell (expected an object, with an outputs array if any)` });
  file = write('{"cells": [');
  assert.throws(() => runFromNotebook(file, 1), new RegExp(`^Error: ${file}: not valid JSON \\(corrupt or truncated; expected a Jupyter notebook\\)`));
  assert.throws(() => readRuns(file), new RegExp(`^Error: ${file}: not valid JSON`));
  const dir = tmp();
  fs.mkdirSync(path.join(dir, "epoch-001"));
  fs.writeFileSync(path.join(dir, "epoch-001", "model.json"), "null");
  assert.throws(() => runFromCheckpoints(dir), { message: `checkpoint ${path.join(dir, "epoch-001")}: training metadata is missing (expected a checkpoint written by train())` });
});

test("summarizeRuns: mean and sample sd of the last epochs", () => {
  const s = summarizeRuns([run(1, [0.5, 0.99]), run(2, [0.5, 0.992]), run(3, [0.5, 0.994])]);
  assert.deepEqual(s.final, [0.99, 0.992, 0.994]);
  assert.ok(Math.abs(s.mean - 0.992) < 1e-12);
  assert.ok(Math.abs(s.sd - 0.002) < 1e-12); // sqrt((0.002² + 0 + 0.002²) / 2)
  assert.equal(s.min, 0.99);
  assert.equal(s.max, 0.994);
  assert.throws(() => summarizeRuns([]), /no runs/);
  const table = formatRuns([run(5, [0.993, 0.991])]);
  assert.match(table, /^ {3}5 {6}0\.9910 {2}0\.9930 \( 1\) {6}3\.4$/m); // (100 s + 101 s) / 60
  assert.match(table, /over 1 runs: mean 0\.9910/);
});

test("readRuns refuses a missing file, an empty list and an unfinished run", () => {
  const dir = tmp();
  assert.throws(() => readRuns(path.join(dir, "none.json")), /does not exist \(write it with npm run runs\)/);
  const write = (doc: unknown) => { const f = path.join(dir, "r.json"); fs.writeFileSync(f, JSON.stringify(doc)); return f; };
  assert.throws(() => readRuns(write({ runs: [] })), /non-empty runs array/);
  assert.throws(() => readRuns(write({ runs: [run(1, [0.99])] })), /run 1: expected a finished run of 15 epochs, found 1/);
  assert.equal(readRuns(write({ runs: [run(1, Array(15).fill(0.99))] }))[0].seed, 1);
});

test("npm run runs: a folder without checkpoints or a bad seed is refused with a non-zero exit", () => {
  const ROOT = path.resolve(__dirname, "..");
  const tool = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "tools/cli/runs.ts", ...args], { cwd: ROOT, encoding: "utf8" });
  const empty = tool([tmp(), "--out", path.join(tmp(), "x.json")]);
  assert.equal(empty.status, 1);
  assert.match(empty.stderr, /no checkpoint/);
  const bad = tool(["--notebook-seed", "x"]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--notebook-seed must be a whole number/);
});

/** A data/full-runs.json-style table holding `runs`, and a notebook whose stored outputs print a 15-epoch run. */
function table(runs: FullRun[]): string {
  const f = path.join(tmp(), "full-runs.json");
  fs.writeFileSync(f, JSON.stringify({ schedule: LECTURE_SCHEDULE, runs }, null, 1) + "\n");
  return f;
}
function printedRun(last: number): string {
  const lines = logs(Array.from({ length: 15 }, (_, i) => (i === 14 ? last : 0.98))).map((h) => `${formatEpoch(h)}\n`);
  const f = path.join(tmp(), "06.ipynb");
  fs.writeFileSync(f, JSON.stringify({ cells: [{ cell_type: "code", outputs: [{ output_type: "stream", name: "stdout", text: lines }] }] }));
  return f;
}
const runsTool = (args: string[], limitKiB?: number) => spawnSync("bash", ["-c", `${limitKiB ? `ulimit -f ${limitKiB}; ` : ""}exec "$@"`, "bash",
  process.execPath, "--import", "tsx", "tools/cli/runs.ts", ...args], { cwd: path.resolve(__dirname, ".."), encoding: "utf8" });
const finals = (file: string) => readRuns(file).map((r) => [r.seed, r.history[14].testAccuracy]);

test("npm run runs merges into the table by seed: runs not collected now are kept, the same seed is updated", () => {
  const accs = (a: number) => Array.from({ length: 15 }, () => a);
  const out = table([run(777, accs(0.991)), run(1, accs(0.992)), run(2, accs(0.993)), run(3, accs(0.994)), run(4, accs(0.995))]);
  // No folders: before, the table was rebuilt from the notebook alone (5 runs → 1, exit 0).
  const r = runsTool(["--notebook", printedRun(0.9912), "--out", out]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(finals(out), [[777, 0.9912], [1, 0.992], [2, 0.993], [3, 0.994], [4, 0.995]]);
  assert.match(r.stdout, /0 run\(s\) added, 1 updated, 4 kept from the file: seed 1, 2, 3, 4\)/);
  const nine = printedRun(0.99);
  const added = runsTool(["--notebook", nine, "--notebook-seed", "9", "--out", out]);
  assert.equal(added.status, 0, added.stderr);
  assert.deepEqual(finals(out).map(([s]) => s), [777, 1, 2, 3, 4, 9]);
  assert.equal(readRuns(out)[5].source, path.relative(path.resolve(__dirname, ".."), nine), "stored relative to the project");
  assert.equal(readRuns(out)[1].source, "test", "a kept run is stored as it was");
  // A file that is not such a table is refused, not overwritten.
  const other = path.join(tmp(), "notes.json");
  fs.writeFileSync(other, '{"todo": 1}');
  const refused = runsTool(["--notebook", printedRun(0.99), "--out", other]);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, new RegExp(`${other}: expected a non-empty runs array`));
  assert.equal(fs.readFileSync(other, "utf8"), '{"todo": 1}');
});

test("npm run runs on a full disk: the table is unchanged, the error names it, no temp file is left", () => {
  // A file-size limit makes the write fail part-way, as a full disk does (EFBIG instead of ENOSPC): in place, the
  // table was left as its first 1,024 bytes of invalid JSON and the error ("EFBIG: file too large, write") named nothing.
  const out = table([run(777, Array(15).fill(0.991)), run(1, Array(15).fill(0.992))]);
  const before = fs.readFileSync(out);
  assert.ok(before.length > 2048);
  const r = runsTool(["--notebook", printedRun(0.9912), "--out", out], 1);
  assert.equal(r.status, 1, r.stdout);
  assert.equal(r.stderr, `error: cannot write ${out}: the file would exceed the largest size allowed (the file system's or the process's limit) (EFBIG); it is unchanged\n`);
  assert.deepEqual(fs.readFileSync(out), before);
  assert.deepEqual(fs.readdirSync(path.dirname(out)), ["full-runs.json"]);
});

test("npm run runs -- --ensemble collects finished ensemble folders; refuses an unfinished one, another recipe, a seed twice", async () => {
  const mnist = await loadMnist();
  const data = mnistForTraining(mnist.train, 100);
  const test = mnistForTraining(mnist.test, 50);
  const ensembleRun = async (seed: number, batchSize = 50) => {
    const dir = tmp();
    const models = [createModel(seed), createModel(seed + 10)];
    const r = await trainEnsemble(models, data, { epochs: 2, batchSize, seed, test, checkpointDir: dir, threads: 2 });
    models.forEach((m) => m.dispose());
    return { dir, history: r.history };
  };
  const [a, b, other] = [await ensembleRun(3), await ensembleRun(4), await ensembleRun(5, 25)];
  tf.dispose([data.images, test.images]);

  const run = ensembleRunFromCheckpoints(a.dir);
  assert.equal(run.seed, 3);
  assert.deepEqual(run.history, a.history);
  assert.equal(run.recipe.models, 2);

  const ROOT = path.resolve(__dirname, "..");
  const tool = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "tools/cli/runs.ts", ...args], { cwd: ROOT, encoding: "utf8" });
  const out = path.join(tmp(), "ensemble-runs.json");
  const ok = tool(["--ensemble", a.dir, b.dir, "--out", out]);
  assert.equal(ok.status, 0, ok.stderr);
  const saved = readEnsembleRuns(out);
  assert.deepEqual(saved.map((r) => r.seed), [3, 4]);
  assert.deepEqual(saved.map((r) => r.history), [a.history, b.history]);
  const mean = (a.history[1].testAccuracy + b.history[1].testAccuracy) / 2;
  assert.match(ok.stdout, new RegExp(`over 2 runs: mean ${mean.toFixed(4).replace(".", "\\.")}`));
  assert.deepEqual(fs.readdirSync(path.dirname(out)), ["ensemble-runs.json"], "no temp file left");

  const twice = tool(["--ensemble", a.dir, a.dir, "--out", path.join(tmp(), "x.json")]);
  assert.equal(twice.status, 1);
  assert.match(twice.stderr, /seed 3 appears twice/);
  const mixed = tool(["--ensemble", a.dir, other.dir, "--out", path.join(tmp(), "x.json")]);
  assert.equal(mixed.status, 1);
  assert.match(mixed.stderr, /run 2 \(seed 5\) has another recipe than run 1: batchSize 50 vs 25/);
  const single = tool([a.dir, "--out", path.join(tmp(), "x.json")]);
  assert.equal(single.status, 1, "an ensemble folder is not a single-model run");
  const notEnsemble = tool(["--ensemble", tmp(), "--out", path.join(tmp(), "x.json")]);
  assert.equal(notEnsemble.status, 1);
  assert.match(notEnsemble.stderr, /no ensemble\.json/);

  fs.rmSync(path.join(b.dir, modelDirName(1), "epoch-002"), { recursive: true });
  assert.throws(() => ensembleRunFromCheckpoints(b.dir), /not finished: model-2 at epoch 1 of 2/);
});

const recipe = (seed: number): EnsembleRecipe => ({ models: 2, epochs: 3, batchSize: 100, learningRate: 0.001, seed, trainImages: 1000 });
const ensembleLogs = (accs: number[]) =>
  accs.map((a, i) => ({ epoch: i + 1, loss: 0.1, trainAccuracy: 0.9, testAccuracy: a, modelTestAccuracy: [a - 0.001, a - 0.002], seconds: 10 }));

test("ensembleRunFromNotebook reads formatEnsembleEpoch's lines; a line with another number of models is refused", () => {
  const history = ensembleLogs([0.98, 0.99, 0.995]);
  const file = path.join(tmp(), "nb.ipynb");
  const write = (lines: string[]) => fs.writeFileSync(file, JSON.stringify({ cells: [{ cell_type: "code", outputs: [{ output_type: "stream", text: lines }] }] }));
  write(history.map((h) => `${formatEnsembleEpoch(h)}\n`));
  const r = ensembleRunFromNotebook(file, recipe(7));
  assert.equal(r.seed, 7);
  assert.deepEqual(r.history.map((h) => [h.epoch, h.testAccuracy, h.modelTestAccuracy]), history.map((h) => [h.epoch, h.testAccuracy, h.modelTestAccuracy]));
  assert.throws(() => ensembleRunFromNotebook(file, { ...recipe(7), models: 3 }), /epoch 1 shows 2 models, the recipe has 3/);
  write(history.slice(0, 2).map((h) => `${formatEnsembleEpoch(h)}\n`));
  assert.throws(() => ensembleRunFromNotebook(file, recipe(7)), /expected a finished run of 3 epochs, found 2 epochs/);
});

test("readEnsembleRuns: a recorded run may keep only its last epochs, but must reach the recipe's last; the mean is over the runs", () => {
  const dir = tmp();
  const write = (runs: unknown[]) => { const f = path.join(dir, "e.json"); fs.writeFileSync(f, JSON.stringify({ runs })); return f; };
  const full: EnsembleRun = { seed: 1, source: "x", recipe: recipe(1), history: ensembleLogs([0.98, 0.99, 0.995]) };
  const recorded: EnsembleRun = { seed: 2, source: "y", recipe: recipe(2), history: [{ epoch: 2, testAccuracy: 0.99 }, { epoch: 3, testAccuracy: 0.997 }] };
  const runs = readEnsembleRuns(write([full, recorded]));
  assert.match(formatEnsembleRuns(runs), /^ {3}2 +- +0\.9900 +0\.9970 +-$/m);
  assert.match(formatEnsembleRuns(runs), /after epoch 3 over 2 runs: mean 0\.9960, sd 0\.0014/);
  assert.throws(() => readEnsembleRuns(write([full, { ...recorded, history: recorded.history.slice(0, 1) }])), /run 2: expected a finished run of 3 epochs, found epochs up to 2/);
  assert.throws(() => readEnsembleRuns(write([full, { ...recorded, history: [{ epoch: 3 }] }])), /run 2: epoch 3 has no test accuracy/);
  assert.throws(() => readEnsembleRuns(write([full, { ...recorded, recipe: { ...recipe(2), trainImages: 2000 } }])), /run 2 \(seed 2\) has another recipe than run 1: trainImages 1000 vs 2000/);
  assert.throws(() => readEnsembleRuns(write([])), /non-empty runs array/);
  assert.throws(() => readEnsembleRuns(path.join(dir, "none.json")), /does not exist \(write it with npm run runs -- --ensemble/);
});

test("data/ensemble-runs.json: notebook 10's seeds, the seed-777 run as notebook 10's stored outputs print it", () => {
  const ROOT = path.resolve(__dirname, "..");
  const runs = readEnsembleRuns(path.join(ROOT, "data", "ensemble-runs.json"));
  assert.deepEqual(runs.map((r) => r.seed), [777, 1]);
  const fromNotebook = ensembleRunFromNotebook(path.join(ROOT, "notebooks", "10-best.ipynb"), runs[0].recipe);
  assert.deepEqual(runs[0].history, fromNotebook.history);
});
