// The notebook runner must be able to fail: altered outputs, errors, hangs and leaks each fail with a clear report.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { createCanvas } from "@napi-rs/canvas";
import * as zmq from "zeromq";
import { compareImages, lineDiff, sanitize } from "../tools/jupyter/compare";
import { freePorts, JUPYTER_PATH, Kernel, KernelStartError, sign, verifySignature } from "../tools/jupyter/kernel";
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
  const r = spawnSync(node, ["--import", "tsx", join(root, "tools", "jupyter", "nbrun.ts"), ...args], { encoding: "utf8", timeout: 180_000 });
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

test("update on a full disk leaves the notebook unchanged and names it", () => {
  // A file-size limit (8 KiB) makes the write fail part-way, as a full disk does (EFBIG instead of ENOSPC). Written in
  // place, the notebook was left as its first 8,192 bytes of invalid JSON.
  const path = notebook("full-disk", [{ source: `// ${"a long comment ".repeat(800)}\nconsole.log("fresh");` }], false);
  const before = readFileSync(path);
  assert.ok(before.length > 8192);
  const r = spawnSync("bash", ["-c", 'ulimit -f 8; exec "$@"', "bash", process.execPath, "--import", "tsx", join(root, "tools", "jupyter", "nbrun.ts"), "update", path],
    { encoding: "utf8", timeout: 180_000 });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.ok(r.stderr.includes(`cannot write ${path}: the file would exceed the largest size allowed (the file system's or the process's limit) (EFBIG); it is unchanged`), r.stderr);
  assert.deepEqual(readFileSync(path), before);
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes("full-disk")), ["full-disk.ipynb"], "no temp file left");
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
    const [kernel] = childrenOf(child.pid!, /tools\/kernel\/main\.mjs/); // the kernelspec's kernel (tools/kernelspec.mjs)
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
    spawnSync(process.execPath, ["--import", "tsx", join(root, "tools", "jupyter", "nbrun.ts"), "update", ...flags, path], { encoding: "utf8", env: { ...process.env, NB_PHASE: phase } });
  assert.equal(update("full").status, 0);
  const first = JSON.parse(readFileSync(path, "utf8"));
  first.cells[1].outputs[0].text = ["stale\n"];
  writeNotebook(path, first);
  assert.equal(update("quick", "--keep-ignored").status, 0);
  const kept = JSON.parse(readFileSync(path, "utf8"));
  assert.deepEqual(kept.cells[0].outputs[0].text, ["run full\n"], "the ignore-output cell keeps the earlier run's output");
  assert.deepEqual(kept.cells[1].outputs[0].text, ["schedule-free 42\n"]);
  // A new ignore-output cell (no stored outputs yet) takes the run's outputs: there is nothing to keep.
  kept.cells.push({ ...kept.cells[0], id: "new", source: ['console.log("new", process.env.NB_PHASE);'], outputs: [], execution_count: null });
  writeNotebook(path, kept);
  assert.equal(update("quick", "--keep-ignored").status, 0);
  const added = JSON.parse(readFileSync(path, "utf8"));
  assert.deepEqual(added.cells[0].outputs[0].text, ["run full\n"]);
  assert.deepEqual(added.cells[2].outputs[0].text, ["new quick\n"]);
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

test("--timeout beyond 24 h, zero or not a number is a usage error, not every cell failing at once", () => {
  const path = notebook("quick", [{ source: "1 + 1" }]);
  for (const value of ["3000000", "0", "abc", "Infinity"]) {
    const r = nbrun("check", "--timeout", value, path);
    assert.equal(r.code, 2, r.out);
    assert.ok(r.out.includes(`error: --timeout: expected a number of seconds > 0 and at most 86400 (24 h), got "${value}" (default 120)`), r.out);
  }
});

/** A notebook file with `cells` as given (raw JSON: malformed on purpose). */
function rawNotebook(name: string, cells: unknown[]): string {
  const path = join(dir, `${name}.ipynb`);
  writeFileSync(path, JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells }));
  return path;
}
const codeCell = (over: object) => ({ cell_type: "code", source: "1 + 1", metadata: {}, outputs: [], ...over });

test("a cell's metadata.nbrun.timeout that is not a positive number of seconds up to 24 h fails before any cell runs, naming notebook, cell and value", () => {
  const good = notebook("before-bad-timeout", [{ source: "console.log(1)" }], false);
  for (const [timeout, shown] of [[1e10, "10000000000"], ["abc", '"abc"'], [0, "0"], [-5, "-5"], [null, "null"]] as const) {
    const bad = rawNotebook("bad-timeout", [{ cell_type: "markdown", source: "# t", metadata: {} }, codeCell({ metadata: { nbrun: { timeout } } })]);
    const r = nbrun("check", good, bad);
    assert.equal(r.code, 1, r.out);
    assert.equal(r.out, `error: ${bad}: cell 2: metadata.nbrun.timeout: expected a number of seconds > 0 and at most 86400 (24 h), got ${shown}\n`, "one line, and no notebook ran");
  }
});

test("a malformed notebook is an error naming the file, the cell and what was expected (not a TypeError)", () => {
  const cases: [unknown[], string][] = [
    [[codeCell({}), null], "cell 2: expected an object with cell_type, source and metadata, got null"],
    [[codeCell({ source: 42 })], "cell 1: expected source to be a string or a list of strings, got 42"],
    [[codeCell({ source: ["a", 1] })], 'cell 1: expected source to be a string or a list of strings, got ["a",1]'],
    [[codeCell({ cell_type: "python" })], 'cell 1: expected cell_type code, markdown or raw, got "python"'],
    [[codeCell({ outputs: [null] })], "cell 1: output 1: expected an object with output_type stream / display_data / execute_result / error, got null"],
    [[codeCell({ outputs: [{ output_type: "stream", name: "stdout", text: 5 }] })], "cell 1: output 1: a stream output needs a name and text (a string or a list of strings)"],
    [[codeCell({ outputs: {} })], "cell 1: expected outputs to be a list, got {}"],
    [[codeCell({ metadata: { tags: "skip-execution" } })], 'cell 1: expected metadata.tags to be a list of strings, got "skip-execution"'],
  ];
  for (const [cells, why] of cases) {
    const path = rawNotebook("malformed", cells);
    const r = nbrun("check", path);
    assert.equal(r.code, 1, r.out);
    assert.equal(r.out, `error: ${path}: ${why}\n`);
  }
});

test("a cell printing without end is stopped at 64 MiB of output with a clear error, its kernel stopped (not a stall until the timeout)", async () => {
  const marker = join(dir, "flood.json");
  // Before: the runner joined it all into one string, past V8's limit (600 MiB), then waited for the cell's timeout.
  const path = notebook("flood", [{ source: `require("node:fs").writeFileSync(${JSON.stringify(marker)}, String(process.pid));
const chunk = "x".repeat(2 ** 20 - 1) + "\\n";
for (;;) { process.stdout.write(chunk); await new Promise((r) => setImmediate(r)); }`, timeout: 90 }], false);
  const r = nbrun("check", path);
  assert.equal(r.code, 1, r.out.slice(0, 2000));
  assert.match(r.out, /flood\.ipynb, cell 1\n/);
  assert.ok(r.out.includes("cell printed more than 64 MiB of output (stdout, stderr and displays); the run was stopped"), r.out.slice(0, 2000));
  assert.deepEqual(await survivors([Number(readFileSync(marker, "utf8"))]), [], "the kernel is stopped");
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

test("a tensor a cell makes and drops undisposed fails the leak check even though setupBackend frees it on re-run", () => {
  const setup = { source: 'import { tf, setupBackend } from "cnn-lab";\nconst info = await setupBackend({ quiet: true });' };
  const dropped = notebook("dropped", [setup, { source: "console.log(tf.ones([10, 10]).sum().dataSync()[0]);" }]);
  assert.equal(nbrun("update", dropped).code, 0);
  const r = nbrun("check", dropped);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /after the run, 2 tensor\(s\) are alive that no notebook variable holds: float32 \[10,10\], float32 \[\]/);

  const kept = notebook("kept", [setup, { source: "const kept = tf.tidy(() => tf.keep(tf.ones([10, 10])));" }]);
  assert.equal(nbrun("update", kept).code, 0);
  const k = nbrun("check", kept);
  assert.equal(k.code, 1, k.out);
  assert.match(k.out, /re-running the notebook grew tf\.memory\(\)\.numTensors from \d+ to \d+/);
  assert.match(k.out, /after re-running the notebook, 1 tensor\(s\) are alive that no notebook variable holds/);
});

test("sanitizers normalise only timings, addresses, stack frames, the project path and the backend line", () => {
  const s = sanitize(`epoch 1 took 812 ms (1.5s)\nat 0x7f3a2c001234\n    at foo (${root}/x.js:1:2)\nbackend: cpu\nloss 0.25\n`, root);
  assert.equal(s, "epoch 1 took <time> (<time>)\nat 0x<addr>\nbackend: <backend>\nloss 0.25\n");
  assert.equal(lineDiff("a\nb", "a\nc"), "  a\n- b\n+ c");
});

test("the line diff is bounded: 25,000 changed lines in a 64 MB heap, the first differing lines shown, the rest counted", () => {
  // Before: a full LCS table, quadratic (10,000 lines took 901 MB; 25,000 ran out of heap, exit 134).
  const script = `const { lineDiff } = require(${JSON.stringify(join(root, "tools", "jupyter", "compare.ts"))});
const lines = (v) => Array.from({ length: 25000 }, (_, i) => "loss " + i + " " + v).join("\\n");
process.stdout.write(lineDiff(lines("0.25"), lines("0.26")));`;
  const r = spawnSync(process.execPath, ["--max-old-space-size=64", "--import", "tsx", "-e", script], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr.slice(0, 2000));
  const out = r.stdout.split("\n");
  assert.deepEqual(out.slice(0, 4), ["- loss 0 0.25", "+ loss 0 0.26", "- loss 1 0.25", "+ loss 1 0.26"]);
  assert.equal(out.length, 201);
  assert.equal(out[200], "… and 49800 more changed lines (stored: 25000 lines, new: 25000 lines)");
  // Within the table's bound the diff is still the shortest one, with context around a change.
  const base = Array.from({ length: 20 }, (_, i) => `l${i}`);
  const changed = [...base.slice(0, 10), "X", ...base.slice(11), "new"];
  assert.equal(lineDiff(base.join("\n"), changed.join("\n")),
    ["  … 7 equal lines …", "  l7", "  l8", "  l9", "- l10", "+ X", "  l11", "  l12", "  l13", "  … 3 equal lines …", "  l17", "  l18", "  l19", "+ new"].join("\n"));
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

test("a display updated in place (liveDisplay: display_data, then update_display_data) is stored once, as its last figure", () => {
  const marker = join(dir, "live-figures.json");
  // Three different figures in one display entry, with pauses as between training batches; the cell records the
  // PNG of each so the stored output is compared with the kernel's own bytes.
  const path = notebook("live", [{ source: `import { lineChart, liveDisplay } from "cnn-lab";
const live = liveDisplay();
const pngs: string[] = [];
for (const n of [2, 4, 8]) {
  const fig = lineChart([{ label: "loss", values: Array.from({ length: n }, (_, i) => 1 / (i + 1)) }], { show: false });
  live.show(fig);
  pngs.push(fig.png().toString("base64"));
  await new Promise((r) => setTimeout(r, 200));
}
require("node:fs").writeFileSync(${JSON.stringify(marker)}, JSON.stringify(pngs));` }], false);
  const r = nbrun("update", path);
  assert.equal(r.code, 0, r.out);
  const pngs: string[] = JSON.parse(readFileSync(marker, "utf8"));
  assert.equal(new Set(pngs).size, 3, "the three figures differ");
  const outputs = JSON.parse(readFileSync(path, "utf8")).cells[0].outputs;
  assert.deepEqual(outputs.map((o: { output_type: string }) => o.output_type), ["display_data"], "one display output, not one per update");
  // Which figure is stored (-1: none of them); an index, not the base64, in the failure message.
  assert.equal(pngs.indexOf(outputs[0].data["image/png"]), 2, "the stored image is the last figure");
  assert.equal(nbrun("check", path).code, 0);
});

/** A process that has exited (a zombie waiting to be reaped counts as exited). */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

/** Waits (up to a generous bound, not a timing assertion) until every pid has exited; returns the survivors. */
async function survivors(pids: number[]): Promise<number[]> {
  for (let i = 0; i < 150 && pids.some((p) => !gone(p)); i++) await new Promise((r) => setTimeout(r, 100));
  return pids.filter((p) => !gone(p));
}

async function untilFile(path: string, child: { exitCode: number | null }): Promise<string> {
  while (!existsSync(path) || !readFileSync(path, "utf8")) {
    if (child.exitCode !== null) throw new Error(`exited (${child.exitCode}) before writing ${path}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return readFileSync(path, "utf8");
}

/** A kernelspec whose "kernel" starts a child process, writes both pids and never answers. */
function silentKernelspec(name: string): { kernelspec: string; pids: string } {
  const specDir = mkdtempSync(join(dir, `${name}-`));
  const pids = join(specDir, "pids.json");
  const script = `const c = require("node:child_process").spawn("sleep", ["600"], { stdio: "ignore" });
require("node:fs").writeFileSync(${JSON.stringify(pids)}, JSON.stringify({ kernel: process.pid, child: c.pid, connection: process.argv[1] }));
setInterval(() => {}, 1000);`;
  const kernelspec = join(specDir, "kernel.json");
  writeFileSync(kernelspec, JSON.stringify({ argv: [process.execPath, "-e", script, "{connection_file}"] }));
  return { kernelspec, pids };
}

test("a kernel that never answers: a one-line start error naming the kernelspec, and nothing left running", async () => {
  const { kernelspec, pids } = silentKernelspec("silent");
  const err = await Kernel.start(dir, { kernelspec, readyTimeoutMs: 10_000 }).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof KernelStartError, String(err));
  assert.equal(err.message, `cannot start the tslab kernel (kernelspec ${kernelspec}): it did not answer within 10 s`);
  const started = JSON.parse(readFileSync(pids, "utf8"));
  assert.deepEqual(await survivors([started.kernel, started.child]), [], "the kernel and its child are stopped");
  assert.equal(existsSync(dirname(started.connection)), false, "the connection file's temp folder is removed");
});

test("a kernelspec whose tslab script is gone (project moved, Node switched): a one-line error saying to run npm install", async () => {
  const specDir = mkdtempSync(join(dir, "gone-"));
  const kernelspec = join(specDir, "kernel.json");
  const missing = join(specDir, "old-checkout", "node_modules", "tslab", "bin", "tslab");
  writeFileSync(kernelspec, JSON.stringify({ argv: ["/opt/node-v18/bin/node", missing, "kernel", "--config-path", "{connection_file}"] }));
  const tmp = mkdtempSync(join(dir, "tmp-"));
  const savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = tmp; // where Kernel.start makes its connection folder
  const err = await Kernel.start(dir, { kernelspec }).then(() => undefined, (e: unknown) => e).finally(() => {
    if (savedTmp === undefined) delete process.env.TMPDIR; else process.env.TMPDIR = savedTmp;
  });
  assert.ok(err instanceof KernelStartError, String(err));
  assert.equal(err.message, `cannot start the tslab kernel (kernelspec ${kernelspec}): ${missing} does not exist (after moving the project or switching Node versions, \`npm install\` rewrites the kernelspec)`);
  assert.deepEqual(readdirSync(tmp), [], "no temp folder left behind");
});

test("a kernelspec that is not JSON, or whose argv is not [node, script, …], is named as such (not \"not found\", not \"undefined does not exist\")", async () => {
  const specDir = mkdtempSync(join(dir, "badspec-"));
  const kernelspec = join(specDir, "kernel.json");
  const cases: [string, string][] = [
    ['{"argv": [', "not valid JSON (corrupt or truncated: "],
    ['{"argv": []}', 'expected "argv" to be a list of strings [node, tslab script, …], got []; `npm install` rewrites it'],
    ['{"display_name": "TypeScript"}', 'expected "argv" to be a list of strings [node, tslab script, …], got none; `npm install` rewrites it'],
    ['{"argv": ["node", 3]}', 'expected "argv" to be a list of strings [node, tslab script, …], got ["node",3]; `npm install` rewrites it'],
  ];
  for (const [content, why] of cases) {
    writeFileSync(kernelspec, content);
    const err = await Kernel.start(dir, { kernelspec }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof KernelStartError, String(err));
    assert.ok(err.message.startsWith(`cannot start the tslab kernel (kernelspec ${kernelspec}): ${why}`), err.message);
    assert.doesNotMatch(err.message, /\n/, "one line");
  }
  const missing = join(specDir, "none.json");
  const err = await Kernel.start(dir, { kernelspec: missing }).then(() => undefined, (e: unknown) => e);
  assert.equal((err as Error).message, `tslab kernelspec not found at ${missing}: run \`npm install\` (it writes the kernelspec)`);
});

test("signatures: the right one is accepted; a wrong one, or one of another length, is rejected", () => {
  const parts = ['{"msg_id":"1"}', "{}", "{}", '{"code":"1"}'];
  const good = sign("k", parts);
  assert.equal(verifySignature("k", good, parts), true);
  assert.equal(verifySignature("k", good.replace(/.$/, (c) => (c === "0" ? "1" : "0")), parts), false);
  assert.equal(verifySignature("other key", good, parts), false);
  assert.equal(verifySignature("k", good.slice(0, 10), parts), false);
  assert.equal(verifySignature("k", "", parts), false);
  assert.equal(verifySignature("k", good, [...parts.slice(0, 3), '{"code":"2"}']), false);
});

test("a child process a cell started is stopped with the kernel when the run ends", async () => {
  const marker = join(dir, "cell-child.json");
  const path = notebook("cell-child", [{ source: `const child = require("node:child_process").spawn("sleep", ["600"], { stdio: "ignore" });
require("node:fs").writeFileSync(${JSON.stringify(marker)}, JSON.stringify({ kernel: process.pid, child: child.pid }));` }], false);
  assert.equal(nbrun("update", path).code, 0);
  const { kernel, child } = JSON.parse(readFileSync(marker, "utf8"));
  assert.deepEqual(await survivors([kernel, child]), []);
});

for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  test(`${sig} to \`npm run test:notebooks\` stops the kernel, a cell's child process, and removes temp folders`, async () => {
    const work = mkdtempSync(join(dir, `sig-${sig}-`));
    const tmp = join(work, "tmp");
    mkdirSync(tmp);
    const marker = join(work, "pids.json");
    const path = notebook(`long-${sig}`, [{
      source: `const child = require("node:child_process").spawn("sleep", ["600"], { stdio: "ignore" });
require("node:fs").writeFileSync(${JSON.stringify(marker)}, JSON.stringify({ kernel: process.pid, child: child.pid }));
await new Promise(() => setInterval(() => {}, 1000));`,
      timeout: 600,
    }]);
    // As from a terminal: npm in its own process group, the signal to the whole group.
    const npm = spawn("npm", ["run", "--silent", "test:notebooks", "--", path], { cwd: root, detached: true, stdio: "ignore", env: { ...process.env, TMPDIR: tmp } });
    const exited = new Promise<void>((r) => npm.on("exit", () => r()));
    const { kernel, child } = JSON.parse(await untilFile(marker, npm));
    assert.ok(readdirSync(tmp).some((f) => f.startsWith("nbrun-")), "the runner's temp folder exists while it runs");
    process.kill(-npm.pid!, sig);
    await exited;
    assert.deepEqual(await survivors([kernel, child]), [], "no kernel, no child of a cell survives");
    // npm may exit before the runner has finished cleaning up: give it the time survivors() gives processes.
    const leftovers = () => readdirSync(tmp).filter((f) => f.startsWith("nbrun-"));
    for (let i = 0; i < 150 && leftovers().length; i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(leftovers(), [], "temp folders removed");
  });
}

/** Processes whose command line mentions `text` (the kernel's names its connection file, under the runner's TMPDIR). */
function processesMentioning(text: string): number[] {
  return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).filter((d) => {
    try {
      return readFileSync(`/proc/${d}/cmdline`, "utf8").includes(text);
    } catch {
      return false;
    }
  }).map(Number).filter((p) => !gone(p));
}

test("SIGINT to `npm start -- --execute` (re-executing for the HTML book) stops its kernel and removes temp folders", async () => {
  const work = mkdtempSync(join(dir, "book-sig-"));
  const tmp = join(work, "tmp");
  const bin = join(work, "bin");
  mkdirSync(tmp);
  mkdirSync(bin);
  writeFileSync(join(bin, "jupyter"), "#!/bin/sh\nexit 1\n"); // no Jupyter front end: book mode
  chmodSync(join(bin, "jupyter"), 0o755);
  const bookExisted = existsSync(join(root, "book"));
  const npm = spawn("npm", ["start", "--", "--execute"], { cwd: root, detached: true, stdio: "ignore", env: { ...process.env, TMPDIR: tmp, PATH: `${bin}:${process.env.PATH}` } });
  const exited = new Promise<void>((r) => npm.on("exit", () => r()));
  try {
    let kernels: number[] = [];
    while (!(kernels = processesMentioning(`${tmp}/nbrun-`)).length) {
      assert.equal(npm.exitCode, null, "npm start ended before its kernel started");
      await new Promise((r) => setTimeout(r, 100));
    }
    process.kill(-npm.pid!, "SIGINT");
    await exited;
    assert.deepEqual(await survivors(kernels), [], "the book's kernel is stopped");
    const leftovers = () => readdirSync(tmp).filter((f) => f.startsWith("nbrun-"));
    for (let i = 0; i < 150 && leftovers().length; i++) await new Promise((r) => setTimeout(r, 100)); // npm may exit first
    assert.deepEqual(leftovers(), [], "temp folders removed");
  } finally {
    if (!bookExisted) rmSync(join(root, "book"), { recursive: true, force: true });
  }
});

test("tslab (patched by npm install) ignores a badly signed message without echoing the signature it expected", async () => {
  const work = mkdtempSync(join(dir, "badsig-"));
  const ports = await freePorts(5);
  const key = "test-key";
  const connection = join(work, "connection.json");
  writeFileSync(connection, JSON.stringify({
    shell_port: ports[0], iopub_port: ports[1], stdin_port: ports[2], control_port: ports[3], hb_port: ports[4],
    ip: "127.0.0.1", key, transport: "tcp", signature_scheme: "hmac-sha256", kernel_name: "tslab",
  }));
  const [cmd, ...args] = (JSON.parse(readFileSync(join(JUPYTER_PATH, "kernels", "tslab", "kernel.json"), "utf8")).argv as string[])
    .map((a) => a.replace("{connection_file}", connection));
  const kernel = spawn(cmd, args, { cwd: work, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  kernel.stdout.on("data", (d) => (log += d));
  kernel.stderr.on("data", (d) => (log += d));
  const shell = new zmq.Dealer({ linger: 0 });
  shell.connect(`tcp://127.0.0.1:${ports[0]}`);
  const message = (id: string) => [JSON.stringify({ msg_id: id, username: "t", session: "s", date: "", msg_type: "kernel_info_request", version: "5.3" }), "{}", "{}", "{}"];
  try {
    const bad = message("bad");
    await shell.send(["<IDS|MSG>", "0".repeat(64), ...bad]);
    while (!/invalid/.test(log) && kernel.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    assert.doesNotMatch(log, new RegExp(sign(key, bad)), "the expected signature is not written out");
    assert.match(log, /invalid message signature: message ignored/);
    const good = message("good");
    await shell.send(["<IDS|MSG>", sign(key, good), ...good]);
    const [reply] = await shell.receive().then((frames) => frames.map(String).slice(-4, -3).map((h) => JSON.parse(h)));
    assert.equal(reply.msg_type, "kernel_info_reply", "the kernel still answers");
  } finally {
    shell.close();
    kernel.kill("SIGKILL");
  }
});

test("a request tslab cancels right after an error (its 200 ms window, longer under load) is sent again, not lost", async () => {
  const kernel = await Kernel.start(dir);
  try {
    assert.equal((await kernel.execute('throw new Error("boom")', 30_000)).status, "error");
    (kernel as unknown as { lastErrorAt: number }).lastErrorAt = 0; // skip the pause: the next request lands inside the window
    const r = await kernel.execute('console.log("after", 6 * 7)', 30_000);
    assert.equal(r.status, "ok");
    assert.match(r.outputs.map((o) => ("text" in o ? o.text : "")).join(""), /after 42/);
  } finally {
    await kernel.shutdown();
  }
});
