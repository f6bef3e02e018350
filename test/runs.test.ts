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
