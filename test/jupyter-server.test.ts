// One Ctrl-C (or SIGTERM, SIGHUP) stops the Jupyter server npm start opened, its kernels and everything else, without
// Jupyter's "Shut down this Jupyter server (y/[n])?" prompt. First with a stand-in server that behaves as
// jupyter-server does (SIGINT: the prompt, and it keeps running; SIGTERM: it exits) and leaves its kernel running
// in a session of its own; then with the real JupyterLab and a tslab kernel, where one is installed.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { decide, realProbes } from "../tools/jupyter/lab";
import { processesMentioning } from "../tools/jupyter/server";

const root = join(__dirname, "..");
let dir: string;
before(() => { mkdirSync(join(root, "test", ".tmp"), { recursive: true }); dir = mkdtempSync(join(root, "test", ".tmp", "server-")); });
after(() => rmSync(dir, { recursive: true, force: true }));

const runtimeDirs = () => readdirSync(tmpdir()).filter((f) => f.startsWith("cnn-lab-jupyter-")).map((f) => join(tmpdir(), f));

/** Resolves with everything printed once `pattern` has appeared in it (rejects when the process exits first). */
function waitForOutput(proc: ChildProcess, pattern: RegExp, timeoutMs = 120_000): Promise<string> {
  let out = "";
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`no ${pattern} within ${timeoutMs / 1000} s:\n${out}`)), timeoutMs);
    const on = (d: Buffer) => { out += d; const m = pattern.exec(out); if (m) { clearTimeout(timer); ok(out); } };
    proc.stdout!.on("data", on);
    proc.stderr!.on("data", on);
    proc.on("exit", () => { clearTimeout(timer); fail(new Error(`exited before ${pattern}:\n${out}`)); });
  });
}

const exited = (proc: ChildProcess) => new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => {
  if (proc.exitCode !== null || proc.signalCode !== null) r({ code: proc.exitCode, signal: proc.signalCode });
  else proc.on("exit", (code, signal) => r({ code, signal }));
});

// A stand-in for jupyter-server: it prints its runtime folder, starts a "kernel" in a session of its own whose
// command line names its connection file there, prompts on SIGINT and exits on SIGTERM, leaving the kernel behind.
const FAKE_SERVER = `const { spawn } = require("node:child_process");
const conn = require("node:path").join(process.env.JUPYTER_RUNTIME_DIR, "kernel-1.json");
spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", conn], { detached: true, stdio: "ignore" }).unref();
process.on("SIGINT", () => console.log("Shut down this Jupyter server (y/[n])? "));
process.on("SIGTERM", () => process.exit(0));
console.log("serving " + process.env.JUPYTER_RUNTIME_DIR);
setInterval(() => {}, 1000);`;

const DRIVER = (fake: string) => `import { startJupyterServer } from ${JSON.stringify(join(root, "tools", "jupyter", "server"))};
const server = startJupyterServer({ command: process.execPath, args: [${JSON.stringify(fake)}], env: process.env, stdio: "inherit" });
server.done.then(({ code, signal }) => { if (signal) process.kill(process.pid, signal); else process.exit(code ?? 1); });`;

for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  test(`${sig} to the group (as a terminal sends it): the server stops without a prompt, its kernel is killed, the runtime folder removed`, { timeout: 60_000 }, async () => {
    const fake = join(dir, "fake-jupyter.js");
    writeFileSync(fake, FAKE_SERVER);
    const driver = join(dir, `driver-${sig}.ts`);
    writeFileSync(driver, DRIVER(fake));
    const proc = spawn(process.execPath, ["--import", "tsx", driver], { cwd: root, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let runtime = "";
    try {
      const out = await waitForOutput(proc, /serving (\S+)\n/);
      runtime = /serving (\S+)/.exec(out)![1];
      for (let i = 0; i < 50 && !processesMentioning(runtime).length; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(processesMentioning(runtime).length, 1, "the kernel runs, in a session of its own");
      await stopAndCheck(proc, out, runtime, fake, sig);
    } finally {
      for (const pid of [proc.pid!, ...(runtime ? processesMentioning(runtime) : [])]) try { process.kill(-pid, "SIGKILL"); } catch { /* gone */ }
    }
  });
}

async function stopAndCheck(proc: ChildProcess, out: string, runtime: string, fake: string, sig: NodeJS.Signals): Promise<void> {
  let all = out;
  proc.stdout!.on("data", (d) => (all += d));
  process.kill(-proc.pid!, sig);
  const end = await exited(proc);
  assert.equal(end.signal, sig, "the command ends of the signal");
  assert.doesNotMatch(all, /Shut down this Jupyter server/, "the server never saw SIGINT");
  assert.deepEqual(processesMentioning(fake), [], "server gone");
  assert.deepEqual(processesMentioning(runtime), [], "kernel gone");
  assert.ok(!existsSync(runtime), "runtime folder removed");
}

const lab = (() => {
  const d = decide({ ...realProbes(), python: () => undefined }); // never sets anything up here
  return "open" in d && d.open.app === "lab" ? false : "no JupyterLab (on PATH or set up by `npm start -- --setup`)";
})();

// SIGTERM to npm alone is what a process manager or `kill` sends; the others go to the whole group.
for (const [sig, target] of [["SIGINT", "group"], ["SIGTERM", "npm"], ["SIGHUP", "group"]] as const) {
  test(`npm start with JupyterLab and a running tslab kernel: ${sig} to the ${target} stops everything, without a prompt`, { skip: lab, timeout: 180_000 }, async () => {
    const before = runtimeDirs();
    const npm = spawn("npm", ["start"], { cwd: root, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let runtime = "";
    try {
      const out = await waitForOutput(npm, /http:\/\/127\.0\.0\.1:(\d+)\/lab\?token=([0-9a-f]+)\n/);
      const [, port, token] = /http:\/\/127\.0\.0\.1:(\d+)\/lab\?token=([0-9a-f]+)/.exec(out)!;
      const mine = runtimeDirs().filter((d) => !before.includes(d));
      assert.equal(mine.length, 1, "one runtime folder for this run");
      runtime = mine[0];
      // Retried: on a loaded machine the server may take a while to answer its first request.
      let r: Response | undefined;
      for (let i = 0; !r; i++) {
        r = await fetch(`http://127.0.0.1:${port}/api/kernels`, { method: "POST", headers: { Authorization: `token ${token}` }, body: JSON.stringify({ name: "tslab" }) })
          .catch((e) => { if (i === 10) throw e; return undefined; });
        if (!r) await new Promise((ok) => setTimeout(ok, 2000));
      }
      assert.equal(r.status, 201, await r.text());
      // A new notebook (File > New > Notebook, the Launcher's default) gets the TypeScript kernel.
      const specs = await (await fetch(`http://127.0.0.1:${port}/api/kernelspecs`, { headers: { Authorization: `token ${token}` } })).json() as { default: string };
      assert.equal(specs.default, "tslab", "the default kernel");
      for (let i = 0; i < 300 && !processesMentioning(runtime).length; i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(processesMentioning(runtime).length >= 1, "the tslab kernel runs (its connection file is in the runtime folder)");
      let all = out;
      npm.stdout!.on("data", (d) => (all += d));
      npm.stderr!.on("data", (d) => (all += d));
      process.kill(target === "group" ? -npm.pid! : npm.pid!, sig);
      await exited(npm);
      // jupyter-server shuts its kernels down (up to 5 s each) before it exits, and npm may end first.
      const server = `--notebook-dir=${join(root, "my-notebooks")}`;
      // npm may end before npm start has finished its clean-up: wait for that too.
      for (let i = 0; i < 600 && (processesMentioning(runtime).length || processesMentioning(server).length || existsSync(runtime)); i++) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(processesMentioning(runtime), [], `kernel gone; npm start said:\n${all}`);
      assert.deepEqual(processesMentioning(server), [], "JupyterLab gone");
      assert.doesNotMatch(all, /Shut down this Jupyter server/);
      assert.ok(!existsSync(runtime), "runtime folder removed");
    } finally {
      try { process.kill(-npm.pid!, "SIGTERM"); } catch { /* gone */ }
    }
  });
}
