// Output folders that cannot be made: Node's recursive mkdirSync spins forever at 100 % CPU on /proc/nope/x (procfs
// answers ENOENT to mkdir in a folder that exists). makeDirs makes one level at a time and names the path; every CLI
// writing to --out checks its folder before any work.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, test } from "node:test";
import { checkMakeDirs, makeDirs } from "cnn-lab";

const ROOT = path.resolve(__dirname, "..");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "output-dir-"));
after(() => fs.rmSync(work, { recursive: true, force: true }));
const onLinux = fs.existsSync("/proc/self/stat");

test("makeDirs creates missing levels, accepts an existing folder, and names the path when a level is a file", () => {
  const deep = path.join(work, "a", "b", "c");
  makeDirs(deep, `the test folder ${deep}`);
  assert.ok(fs.statSync(deep).isDirectory());
  makeDirs(deep, `the test folder ${deep}`); // again: already there
  // The early check makes nothing: the level it tries is removed again.
  checkMakeDirs(path.join(work, "p", "q"), "the test folder");
  assert.equal(fs.existsSync(path.join(work, "p")), false);
  const file = path.join(work, "a", "notes.txt");
  fs.writeFileSync(file, "x");
  assert.throws(() => makeDirs(path.join(file, "sub"), "the test folder"), {
    message: `cannot create the test folder: ${file} is a file, expected a folder`,
  });
  const dangling = path.join(work, "dangling");
  fs.symlinkSync(path.join(work, "nothing-here"), dangling);
  assert.throws(() => makeDirs(path.join(dangling, "out"), "the test folder"), {
    message: `cannot create the test folder: ${dangling} exists but is not a folder (a link to nothing?); expected a folder`,
  });
});

test("makeDirs on /proc/nope/x fails at once with the path, where mkdirSync(recursive) never returns", { skip: !onLinux && "needs Linux /proc" }, () => {
  for (const check of [makeDirs, checkMakeDirs]) {
    assert.throws(() => check("/proc/nope/x", "the test folder /proc/nope/x"), {
      message: "cannot create the test folder /proc/nope/x: /proc does not take new folders (mkdir /proc/nope: ENOENT, as in /proc); expected a folder on a writable disk",
    });
  }
  // What makeDirs replaces: Node's recursive mkdir in a child, stopped after 3 s (a bound, not a timing check).
  // Node 20 spins there (seen); Node 26 returns: either way makeDirs above gave the clear message.
  const r = spawnSync(process.execPath, ["-e", 'require("fs").mkdirSync("/proc/nope/x", { recursive: true })'], { timeout: 3000 });
  if (process.versions.node.startsWith("20.")) assert.equal(r.signal, "SIGTERM", "Node's recursive mkdirSync on /proc/nope/x still spinning after 3 s");
});

const clis: [string, string[]][] = [
  ["train", ["--out", "/proc/nope/x"]],
  ["train", ["--recipe", "lab-11-4", "--out", "/proc/nope/x"]],
  ["runs", ["--out", "/proc/nope/x/full-runs.json"]],
  ["ship-model", ["data/lecture-cnn", "--out", "/proc/nope/x"]],
];
for (const [tool, args] of clis) {
  test(`${tool} ${args.join(" ")}: a clear error naming the path, before any work`, { skip: !onLinux && "needs Linux /proc" }, () => {
    // 120 s only ends a hang (the bug spun forever); the check is the message and that nothing was loaded first.
    const r = spawnSync(process.execPath, ["--import", "tsx", `tools/cli/${tool}.ts`, ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
    assert.equal(r.signal, null, `${tool} did not finish (killed by ${r.signal})`);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^error: cannot create the (checkpoint folder \/proc\/nope\/x|folder of \/proc\/nope\/x\/full-runs\.json|shipped model folder \/proc\/nope\/x): \/proc does not take new folders \(mkdir \/proc\/nope: ENOENT, as in \/proc\); expected a folder on a writable disk$/m);
    assert.doesNotMatch(r.stdout, /backend|training|epoch/i, "the folder is checked before the backend and data are loaded");
  });
}
