// Processes a notebook cell starts outside the kernel's process group (`setsid`, `spawn(…, { detached: true })`, a
// daemon that forks and leaves) are stopped with the kernel when the run ends, on the first run and on the leak
// check's re-run alike. Before, only the kernel's process group was killed and these ran on.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { writeNotebook } from "../tools/jupyter/notebook";

const root = join(__dirname, "..");
mkdirSync(join(root, "test", ".tmp"), { recursive: true });
const dir = mkdtempSync(join(root, "test", ".tmp", "cellproc-"));
const started: number[] = [];
after(() => {
  for (const p of started) try { process.kill(p, "SIGKILL"); } catch { /* gone, as it should be */ }
  rmSync(dir, { recursive: true, force: true });
});

/** Exited (a zombie waiting to be reaped counts as exited). */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] === "Z";
  } catch {
    return true;
  }
}

/** Waits (a generous bound, not a timing check) until every pid has exited; returns the survivors. */
async function survivors(pids: number[]): Promise<number[]> {
  for (let i = 0; i < 150 && pids.some((p) => !gone(p)); i++) await new Promise((r) => setTimeout(r, 100));
  return pids.filter((p) => !gone(p));
}

test("a cell's setsid and detached children, and a daemon that left the tree, are stopped after the run and the leak re-run", { skip: !existsSync("/proc/self/stat") && "needs Linux /proc", timeout: 300_000 }, async () => {
  const pids = join(dir, "pids.txt");
  const source = `const { spawn } = require("node:child_process");
const fs = require("node:fs");
const idle = ["-e", "setInterval(() => {}, 1000)"];
const kids = [
  spawn("setsid", ["sleep", "1000"], { stdio: "ignore" }), // a session of its own, still the kernel's child
  spawn(process.execPath, idle, { detached: true, stdio: "ignore" }), // a group and session of its own
  spawn(process.execPath, idle, { detached: true, stdio: "ignore", env: {} }), // ... and no inherited environment
];
for (const k of kids) k.unref();
// setsid -f forks and exits: the sleep is orphaned at once, outside the kernel's tree, group and session.
spawn("setsid", ["-f", "sh", "-c", 'echo $$ >> ${pids}; exec sleep 1000'], { stdio: "ignore" }).unref();
fs.appendFileSync(${JSON.stringify(pids)}, kids.map((k) => k.pid).join("\\n") + "\\n");
await new Promise((r) => setTimeout(r, 500)); // the daemon has written its pid`;
  const path = join(dir, "spawns.ipynb");
  writeNotebook(path, {
    nbformat: 4, nbformat_minor: 5,
    metadata: { kernelspec: { name: "tslab", display_name: "TypeScript", language: "typescript" }, nbrun: { leakCheck: true } },
    cells: [{ id: "c0", cell_type: "code", source, execution_count: null, outputs: [], metadata: {} }],
  });
  // check with the leak check: every cell runs twice.
  const r = spawnSync(process.execPath, ["--import", "tsx", join(root, "tools", "jupyter", "nbrun.ts"), "check", path], { encoding: "utf8", timeout: 240_000 });
  const seen = readFileSync(pids, "utf8").trim().split("\n").map(Number);
  started.push(...seen);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal(seen.length, 8, `4 processes per run, 2 runs: ${seen.join(" ")}`);
  assert.deepEqual(await survivors(seen), [], "every process the cells started is stopped");
});
