// tools/run-child.mjs: a wrapper that runs a command (test:unit's test runner, realclient's nbconvert) must not leave
// it running when the wrapper is stopped. Each case starts a wrapper whose child prints its pid and waits, stops the
// wrapper with a signal, and looks for the child. The spawnSync wrapper, what those tools used before, shows that
// the check catches a child left behind.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as path from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";

const runChildUrl = pathToFileURL(path.join(__dirname, "..", "tools", "run-child.mjs")).href;
const sleeper = `console.log(process.pid); setInterval(() => {}, 1000);`;
const wrappers = {
  runChild: `const { runChild } = await import(${JSON.stringify(runChildUrl)});
    const r = await runChild(process.execPath, ["-e", ${JSON.stringify(sleeper)}]); process.exit(r.status ?? 1);`,
  spawnSync: `const { spawnSync } = await import("node:child_process");
    spawnSync(process.execPath, ["-e", ${JSON.stringify(sleeper)}], { stdio: "inherit" });`,
};

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

async function stopWrapper(wrapper: keyof typeof wrappers, sig: NodeJS.Signals): Promise<{ childAlive: boolean; signal: NodeJS.Signals | null }> {
  const proc = spawn(process.execPath, ["--input-type=module", "-e", wrappers[wrapper]], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on("exit", (_code, s) => resolve(s)));
  const childPid = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${wrapper}: the child did not print its pid`)), 20_000);
    proc.stdout.setEncoding("utf8").on("data", (d: string) => { clearTimeout(timer); resolve(Number(d.trim().split("\n")[0])); });
  });
  assert.ok(childPid > 0 && childPid !== proc.pid && alive(childPid), `child pid ${childPid}`);
  proc.kill(sig);
  const signal = await exited;
  for (let i = 0; i < 50 && alive(childPid); i++) await new Promise((r) => setTimeout(r, 100));
  const childAlive = alive(childPid);
  if (childAlive) process.kill(childPid, "SIGKILL"); // leave nothing behind ourselves
  return { childAlive, signal };
}

for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
  test(`runChild: ${sig} to the wrapper stops its child too, and the wrapper ends of ${sig}`, async () => {
    const { childAlive, signal } = await stopWrapper("runChild", sig);
    assert.equal(childAlive, false, "the child outlived the wrapper");
    assert.equal(signal, sig);
  });
}

test("the check catches a child left behind: a spawnSync wrapper stopped by SIGTERM leaves its child running", async () => {
  const { childAlive } = await stopWrapper("spawnSync", "SIGTERM");
  assert.equal(childAlive, true);
});

test("runChild reports the child's exit status and captured output, and a missing command as an error", async () => {
  const { runChild } = await import(runChildUrl);
  const r = await runChild(process.execPath, ["-e", "console.log('out'); console.error('err'); process.exit(3)"], { capture: true });
  assert.deepEqual(r, { status: 3, signal: null, stdout: "out\n", stderr: "err\n" });
  await assert.rejects(runChild("no-such-command-cnn-lab", [], { capture: true }), { code: "ENOENT" });
});

test("runChild: when the wrapper's launcher is gone (npm killed alone leaves it with parent 1), it stops its child and itself", { skip: process.platform !== "linux" && "Linux" }, async () => {
  const fs = await import("node:fs");
  const os = await import("node:os");
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "run-child-"));
  const wrapper = path.join(work, "wrapper.mjs");
  fs.writeFileSync(wrapper, wrappers.runChild);
  // As npm runs a script: `sh -c` between the launcher and the wrapper; `; true` keeps sh from exec'ing node.
  const sh = spawn("sh", ["-c", `"${process.execPath}" "${wrapper}"; true`], { stdio: ["ignore", "pipe", "inherit"] });
  const childPid = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the child did not print its pid")), 20_000);
    sh.stdout.setEncoding("utf8").on("data", (d: string) => { clearTimeout(timer); resolve(Number(d.trim().split("\n")[0])); });
  });
  const wrapperPid = Number(fs.readFileSync(`/proc/${childPid}/stat`, "utf8").split(") ")[1].split(" ")[1]);
  // Running, not a zombie: an orphan's reaper may be slow.
  const running = (pid: number) => { try { return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8")); } catch { return false; } };
  sh.kill("SIGKILL"); // the launcher goes without a word: no signal reaches the wrapper
  for (let i = 0; i < 100 && (running(childPid) || running(wrapperPid)); i++) await new Promise((r) => setTimeout(r, 100));
  const left = [childPid, wrapperPid].filter(running);
  for (const p of left) process.kill(p, "SIGKILL");
  fs.rmSync(work, { recursive: true, force: true });
  assert.deepEqual(left, [], "the wrapper and its child are stopped");
});
