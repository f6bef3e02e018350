// SIGTERM or SIGHUP sent to the `npm` process alone (`kill <npm pid>`, a CI runner stopping its step): npm passes
// SIGTERM on to its `sh -c` only and SIGHUP to no one, so before, the tool under it ran on with parent 1 (nbrun with its
// kernel and the cells' processes, a training run writing checkpoints while holding its lock) and its temp folder
// stayed. Each case starts `npm run …` in its own process group, signals only npm's pid, and checks that every process
// of the run ends (a generous bound, not a timing check), the temp folders are gone, and a training run keeps only
// complete checkpoints and releases its lock.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { writeNotebook } from "../tools/jupyter/notebook";

const root = join(__dirname, "..");
mkdirSync(join(root, "test", ".tmp"), { recursive: true });
// Under the project: the notebooks' kernel runs in their folder.
const dir = mkdtempSync(join(root, "test", ".tmp", "npmstop-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const linux = existsSync("/proc/self/stat");

/** Live processes (not zombies) matching `keep`, from /proc. */
function processes(keep: (stat: string[], cmdline: string) => boolean): number[] {
  return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number).filter((p) => {
    try {
      const s = readFileSync(`/proc/${p}/stat`, "utf8");
      const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
      return f[0] !== "Z" && keep(f, readFileSync(`/proc/${p}/cmdline`, "utf8"));
    } catch {
      return false; // exited meanwhile
    }
  });
}
const inGroup = (pgid: number) => processes((f) => Number(f[2]) === pgid);
const mentioning = (text: string) => processes((_f, cmd) => cmd.includes(text));
const alive = (pid: number) => {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    return s[s.lastIndexOf(")") + 2] !== "Z";
  } catch {
    return false;
  }
};

/** Waits until every pid has exited (up to 15 s: a bound, not a timing check); returns the survivors. */
async function survivors(pids: number[]): Promise<number[]> {
  for (let i = 0; i < 150 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
  return pids.filter(alive);
}

async function until<T>(what: string, npm: ChildProcess, get: () => T | undefined): Promise<T> {
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (npm.exitCode !== null || npm.signalCode !== null) throw new Error(`npm ended before ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** npm in its own process group (as a shell's job), with its own TMPDIR; output collected. */
function npmRun(args: string[], tmp: string, env: NodeJS.ProcessEnv = {}): { npm: ChildProcess; out: () => string; closed: Promise<void> } {
  const npm = spawn("npm", args, { cwd: root, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, TMPDIR: tmp, ...env } });
  let out = "";
  npm.stdout!.on("data", (d) => (out += d));
  npm.stderr!.on("data", (d) => (out += d));
  // The tool writes to the same pipes; they close when the last process holding them has ended.
  const closed = Promise.all([npm.stdout!, npm.stderr!].map((s) => new Promise((r) => s.once("close", r)))).then(() => undefined);
  return { npm, out: () => out, closed };
}

/**
 * Signals npm alone, then checks that `pids` (the run's processes, npm's group and the kernel's) all end and no
 * nbrun temp folder is left in `tmp`. Kills whatever survived, so that a failing case leaves nothing running.
 */
async function stopNpmAlone(npm: ChildProcess, sig: NodeJS.Signals, pids: number[], tmp: string): Promise<void> {
  const all = [...new Set([...pids, ...inGroup(npm.pid!)])];
  assert.ok(all.length >= 3, `npm, sh and the tool run: ${all.join(" ")}`);
  process.kill(npm.pid!, sig);
  const left = await survivors(all);
  for (const p of [...left, ...inGroup(npm.pid!)]) try { process.kill(p, "SIGKILL"); } catch { /* gone */ }
  assert.deepEqual(left, [], `processes of the run still running after ${sig} to npm`);
  const temps = () => readdirSync(tmp).filter((f) => f.startsWith("nbrun-"));
  for (let i = 0; i < 50 && temps().length; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(temps(), [], "the runner's temp folder is removed");
}

/** A notebook whose cell starts a child process, writes the kernel's and the child's pids, and waits forever. */
function waitingNotebook(name: string, marker: string): string {
  const path = join(dir, `${name}.ipynb`);
  writeNotebook(path, {
    nbformat: 4, nbformat_minor: 5,
    metadata: { kernelspec: { name: "tslab", display_name: "TypeScript", language: "typescript" }, nbrun: { leakCheck: false } },
    cells: [{
      id: "c0", cell_type: "code", execution_count: null, outputs: [], metadata: { nbrun: { timeout: 600 } },
      source: `const child = require("node:child_process").spawn("sleep", ["600"], { stdio: "ignore" });
require("node:fs").writeFileSync(${JSON.stringify(marker)}, JSON.stringify([process.pid, child.pid]));
await new Promise(() => setInterval(() => {}, 1000));`,
    }],
  });
  return path;
}

for (const sig of ["SIGTERM", "SIGHUP"] as const) {
  for (const script of ["test:notebooks", "notebooks:update"]) {
    test(`${sig} to npm alone (npm run ${script}): nbrun, its kernel and the cell's child stop; the temp folder goes`, { skip: !linux && "needs Linux /proc", timeout: 180_000 }, async () => {
      const work = mkdtempSync(join(dir, `${script.replace(":", "-")}-${sig}-`));
      const tmp = join(work, "tmp");
      mkdirSync(tmp);
      const marker = join(work, "pids.json");
      const path = waitingNotebook("waits", marker);
      const before = readFileSync(path, "utf8");
      const { npm } = npmRun(["run", "--silent", script, "--", path], tmp);
      const pids: number[] = await until("the cell ran", npm, () => (existsSync(marker) && readFileSync(marker, "utf8") ? JSON.parse(readFileSync(marker, "utf8")) : undefined));
      assert.ok(readdirSync(tmp).some((f) => f.startsWith("nbrun-")), "the runner's temp folder exists while it runs");
      await stopNpmAlone(npm, sig, pids, tmp);
      assert.equal(readFileSync(path, "utf8"), before, "the notebook is unchanged");
    });
  }

  test(`${sig} to npm alone (npm start -- --execute): the book's kernel stops and the temp folder goes`, { skip: !linux && "needs Linux /proc", timeout: 180_000 }, async () => {
    const work = mkdtempSync(join(dir, `start-${sig}-`));
    const tmp = join(work, "tmp");
    const bin = join(work, "bin");
    mkdirSync(tmp);
    mkdirSync(bin);
    writeFileSync(join(bin, "jupyter"), "#!/bin/sh\nexit 1\n"); // no Jupyter front end: book mode
    chmodSync(join(bin, "jupyter"), 0o755);
    const bookExisted = existsSync(join(root, "book"));
    const { npm } = npmRun(["start", "--", "--execute"], tmp, { PATH: `${bin}:${process.env.PATH}` });
    try {
      const kernels = await until("a kernel started", npm, () => { const k = mentioning(`${tmp}/nbrun-`); return k.length ? k : undefined; });
      await stopNpmAlone(npm, sig, kernels, tmp);
    } finally {
      if (!bookExisted) rmSync(join(root, "book"), { recursive: true, force: true });
    }
  });

  test(`${sig} to npm alone (npm run train): training stops, keeps only complete checkpoints and releases its lock`, { skip: !linux && "needs Linux /proc", timeout: 300_000 }, async () => {
    const work = mkdtempSync(join(dir, `train-${sig}-`));
    const out = join(work, "run");
    const { npm, out: output, closed } = npmRun(["run", "--silent", "train", "--", "--epochs", "20", "--limit", "1000", "--workers", "0", "--out", out], work);
    await until("epoch 1 ended", npm, () => (/^Epoch: 1 /m.test(output()) ? true : undefined));
    assert.ok(existsSync(join(out, ".train.lock")), "the run holds its lock");
    await stopNpmAlone(npm, sig, [], work);
    await closed;
    const epochs = output().match(/^Epoch: \d+ /gm)!.length;
    assert.ok(epochs < 20, `stopped during the run, after ${epochs} epoch(s)`);
    // npm passes SIGTERM on to sh only, SIGHUP to no one: the tool stops as on SIGTERM once npm is gone.
    assert.match(output(), /is gone: stopping as on SIGTERM\n+SIGTERM: stopping after this batch; the last complete checkpoint is kept/);
    assert.deepEqual(readdirSync(out).sort(), Array.from({ length: epochs }, (_, i) => `epoch-${String(i + 1).padStart(3, "0")}`),
      "the complete checkpoints of the epochs printed, no temp folder, no lock");
  });
}
