// `npm run check:live` must be able to fail, and must leave nothing behind when stopped. (Its passing run, the
// built-in live training chart, is a CI step of its own: .ci/run.)
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { chromiumMissing } from "../tools/chromium";

const root = join(__dirname, "..");
const skip = chromiumMissing()
  ?? (spawnSync("jupyter", ["notebook", "--version"]).status !== 0 ? "no classic Jupyter Notebook (Debian: apt-get install jupyter-notebook)" : false);
const TMP_PREFIX = join(root, ".live-check-"); // the tool's temp folders, whose paths its processes' command lines name

let dir: string;
before(() => { mkdirSync(join(root, "test", ".tmp"), { recursive: true }); dir = mkdtempSync(join(root, "test", ".tmp", "live-")); });
after(() => rmSync(dir, { recursive: true, force: true }));

// Another check:live may run in this checkout meanwhile: each test looks only at folders and processes that were
// not there before it started.
const tempFolders = () => readdirSync(root).filter((f) => f.startsWith(".live-check-")).map((f) => join(root, f));
const newFolders = (before: string[]) => tempFolders().filter((f) => !before.includes(f));

/** Live processes (zombies excluded) whose command line mentions `text` but none of the folders in `except`. */
function processesMentioning(text: string, except: string[] = []): number[] {
  return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).filter((d) => {
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, "utf8");
      return cmd.includes(text) && !except.some((f) => cmd.includes(f)) && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${d}/stat`, "utf8"));
    } catch {
      return false;
    }
  }).map(Number);
}

/** Live members of a process group: npm and the check it runs, here. */
function groupMembers(pgid: number): number[] {
  return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).filter((d) => {
    try {
      const [state, , pgrp] = readFileSync(`/proc/${d}/stat`, "utf8").replace(/^.*\) /s, "").split(" ");
      return Number(pgrp) === pgid && state !== "Z";
    } catch {
      return false;
    }
  }).map(Number);
}

function checkLive(args: string[], env: NodeJS.ProcessEnv = process.env): { code: number; out: string } {
  const r = spawnSync("npm", ["run", "--silent", "check:live", "--", ...args], { cwd: root, encoding: "utf8", timeout: 300_000, env });
  return { code: r.status ?? -1, out: r.stdout + r.stderr };
}

test("--help: usage, exit 0; bad flags (a non-empty --screenshots folder, an unreadable --cell, a --notebook without a live chart) are usage errors, a missing Notebook a one-line error, before anything starts", () => {
  const before = tempFolders();
  const help = checkLive(["--help"]);
  assert.equal(help.code, 0, help.out);
  assert.match(help.out, /^usage: npm run check:live -- /);
  const full = join(dir, "full");
  mkdirSync(full);
  writeFileSync(join(full, "mine.png"), "not the tool's");
  const r = checkLive(["--screenshots", full]);
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /--screenshots .*full: the folder is not empty \(expected a new or empty folder: nothing is overwritten\)/);
  assert.equal(readFileSync(join(full, "mine.png"), "utf8"), "not the tool's");
  const c = checkLive(["--cell", join(dir, "missing.ts")]);
  assert.equal(c.code, 2, c.out);
  assert.match(c.out, /--cell .*missing\.ts: cannot read it \(ENOENT\); expected a file holding the cell's code/);
  const both = checkLive(["--cell", join(dir, "missing.ts"), "--notebook", join(root, "notebooks", "06-full-cnn.ipynb")]);
  assert.equal(both.code, 2, both.out);
  assert.match(both.out, /--cell and --notebook exclude each other/);
  const still = checkLive(["--notebook", join(root, "notebooks", "02-valid-same.ipynb")]);
  assert.equal(still.code, 2, still.out);
  assert.match(still.out, /--notebook .*02-valid-same\.ipynb: no code cell calls liveTrainingCurves\(\) or liveDisplay\(\) \(expected a notebook with a live chart\)/);
  const zero = checkLive(["--timeout", "0"]);
  assert.equal(zero.code, 2, zero.out);
  assert.match(zero.out, /--timeout must be a whole number >= 1, got "0"/);
  const bin = join(dir, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "jupyter"), "#!/bin/sh\nexit 1\n", { mode: 0o755 }); // a machine without the classic Notebook
  const j = checkLive([], { ...process.env, PATH: `${bin}:${process.env.PATH}` });
  assert.equal(j.code, 1, j.out);
  assert.match(j.out, /^error: Jupyter's classic Notebook is not installed: `jupyter notebook --version` failed \(Debian: apt-get install jupyter-notebook\)$/m);
  assert.deepEqual(newFolders(before), [], "nothing started, no temp folder");
});

test("charts appended one after another instead of updated in place: the chart did not change, 3 images remain, exit 1", { skip, timeout: 300_000 }, () => {
  // What a front end shows when every redraw arrives as a new display_data: the first chart never changes.
  const cell = join(dir, "appended.ts");
  writeFileSync(cell, `import { lineChart } from "cnn-lab";
for (const n of [2, 4, 8]) {
  lineChart([{ label: "loss", values: Array.from({ length: n }, (_, i) => 1 / (i + 1)) }]);
  await new Promise((r) => setTimeout(r, 1500));
}`);
  const before = tempFolders();
  const r = checkLive(["--cell", cell]);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /the chart did not change: two screenshots of it \(.*\) are identical/);
  assert.match(r.out, /3 chart images remain in the cell's output, expected exactly 1/);
  assert.deepEqual(newFolders(before), [], "temp folder removed");
  assert.deepEqual(processesMentioning(TMP_PREFIX, before), [], "server, kernel and browser stopped");
});

// SIGINT (Ctrl-C), sent to the whole process group as a terminal does. SIGTERM and SIGHUP take the same handler.
for (const sig of ["SIGINT"] as const) {
  test(`${sig} to \`npm run check:live\` with the notebook open stops the server, the kernel and the browser, and removes the temp folder`, { skip, timeout: 300_000 }, async () => {
    const before = tempFolders();
    const npm = spawn("npm", ["run", "--silent", "check:live"], { cwd: root, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise<void>((r) => npm.on("exit", () => r()));
    let out = "";
    npm.stderr.on("data", (d) => (out += d));
    await new Promise<void>((ok, fail) => {
      npm.stdout.on("data", (d) => { out += d; if (out.includes("kernel idle")) ok(); });
      void exited.then(() => fail(new Error(`exited before the notebook was open:\n${out}`)));
    });
    const [tmp, ...more] = newFolders(before);
    assert.ok(tmp && !more.length, `one new temp folder, found ${[tmp, ...more].join(", ")}`);
    const started = processesMentioning(tmp);
    // The server (--notebook-dir), the kernel (its connection file) and Chromium (--user-data-dir) at least.
    assert.ok(started.length >= 3, `expected server, kernel and browser processes, found ${started.length}`);
    process.kill(-npm.pid!, sig); // as from a terminal: the whole group
    await exited;
    // npm may exit before the tool has finished stopping things: wait (a bound, not a timing assertion) for the tool.
    const busy = () => processesMentioning(tmp).length + groupMembers(npm.pid!).length > 0 || existsSync(tmp);
    for (let i = 0; i < 150 && busy(); i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(groupMembers(npm.pid!), [], "the check itself exited");
    const left = processesMentioning(tmp);
    for (const p of left) { try { process.kill(p, "SIGKILL"); } catch { /* gone */ } }
    assert.deepEqual(left, [], "nothing the check started still runs");
    assert.equal(existsSync(tmp), false, "temp folder removed");
  });
}
