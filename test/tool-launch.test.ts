// npm scripts run tools/*.ts as `node --import tsx`, never through the tsx CLI: the CLI relays Ctrl-C to its child
// and SIGKILLs it if the child has not acknowledged within 30 ms, which a tool busy cleaning up (or a loaded machine)
// misses when busy (or on a loaded machine): its server, kernel or temp folder would be left behind. The second test
// shows the CLI doing that.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";

const ROOT = path.resolve(__dirname, "..");

test("every npm script that runs a tools/*.ts file runs it with node --import tsx", () => {
  const scripts: Record<string, string> = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts;
  const tools = Object.entries(scripts).filter(([, cmd]) => /tools\/\S+\.ts\b/.test(cmd));
  assert.ok(tools.length >= 5, `expected the tool scripts, found ${tools.map(([n]) => n).join(", ")}`);
  for (const [name, cmd] of tools) assert.match(cmd, /(^|&& )node --import tsx tools\/\S+\.ts/, `${name}: ${cmd}`);
});

// A tool busy computing when Ctrl-C comes, whose SIGINT handler then cleans up (300 ms) and writes a marker.
async function interrupted(launcher: string[]): Promise<boolean> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tool-launch-"));
  try {
    const marker = path.join(dir, "cleaned-up");
    const script = path.join(dir, "tool.ts");
    fs.writeFileSync(script, `const busy = (ms: number) => { const end = Date.now() + ms; while (Date.now() < end); };
process.on("SIGINT", () => { busy(300); require("node:fs").writeFileSync(${JSON.stringify(marker)}, "done"); process.exit(130); });
console.log("ready"); setInterval(() => busy(200), 1); // computing, as a tool mid-batch: signals wait up to 200 ms\n`);
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
  assert.equal(await interrupted([process.execPath, "--import", "tsx"]), true, "node --import tsx: the handler finished");
  assert.equal(await interrupted([path.join(ROOT, "node_modules", ".bin", "tsx")]), false, "tsx CLI: the handler was cut short");
});
