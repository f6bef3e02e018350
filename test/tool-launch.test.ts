// npm scripts run tools/*.ts as `node --import tsx`, never through the tsx CLI: on Ctrl-C the CLI waits 30 ms for its
// child to acknowledge the signal, sends it once more, waits 30 ms again and then SIGKILLs the child. A tool that is
// mid-batch (JavaScript handles a signal only between tasks) or on a loaded machine misses that window, and its
// server, kernel or temp folder is left behind. The second test shows the CLI doing that.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";

const ROOT = path.resolve(__dirname, "..");

const RUNS_TOOL = /tools\/\S+\.ts\b/;

// The npm scripts that run a tools/*.ts file some other way than `node --import tsx`.
function notUnderNode(scripts: Record<string, string>): string[] {
  return Object.entries(scripts)
    .filter(([, cmd]) => RUNS_TOOL.test(cmd) && !/(^|&& )node --import tsx tools\/\S+\.ts/.test(cmd))
    .map(([name]) => name);
}

test("every npm script that runs a tools/*.ts file runs it with node --import tsx", () => {
  const scripts: Record<string, string> = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts;
  const tools = Object.keys(scripts).filter((name) => RUNS_TOOL.test(scripts[name]!));
  assert.ok(tools.length >= 5, `expected the tool scripts, found ${tools.join(", ")}`);
  assert.deepEqual(notUnderNode(scripts), []);
  // The check catches the launchers it is there to refuse.
  assert.deepEqual(notUnderNode({ a: "tsx tools/start.ts", b: "npx tsx tools/bench.ts", c: "node --import tsx tools/x.ts",
    d: "node tools/dist-fresh.mjs && tsx tools/nbrun.ts check" }), ["a", "b", "d"]);
});

// A tool busy computing when Ctrl-C comes (one long synchronous task, as a training batch), whose SIGINT handler then
// cleans up (300 ms) and writes a marker. The task starts as soon as "ready" is written (a pipe write is synchronous),
// and the test sends Ctrl-C when it reads "ready", so the signal arrives while the task runs as long as `busyMs`
// outlasts the test's reaction: no race on a few milliseconds. Under the tsx CLI the child is killed 60 ms after the
// signal, so 20 s costs nothing; under node the handler runs after the task (or at once if the task has ended).
async function interrupted(launcher: string[], busyMs: number): Promise<boolean> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tool-launch-"));
  try {
    const marker = path.join(dir, "cleaned-up");
    const script = path.join(dir, "tool.ts");
    fs.writeFileSync(script, `const busy = (ms: number) => { const end = Date.now() + ms; while (Date.now() < end); };
process.on("SIGINT", () => { busy(300); require("node:fs").writeFileSync(${JSON.stringify(marker)}, "done"); process.exit(130); });
console.log("ready"); busy(${busyMs}); setInterval(() => {}, 1000);\n`);
    const [cmd, ...args] = launcher;
    const proc = spawn(cmd, [...args, script], { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "inherit"] });
    const exited = new Promise<void>((r) => proc.on("exit", () => r()));
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`${launcher.join(" ")}: the tool did not start`)), 60_000);
      proc.stdout.setEncoding("utf8").on("data", (d: string) => { if (d.includes("ready")) { clearTimeout(timer); ok(); } });
    });
    process.kill(-proc.pid!, "SIGINT"); // as from a terminal: the whole group
    await exited;
    for (let i = 0; i < 50 && groupAlive(proc.pid!); i++) await new Promise((r) => setTimeout(r, 100));
    try { process.kill(-proc.pid!, "SIGKILL"); } catch { /* gone */ }
    return fs.existsSync(marker);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
const groupAlive = (pgid: number) => { try { process.kill(-pgid, 0); return true; } catch { return false; } };

test("Ctrl-C: node --import tsx lets a tool's cleanup finish; the tsx CLI kills it part-way", { timeout: 180_000 }, async () => {
  assert.equal(await interrupted([process.execPath, "--import", "tsx"], 1000), true, "node --import tsx: the handler finished");
  assert.equal(await interrupted([path.join(ROOT, "node_modules", ".bin", "tsx")], 20_000), false, "tsx CLI: the handler was cut short");
});
