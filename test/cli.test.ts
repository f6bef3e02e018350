// The two CLIs as a user runs them: bad input gets a clear message and a non-zero exit; a short real
// training run writes checkpoints, resumes, stops cleanly on Ctrl-C; predict classifies a drawn digit.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createCanvas } from "@napi-rs/canvas";
import { loadMnist, Mnist } from "cnn-lab";

const ROOT = path.resolve(__dirname, "..");
// Every temp folder lives under one root, removed when the file's tests end.
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "cli-test-"));
const tmp = () => fs.mkdtempSync(path.join(tmpRoot, "t-"));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

function run(tool: "train" | "predict" | "runs" | "bench", args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", `tools/cli/${tool}.ts`, ...args], { cwd: ROOT, encoding: "utf8", timeout: 300_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function usageError(r: ReturnType<typeof run>, message: RegExp): void {
  assert.equal(r.code, 2, `exit code 2 expected, got ${r.code}; stderr: ${r.stderr}`);
  assert.match(r.stderr, message);
  assert.match(r.stderr, /usage: npm run (train|predict|bench) --/);
}

let mnist: Mnist;
let work: string;
before(async () => {
  mnist = await loadMnist();
  work = tmp();
});

/** Test digit i drawn large, dark ink on light paper, as a PNG. */
function digitPng(i: number, scale = 6): string {
  const canvas = createCanvas(28 * scale + 40, 28 * scale + 20);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#f4f4f4";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) {
    const v = mnist.test.images[i * 784 + y * 28 + x];
    const g = 244 - Math.round(v * 0.9);
    ctx.fillStyle = `rgb(${g},${g},${g})`;
    ctx.fillRect(20 + x * scale, 10 + y * scale, scale, scale);
  }
  const file = path.join(work, `digit-${i}.png`);
  fs.writeFileSync(file, canvas.toBuffer("image/png"));
  return file;
}

test("train: unknown flags and bad values are usage errors (exit 2) naming the flag and what it needs", () => {
  usageError(run("train", ["--frobnicate"]), /error: Unknown option '--frobnicate'/);
  usageError(run("train", ["--epochs", "-3"]), /error: --epochs must be a whole number >= 1, got "-3"/);
  usageError(run("train", ["--epochs", "0"]), /error: --epochs must be a whole number >= 1, got "0"/);
  usageError(run("train", ["--batch-size", "ten"]), /error: --batch-size must be a whole number >= 1, got "ten"/);
  usageError(run("train", ["--epochs", "2.5"]), /got "2.5"/);
  usageError(run("train", ["--backend", "gpu"]), /error: --backend must be one of tensorflow, wasm, cpu, got "gpu"/);
  usageError(run("train", ["--out"]), /error: Option '--out <value>' argument missing/);
  usageError(run("train", ["extra"]), /error: Unexpected argument 'extra'/);
  usageError(run("train", ["--limit", "70000", "--out", path.join(work, "never")]), /--limit must be at most 60000 \(the training set\), got 70000/);
  assert.ok(!fs.existsSync(path.join(work, "never")), "a refused run writes nothing");
});

function nodeplotlibInstalled(): boolean {
  try {
    require.resolve("nodeplotlib");
    return true;
  } catch {
    return false;
  }
}

test("train --plot without nodeplotlib says how to get it, before loading any data", () => {
  // Hide the optional package (whether or not it is installed here) the way a missing install would.
  const hide = path.join(work, "hide-nodeplotlib.cjs");
  fs.writeFileSync(hide, `const M = require("module"); const r = M._resolveFilename;
M._resolveFilename = function (req, ...rest) {
  if (req === "nodeplotlib") { const e = new Error("Cannot find module 'nodeplotlib'"); e.code = "MODULE_NOT_FOUND"; throw e; }
  return r.call(this, req, ...rest);
};`);
  const r = spawnSync(process.execPath, ["--require", hide, "--import", "tsx", "tools/cli/train.ts", "--plot", "--out", path.join(work, "plot0")], { cwd: ROOT, encoding: "utf8" });
  usageError({ code: r.status, stdout: r.stdout, stderr: r.stderr }, /--plot needs the optional package nodeplotlib, which is not installed: run `npm install nodeplotlib`/);
  assert.doesNotMatch(r.stdout, /backend:/);
});

test("train --plot with a nodeplotlib whose page lacks its local plotly (install scripts skipped) says how to fix it, before loading any data", { skip: !nodeplotlibInstalled() && "nodeplotlib is not installed" }, () => {
  // nodeplotlib's folder as seen by train.ts becomes an empty copy: what `npm install --ignore-scripts` leaves.
  const fake = path.join(work, "unpatched-nodeplotlib");
  fs.mkdirSync(fake, { recursive: true });
  fs.writeFileSync(path.join(fake, "package.json"), "{}");
  const hide = path.join(work, "unpatched-nodeplotlib.cjs");
  fs.writeFileSync(hide, `const M = require("module"); const r = M._resolveFilename;
M._resolveFilename = function (req, ...rest) {
  return req === "nodeplotlib/package.json" ? ${JSON.stringify(path.join(fake, "package.json"))} : r.call(this, req, ...rest);
};`);
  const r = spawnSync(process.execPath, ["--require", hide, "--import", "tsx", "tools/cli/train.ts", "--plot", "--out", path.join(work, "plot1")], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  usageError({ code: r.status, stdout: r.stdout, stderr: r.stderr }, /--plot: nodeplotlib's page has no local plotly \(.*unpatched-nodeplotlib\/src\/lib\/server\/web\/plotly\.min\.js is missing\): run `npm install`/);
  assert.doesNotMatch(r.stdout, /backend:/);
});

test("train --plot serves live curves through nodeplotlib", { skip: !nodeplotlibInstalled() && "nodeplotlib is not installed" }, async () => {
  const port = 20000 + (process.pid % 20000);
  // NODEPLOTLIB_PORT fixes the port and keeps nodeplotlib from opening a browser.
  const child = spawn(process.execPath, ["--import", "tsx", "tools/cli/train.ts", "--plot", "--epochs", "1", "--limit", "200", "--workers", "0", "--out", path.join(work, "plot")], {
    cwd: ROOT, env: { ...process.env, NODEPLOTLIB_PORT: String(port) },
  });
  let stdout = "";
  child.stderr.resume();
  const exited = new Promise((resolve) => child.on("exit", resolve));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "done:" line; stdout so far: ${stdout}`)), 120_000);
      child.stdout.on("data", (d) => {
        stdout += d;
        if (/^done: /m.test(stdout)) { clearTimeout(timer); resolve(); }
      });
    });
    assert.match(stdout, new RegExp(`Server running at http://127.0.0.1:${port}`));
    const page = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>Nodeplotlib<\/title>/);
    assert.match(stdout, /the plots stay up until you close their browser window/);
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
});

const out = () => path.join(work, "run");

test("train: a short run writes one checkpoint per epoch, --resume continues, an existing run is not overwritten", () => {
  const first = run("train", ["--epochs", "1", "--limit", "300", "--batch-size", "50", "--workers", "0", "--out", out()]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /training from scratch/);
  assert.match(first.stdout, /^Epoch: 1 loss = \d\.\d{8} train accuracy = \d\.\d{4} test accuracy = \d\.\d{4} \(\d+\.\d s\) {2}checkpoint .*epoch-001$/m);
  assert.deepEqual(fs.readdirSync(out()), ["epoch-001"]);

  usageError(run("train", ["--epochs", "2", "--out", out()]), /already holds checkpoints \(up to epoch 1\): add --resume to continue, or choose another --out/);

  const second = run("train", ["--epochs", "2", "--limit", "300", "--batch-size", "50", "--workers", "0", "--out", out(), "--resume"]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /resuming from .*epoch-001/);
  assert.match(second.stdout, /^Epoch: 2 /m);
  assert.doesNotMatch(second.stdout, /^Epoch: 1 /m);
  assert.deepEqual(fs.readdirSync(out()), ["epoch-001", "epoch-002"]);

  // A resume with another schedule is refused before any loading, naming both values, unless allowed explicitly.
  const changed = path.join(work, "changed");
  fs.cpSync(out(), changed, { recursive: true });
  const resume3 = ["--epochs", "3", "--batch-size", "50", "--workers", "0", "--out", changed, "--resume"];
  usageError(run("train", [...resume3, "--limit", "300", "--seed", "5"]), /seed 777 in the checkpoint, 5 now.*add --allow-schedule-change/);
  usageError(run("train", [...resume3, "--limit", "200"]), /trainImages 300 in the checkpoint, 200 now/);
  assert.deepEqual(fs.readdirSync(changed), ["epoch-001", "epoch-002"]);
  const allowed = run("train", [...resume3, "--limit", "300", "--seed", "5", "--allow-schedule-change"]);
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.match(allowed.stdout, /^Epoch: 3 /m);
});

test("train --recipe: the ensembles train from a terminal, refuse to overwrite, resume, and refuse another recipe", () => {
  usageError(run("train", ["--recipe", "lab-11-9"]), /--recipe must be one of lab-11-1, lab-11-4, lab-11-5, got "lab-11-9"/);
  usageError(run("train", ["--epoch-images", "100"]), /--epoch-images is for the ensembles/);
  const dir = path.join(work, "ensemble");
  const args = ["--recipe", "lab-11-4", "--limit", "200", "--out", dir];
  const first = run("train", [...args, "--epochs", "1"]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^Epoch: 1 loss = \d\.\d{8} train accuracy = \d\.\d{4} test accuracy = \d\.\d{4} \(models: \d\.\d{4} \d\.\d{4} \d\.\d{4}; [\d.]+ s\)$/m);
  assert.deepEqual(fs.readdirSync(dir).sort(), ["ensemble.json", "model-1", "model-2", "model-3"]);
  usageError(run("train", [...args, "--epochs", "2"]), /already holds an ensemble's checkpoints: add --resume/);
  usageError(run("train", [...args, "--epochs", "2", "--resume", "--seed", "5"]), /cannot resume the ensemble in .* with another recipe: seed 777 in the run, 5 now/);
  const again = run("train", [...args, "--epochs", "1", "--resume"]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /nothing to do: .* already has 1 epoch\(s\)/);
});

test("every CLI prints its usage on stdout and exits 0 for --help", () => {
  for (const tool of ["train", "predict", "runs", "bench", "start"]) {
    const r = spawnSync(process.execPath, ["--import", "tsx", tool === "start" ? "tools/start.ts" : `tools/cli/${tool}.ts`, "--help"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, `${tool}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^usage: npm (run ${tool} --|${tool})`), tool);
    assert.equal(r.stderr, "", tool);
  }
  const nbrun = spawnSync(process.execPath, ["--import", "tsx", "tools/jupyter/nbrun.ts", "--help"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  assert.equal(nbrun.status, 0, nbrun.stderr);
  assert.match(nbrun.stdout, /^usage: npm run test:notebooks --/);
  const bad = spawnSync(process.execPath, ["--import", "tsx", "tools/jupyter/nbrun.ts", "check", "--frobnicate"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^error: Unknown option '--frobnicate'/);
});

test("train: Ctrl-C stops after the current batch, exits 130 and keeps the last complete checkpoint", async () => {
  const dir = path.join(work, "interrupted");
  // As from a terminal: `npm run train` in its own process group, and SIGINT to the whole group.
  const child = spawn("npm", ["run", "--silent", "train", "--", "--epochs", "20", "--limit", "3000", "--workers", "0", "--out", dir], { cwd: ROOT, detached: true });
  let stdout = "";
  let stderr = "";
  let sent = false;
  child.stderr.on("data", (d) => (stderr += d));
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => {
    child.stdout.on("data", (d) => {
      stdout += d;
      // Interrupt early in epoch 2 (on a fast machine it may be later: the checks below follow the epochs printed).
      if (/^Epoch: 1 /m.test(stdout) && !sent) {
        sent = true;
        setTimeout(() => process.kill(-child.pid!, "SIGINT"), 300);
      }
    });
    child.on("exit", (c, sig) => resolve([c, sig]));
  });
  assert.match(stderr, /Ctrl-C: stopping after this batch; the last complete checkpoint is kept/);
  const done = stdout.match(/^Epoch: \d+ /gm)!.length;
  assert.ok(done >= 1 && done < 20, `stopped during the run, after ${done} epoch(s)`);
  const last = `epoch-${String(done).padStart(3, "0")}`;
  assert.match(stdout, new RegExp(`stopped\\. last complete checkpoint: .*${last}; continue with --resume`));
  // train exits 130; npm, interrupted too, passes that on as 130 or by re-raising SIGINT on itself.
  assert.ok(code === 130 || signal === "SIGINT", `exit ${code} / signal ${signal}; stderr: ${stderr}`);
  const epochs = Array.from({ length: done }, (_, i) => `epoch-${String(i + 1).padStart(3, "0")}`);
  assert.deepEqual(fs.readdirSync(dir).sort(), epochs, "only complete checkpoints, no temp folders");
});

test("predict: classifies a drawn test digit and prints the top-3 probabilities", () => {
  const image = digitPng(0); // a 7
  const r = run("predict", [image, "--model", out()]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /light background \(inverted\)/);
  assert.match(r.stdout, /^model: .*epoch-002$/m);
  const lines = [...r.stdout.matchAll(/^ {2}(\d): (\d+\.\d\d)%$/gm)].map((m) => ({ digit: Number(m[1]), p: Number(m[2]) }));
  assert.equal(lines.length, 3);
  assert.equal(new Set(lines.map((l) => l.digit)).size, 3);
  assert.ok(lines[0].p >= lines[1].p && lines[1].p >= lines[2].p, "sorted by probability");
  assert.ok(lines.reduce((s, l) => s + l.p, 0) <= 100.01);
});

test("predict: bad input gets a clear message and a non-zero exit", () => {
  const image = digitPng(1);
  usageError(run("predict", []), /error: expected one image file, got 0/);
  usageError(run("predict", [image, "--bogus"]), /error: Unknown option '--bogus'/);
  usageError(run("predict", [path.join(work, "nope.png"), "--model", out()]), /error: image .*nope\.png does not exist/);
  const text = path.join(work, "notes.png");
  fs.writeFileSync(text, "not an image at all");
  usageError(run("predict", [text, "--model", out()]), /notes\.png is not an image this tool can read \(expected PNG, JPEG, WebP, GIF or BMP\)/);
  const tiny = path.join(work, "tiny.png");
  fs.writeFileSync(tiny, createCanvas(5, 4).toBuffer("image/png"));
  usageError(run("predict", [tiny, "--model", out()]), /image is 5x4 pixels: expected at least 8x8 to hold a digit/);
  const blank = createCanvas(40, 40);
  blank.getContext("2d").fillStyle = "#ffffff";
  blank.getContext("2d").fillRect(0, 0, 40, 40);
  fs.writeFileSync(path.join(work, "blank.png"), blank.toBuffer("image/png"));
  usageError(run("predict", [path.join(work, "blank.png"), "--model", out()]), /no digit found: the image is \(almost\) one uniform colour/);
  usageError(run("predict", [image, "--model", path.join(work, "missing")]), /model folder .*missing does not exist: train one with `npm run train -- --out/);
  fs.mkdirSync(path.join(work, "empty"));
  usageError(run("predict", [image, "--model", path.join(work, "empty")]), /holds no checkpoint \(expected model\.json, or epoch-NNN\/ folders/);
});

test("a corrupt checkpoint is refused by predict and by train --resume, never loaded half-way", () => {
  const dir = path.join(work, "corrupt");
  fs.cpSync(out(), dir, { recursive: true });
  const bin = path.join(dir, "epoch-002", "weights.bin");
  const bytes = fs.readFileSync(bin);
  fs.writeFileSync(bin, bytes.subarray(0, bytes.length - 1000));
  const msg = /checkpoint .*epoch-002: weight files hold \d+ bytes but the manifest expects \d+ bytes \(corrupt or partial checkpoint\)/;
  const p = run("predict", [digitPng(2), "--model", dir]);
  assert.equal(p.code, 1);
  assert.match(p.stderr, msg);
  const t = run("train", ["--epochs", "3", "--limit", "300", "--batch-size", "50", "--workers", "0", "--out", dir, "--resume"]);
  assert.equal(t.code, 1);
  assert.match(t.stderr, msg);
  assert.doesNotMatch(t.stdout, /^Epoch: 3/m);
});

/** A copy of the trained run's last checkpoint whose model.json / weights.bin a test may alter. */
function checkpointCopy(name: string): string {
  const dir = path.join(work, name);
  fs.cpSync(path.join(out(), "epoch-002"), dir, { recursive: true });
  return dir;
}

test("predict refuses a model with non-finite weights, naming the folder, instead of printing NaN%", () => {
  const dir = checkpointCopy("nan");
  const bin = path.join(dir, "weights.bin");
  const n = fs.statSync(bin).size / 4;
  fs.writeFileSync(bin, new Uint8Array(new Float32Array(n).fill(NaN).buffer));
  const r = run("predict", [digitPng(3), "--model", dir]);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, new RegExp(`error: model ${dir}: weight conv1/kernel holds NaN at index 0: expected finite numbers`));
  assert.doesNotMatch(r.stdout, /NaN%/);
});

test("predict refuses a model that does not output logits (it would apply softmax twice)", () => {
  const edit = (name: string, change: (layers: { class_name: string; config: Record<string, unknown> }[]) => void) => {
    const dir = checkpointCopy(name);
    const file = path.join(dir, "model.json");
    const json = JSON.parse(fs.readFileSync(file, "utf8"));
    change(json.modelTopology.config.layers);
    fs.writeFileSync(file, JSON.stringify(json));
    return dir;
  };
  const softmaxLayer = edit("softmax-layer", (layers) => layers.push({ class_name: "Softmax", config: { name: "probs", axis: -1 } }));
  const activation = edit("activation-layer", (layers) => layers.push({ class_name: "Activation", config: { name: "probs", activation: "softmax" } }));
  const denseSoftmax = edit("dense-softmax", (layers) => { layers[layers.length - 1].config.activation = "softmax"; });
  for (const [dir, what] of [[softmaxLayer, "a Softmax layer"], [activation, "an Activation layer \\(softmax\\)"], [denseSoftmax, "a Dense layer with softmax activation"]]) {
    const r = run("predict", [digitPng(0), "--model", dir]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, new RegExp(`error: model ${dir}: the model ends in ${what} \\(layer "\\w+"\\); it must output logits`));
  }
});

test("train: a second run on the same --out exits 2 naming the first one's pid; a killed run's lock does not block", async () => {
  const dir = path.join(work, "locked");
  const first = spawn(process.execPath, ["--import", "tsx", "tools/cli/train.ts", "--epochs", "20", "--limit", "3000", "--workers", "0", "--out", dir], { cwd: ROOT });
  const exited = new Promise<[number | null, string | null]>((resolve) => first.on("exit", (c, s) => resolve([c, s])));
  first.stderr.resume();
  try {
    await new Promise<void>((resolve) => {
      let stdout = "";
      first.stdout.on("data", (d) => { stdout += d; if (/^Epoch: 1 /m.test(stdout)) resolve(); });
    });
    const second = run("train", ["--epochs", "2", "--limit", "3000", "--workers", "0", "--out", dir, "--resume"]);
    assert.equal(second.code, 2, second.stderr);
    assert.match(second.stderr, new RegExp(`^error: ${dir} is in use by another training run \\(pid ${first.pid}, since [^)]+\\): wait for it to end or stop it, or choose another folder$`, "m"));
    assert.doesNotMatch(second.stderr, /usage:/);
  } finally {
    first.kill("SIGKILL");
  }
  assert.deepEqual(await exited, [null, "SIGKILL"]);
  assert.ok(fs.existsSync(path.join(dir, ".train.lock")), "a killed run leaves its lock");
  const third = run("train", ["--epochs", "2", "--limit", "3000", "--workers", "0", "--out", dir, "--resume"]);
  assert.equal(third.code, 0, third.stderr);
  assert.match(third.stdout, /resuming from .*epoch-00\d/);
  assert.ok(!fs.existsSync(path.join(dir, ".train.lock")), "released at the end");
});

test("train: an --out that cannot be written is refused before training, naming the path", () => {
  const file = path.join(work, "plain-file");
  fs.writeFileSync(file, "");
  const under = run("train", ["--epochs", "1", "--limit", "100", "--workers", "0", "--out", path.join(file, "out")]);
  assert.equal(under.code, 1, under.stdout);
  assert.match(under.stderr, new RegExp(`^error: cannot create the checkpoint folder ${file}/out: ${file} is a file, expected a folder$`, "m"));
  assert.doesNotMatch(under.stdout, /Epoch: 1/);
  const itself = run("train", ["--epochs", "1", "--limit", "100", "--workers", "0", "--out", file]);
  assert.equal(itself.code, 1);
  assert.match(itself.stderr, new RegExp(`^error: ${file} is a file, expected a folder of checkpoints$`, "m"));
  usageError(run("predict", [digitPng(0), "--model", file]), new RegExp(`--model ${file} is a file: expected a checkpoint folder`));
});

test("train: a batch larger than the training set or than the wasm memory is a usage error stating the limit", () => {
  usageError(run("train", ["--batch-size", "1000000", "--limit", "100", "--out", path.join(work, "big")]),
    /error: --batch-size must be at most 100 \(the number of training images\), got 1000000/);
  usageError(run("train", ["--batch-size", "4000", "--limit", "4000", "--workers", "0", "--backend", "wasm", "--out", path.join(work, "big")]),
    /error: --batch-size must be at most \d+ \(a training step takes ~1\.3 MB per image and the wasm backend's memory is at most 4 GiB per thread \(1 thread\(s\)\)\), got 4000/);
  assert.ok(!fs.existsSync(path.join(work, "big")), "a refused run writes nothing");
});

test("relative paths are the user's: resolved from where npm was run (INIT_CWD), not the project root", () => {
  const here = tmp();
  const env = { INIT_CWD: here };
  const t = run("train", ["--epochs", "1", "--limit", "100", "--workers", "0", "--out", "rel-out"], env);
  assert.equal(t.code, 0, t.stderr);
  assert.deepEqual(fs.readdirSync(path.join(here, "rel-out")), ["epoch-001"]);
  assert.ok(!fs.existsSync(path.join(ROOT, "rel-out")));
  fs.copyFileSync(digitPng(0), path.join(here, "seven.png"));
  const p = run("predict", ["seven.png", "--model", "rel-out"], env);
  assert.equal(p.code, 0, p.stderr);
  assert.match(p.stdout, new RegExp(`^${here}/seven\\.png: `, "m"));
  assert.match(p.stdout, new RegExp(`^model: ${here}/rel-out/epoch-001$`, "m"));
  // npm run runs reads the user's folders too, and names the file when a model.json is corrupt.
  fs.writeFileSync(path.join(here, "rel-out", "epoch-001", "model.json"), "{ half a file");
  const r = run("runs", ["rel-out", "--out", "runs.json"], env);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`^error: ${here}/rel-out/epoch-001/model\\.json: not valid JSON \\(corrupt or truncated; expected a checkpoint's model\\.json\\)`, "m"));
});

test("train --resume keeps the run's worker count: no --workers uses the recorded one, another is refused before loading", () => {
  const dir = path.join(work, "workers");
  const args = ["--limit", "100", "--batch-size", "50", "--out", dir];
  const first = run("train", [...args, "--epochs", "1", "--workers", "1"]);
  assert.equal(first.code, 0, first.stderr);
  usageError(run("train", [...args, "--epochs", "2", "--workers", "0", "--resume"]),
    new RegExp(`cannot resume ${dir}/epoch-001 with 0 worker thread\\(s\\): the run used 1, .*leave --workers out to use the run's, or add --allow-schedule-change`));
  const again = run("train", [...args, "--epochs", "1", "--resume"]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /1 extra worker thread\(s\)/);
  assert.match(again.stdout, /nothing to do/);
  const cores = os.availableParallelism();
  usageError(run("train", [...args, "--epochs", "1", "--workers", String(cores + 1), "--out", path.join(work, "w2")]),
    new RegExp(`--workers must be at most ${cores} \\(the CPU cores; more threads only compete for them\\), got ${cores + 1}`));
  usageError(run("train", ["--limit", "100", "--batch-size", "1", "--workers", "1", "--out", path.join(work, "w2")]),
    /--workers must be at most 0 for batches of 1 image\(s\)/);
  assert.ok(!fs.existsSync(path.join(work, "w2")), "a refused run writes nothing");
});

test("train: a run never goes into a folder holding the other kind of run (single model vs ensemble)", () => {
  const single = path.join(work, "single-run");
  fs.mkdirSync(path.join(single, "epoch-001"), { recursive: true });
  for (const extra of [[], ["--resume"]]) {
    usageError(run("train", ["--recipe", "lab-11-4", "--limit", "100", "--out", single, ...extra]),
      new RegExp(`${single} holds a single model's run \\(epoch-NNN/\\): an ensemble cannot train into it; continue that run without --recipe, or use another folder`));
  }
  const ensemble = path.join(work, "ensemble-run");
  fs.mkdirSync(path.join(ensemble, "model-1"), { recursive: true });
  fs.writeFileSync(path.join(ensemble, "ensemble.json"), "{}");
  for (const extra of [[], ["--resume"]]) {
    usageError(run("train", ["--limit", "100", "--out", ensemble, ...extra]),
      new RegExp(`${ensemble} holds an ensemble's run \\(ensemble\\.json, model-N/\\): a single model cannot train into it; continue it with its --recipe and --resume, or use another folder`));
  }
  assert.deepEqual(fs.readdirSync(single), ["epoch-001"]);
  assert.deepEqual(fs.readdirSync(ensemble).sort(), ["ensemble.json", "model-1"]);
});

test("seeds too large to store exactly, or beyond what the shuffle tells apart, are usage errors", () => {
  usageError(run("train", ["--seed", "99999999999999999999"]), /--seed must be a whole number from 0 to 2147483647, got "99999999999999999999"/);
  usageError(run("train", ["--seed", "2147483648"]), /--seed must be a whole number from 0 to 2147483647, got "2147483648"/);
  usageError(run("train", ["--epochs", "99999999999999999999"]), /--epochs must be a whole number from 1 to 9007199254740991, got "99999999999999999999"/);
});

test("bench: a batch that cannot fit, or more workers than cores or images, is a usage error before any work", () => {
  usageError(run("bench", ["--batch", "20000"]), /--batch must be at most \d+ \(a training step takes ~[\d.]+ MB per image and .*\), got 20000/);
  const cores = os.availableParallelism();
  usageError(run("bench", ["--workers", String(cores + 1)]), new RegExp(`--workers must be at most ${cores} \\(the CPU cores`));
  usageError(run("bench", ["--batch", "2", "--workers", "2"]), /--workers must be at most 1 for batches of 2 image\(s\)/);
});

test("predict --model refuses a run whose newest checkpoint folder is named for another epoch than it holds", () => {
  const runDir = path.join(work, "renamed-run");
  for (const [name, epoch] of [["epoch-004", 4], ["epoch-009", 2]] as const) {
    fs.mkdirSync(path.join(runDir, name), { recursive: true });
    fs.copyFileSync(path.join(ROOT, "data/lecture-cnn/weights.bin"), path.join(runDir, name, "weights.bin"));
    const json = JSON.parse(fs.readFileSync(path.join(ROOT, "data/lecture-cnn/model.json"), "utf8"));
    fs.writeFileSync(path.join(runDir, name, "model.json"), JSON.stringify({ ...json, userDefinedMetadata: { epoch } }));
  }
  const r = run("predict", [digitPng(0), "--model", runDir]);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, new RegExp(`^error: checkpoint ${runDir}/epoch-009: its folder name says epoch 9 but its metadata says epoch 2 \\(renamed or copied by hand\\?\\)`, "m"));
  assert.doesNotMatch(r.stdout, /%/);
});
