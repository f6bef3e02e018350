// The notebook runner must be able to fail: altered outputs, errors, hangs and leaks each fail with a clear report.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createCanvas } from "@napi-rs/canvas";
import { compareImages, lineDiff, sanitize } from "../tools/jupyter/compare";
import { Notebook, writeNotebook } from "../tools/jupyter/notebook";

const root = join(__dirname, "..");
let dir: string;
// Under the project so that cells can import project packages (tslab resolves from the notebook's folder).
before(() => { mkdirSync(join(root, "test", ".tmp"), { recursive: true }); dir = mkdtempSync(join(root, "test", ".tmp", "nb-")); });
after(() => rmSync(dir, { recursive: true, force: true }));

function notebook(name: string, cells: { source: string; tags?: string[]; timeout?: number }[], leakCheck = true): string {
  const nb: Notebook = {
    nbformat: 4, nbformat_minor: 5,
    metadata: { kernelspec: { name: "tslab", display_name: "TypeScript", language: "typescript" }, nbrun: { leakCheck } },
    cells: cells.map((c, i) => ({
      id: `c${i}`, cell_type: "code", source: c.source, execution_count: null, outputs: [],
      metadata: { ...(c.tags ? { tags: c.tags } : {}), ...(c.timeout ? { nbrun: { timeout: c.timeout } } : {}) },
    })),
  };
  const path = join(dir, `${name}.ipynb`);
  writeNotebook(path, nb);
  return path;
}

function nbrun(...args: string[]): { code: number; out: string } {
  return nbrunOn(process.execPath, ...args);
}

function nbrunOn(node: string, ...args: string[]): { code: number; out: string } {
  const r = spawnSync(node, ["--import", "tsx", join(root, "tools", "nbrun.ts"), ...args], { encoding: "utf8", timeout: 180_000 });
  return { code: r.status ?? -1, out: r.stdout + r.stderr };
}

test("update stores outputs and check passes; an altered stored output fails with a diff", () => {
  const path = notebook("good", [{ source: 'const xs = [1, 2, 3];\nconsole.log("sum", xs.reduce((a, b) => a + b));' }]);
  assert.equal(nbrun("update", path).code, 0);
  const stored = JSON.parse(readFileSync(path, "utf8"));
  assert.deepEqual(stored.cells[0].outputs[0].text, ["sum 6\n"]);
  assert.equal(stored.cells[0].id, "c0", "cell ids are kept");
  assert.equal(stored.cells[0].execution_count, 1);
  assert.equal(stored.nbformat, 4);
  assert.equal(nbrun("check", path).code, 0);

  stored.cells[0].outputs[0].text = ["sum 7\n"];
  writeNotebook(path, stored);
  const r = nbrun("check", path);
  assert.equal(r.code, 1);
  assert.match(r.out, /good\.ipynb, cell 1/);
  assert.match(r.out, /- sum 7\n\s*\+ sum 6/);
  assert.match(r.out, /xs\.reduce/, "the failing cell's source is shown");
});

test("the kernel runs on the Node that runs the runner, not the one the kernelspec recorded at install", () => {
  // Another Node binary, as when CI runs the tests under the newest LTS: here this one under another path.
  const other = join(dir, "other-node");
  try { linkSync(process.execPath, other); } catch { copyFileSync(process.execPath, other); }
  const path = notebook("which-node", [{ source: "console.log(process.execPath);" }], false);
  const r = nbrunOn(other, "update", path);
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(JSON.parse(readFileSync(path, "utf8")).cells[0].outputs[0].text, [`${other}\n`]);
});

/** Linux process table: the children of `ppid` whose command line matches, and whether a process still runs. */
const childrenOf = (ppid: number, cmd: RegExp) => readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map(Number).filter((p) => {
  try {
    const stat = readFileSync(`/proc/${p}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === ppid && cmd.test(readFileSync(`/proc/${p}/cmdline`, "utf8"));
  } catch { return false; } // exited meanwhile
});
const running = (p: number) => { // a zombie (exited, not yet reaped) counts as gone
  try {
    const stat = readFileSync(`/proc/${p}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] !== "Z";
  } catch { return false; }
};

for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
  test(`${sig} to a process running a kernel stops the kernel too`, { skip: !existsSync("/proc/self/stat") && "needs Linux /proc", timeout: 120_000 }, async () => {
    const script = join(dir, "hold-kernel.ts");
    writeFileSync(script, `import { Kernel } from ${JSON.stringify(join(root, "tools", "jupyter", "kernel"))};\n` +
      `Kernel.start(process.cwd()).then(() => { console.log("started"); setInterval(() => {}, 1000); });\n`);
    const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: dir, stdio: ["ignore", "pipe", "inherit"] });
    const exited = new Promise<NodeJS.Signals | null>((ok) => child.on("exit", (_code, signal) => ok(signal)));
    await new Promise<void>((ok, fail) => {
      child.stdout.on("data", (d) => { if (String(d).includes("started")) ok(); });
      void exited.then(() => fail(new Error("exited before starting a kernel")));
    });
    const [kernel] = childrenOf(child.pid!, /tslab/);
    assert.ok(kernel && running(kernel), "the kernel runs");
    child.kill(sig);
    assert.equal(await exited, sig, "the process dies of the signal, as without the handler");
    for (let i = 0; i < 50 && running(kernel); i++) await new Promise((r) => setTimeout(r, 100)); // reaped by init
    if (running(kernel)) { process.kill(kernel, "SIGKILL"); assert.fail(`kernel ${kernel} outlived its process`); }
  });
}

test("update --keep-ignored keeps the stored outputs of ignore-output cells and refreshes the others", () => {
  const path = notebook("keep", [
    { source: 'console.log("run", process.env.NB_PHASE);', tags: ["ignore-output"] },
    { source: 'console.log("schedule-free", 2 * 21);' },
  ], false);
  const update = (phase: string, ...flags: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", join(root, "tools", "nbrun.ts"), "update", ...flags, path], { encoding: "utf8", env: { ...process.env, NB_PHASE: phase } });
  assert.equal(update("full").status, 0);
  const first = JSON.parse(readFileSync(path, "utf8"));
  first.cells[1].outputs[0].text = ["stale\n"];
  writeNotebook(path, first);
  assert.equal(update("quick", "--keep-ignored").status, 0);
  const kept = JSON.parse(readFileSync(path, "utf8"));
  assert.deepEqual(kept.cells[0].outputs[0].text, ["run full\n"], "the ignore-output cell keeps the earlier run's output");
  assert.deepEqual(kept.cells[1].outputs[0].text, ["schedule-free 42\n"]);
  assert.equal(update("quick").status, 0);
  assert.deepEqual(JSON.parse(readFileSync(path, "utf8")).cells[0].outputs[0].text, ["run quick\n"], "without the flag every cell is refreshed");
  const misuse = nbrun("check", "--keep-ignored", path);
  assert.equal(misuse.code, 2);
  assert.match(misuse.out, /--keep-ignored applies to update only/);
});

test("a cell that throws fails with the error text; raises-exception accepts it", () => {
  const path = notebook("throws", [{ source: 'throw new Error("the filter shape is wrong");' }]);
  const r = nbrun("check", path);
  assert.equal(r.code, 1);
  assert.match(r.out, /cell raised an error/);
  assert.match(r.out, /kernel stderr:[\s\S]*the filter shape is wrong/);

  const ok = notebook("raises", [{ source: 'throw new Error("expected");', tags: ["raises-exception"] }, { source: "console.log(1 + 1)" }]);
  assert.equal(nbrun("update", ok).code, 0);
  assert.equal(nbrun("check", ok).code, 0);
  const wrong = notebook("noraise", [{ source: "console.log(1)", tags: ["raises-exception"] }]);
  assert.match(nbrun("check", wrong).out, /tagged raises-exception but ran without error/);
});

test("a hung cell times out with a clear message", () => {
  const path = notebook("hang", [{ source: "await new Promise(() => setInterval(() => {}, 1000));", timeout: 3 }]);
  const r = nbrun("check", path);
  assert.equal(r.code, 1);
  assert.match(r.out, /did not finish within 3 s/);
});

test("a dead kernel is reported", () => {
  const path = notebook("dies", [{ source: "process.exit(3);" }]);
  const r = nbrun("check", path);
  assert.equal(r.code, 1);
  assert.match(r.out, /kernel process exited \(code 3\)/);
});

test("re-running a notebook that leaks tensors fails the leak check; setupBackend's scope makes it pass", () => {
  const leaky = notebook("leaky", [{ source: 'import * as tf from "@tensorflow/tfjs";\nconst t = tf.ones([2, 2]);' }]);
  assert.equal(nbrun("update", leaky).code, 0);
  const r = nbrun("check", leaky);
  assert.equal(r.code, 1);
  assert.match(r.out, /grew tf\.memory\(\)\.numTensors from \d+ to \d+/);

  const clean = notebook("clean", [
    { source: 'import { tf, setupBackend } from "cnn-lab";\nconst info = await setupBackend({ quiet: true });' },
    { source: "const t = tf.ones([2, 2]);\nconst v = tf.variable(tf.zeros([3]));" },
  ]);
  assert.equal(nbrun("update", clean).code, 0);
  assert.equal(nbrun("check", clean).code, 0);
});

test("sanitizers normalise only timings, addresses, stack frames, the project path and the backend line", () => {
  const s = sanitize(`epoch 1 took 812 ms (1.5s)\nat 0x7f3a2c001234\n    at foo (${root}/x.js:1:2)\nbackend: cpu\nloss 0.25\n`, root);
  assert.equal(s, "epoch 1 took <time> (<time>)\nat 0x<addr>\nbackend: <backend>\nloss 0.25\n");
  assert.equal(lineDiff("a\nb", "a\nc"), "  a\n- b\n+ c");
});

test("images compare by decoded size and pixel tolerance, not bytes", () => {
  const png = (fill: string, w = 20, h = 10) => {
    const c = createCanvas(w, h);
    const ctx = c.getContext("2d");
    ctx.fillStyle = fill;
    ctx.fillRect(0, 0, w, h);
    return c.toBuffer("image/png").toString("base64");
  };
  assert.equal(compareImages(png("#808080"), png("#818181")), undefined);
  assert.match(compareImages(png("#808080"), png("#ffffff")) ?? "", /mean absolute difference/);
  assert.match(compareImages(png("#808080"), png("#808080", 10, 10)) ?? "", /expected 20x10, got 10x10/);
});
