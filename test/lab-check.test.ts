// `npm run check:lab` refuses bad input before starting anything. (Its passing run is a CI step of its own: .ci/run.)
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

const root = join(__dirname, "..");
let dir: string;
before(() => { mkdirSync(join(root, "test", ".tmp"), { recursive: true }); dir = mkdtempSync(join(root, "test", ".tmp", "labcheck-")); });
after(() => rmSync(dir, { recursive: true, force: true }));

const checkLab = (args: string[]) => {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(root, "tools", "jupyter", "lab-check.ts"), ...args], { cwd: root, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, out: r.stdout + r.stderr };
};
const tempCopies = () => readdirSync(root).filter((f) => f.startsWith(".lab-check-"));

test("check:lab: --help, an unknown notebook, a non-empty --screenshots folder: usage errors before anything starts", () => {
  const before = tempCopies();
  const help = checkLab(["--help"]);
  assert.equal(help.code, 0, help.out);
  assert.match(help.out, /^usage: npm run check:lab -- /);
  const bad = checkLab(["--notebooks", "02-valid-same,99-nope"]);
  assert.equal(bad.code, 2, bad.out);
  assert.match(bad.out, /--notebooks: .*notebooks\/99-nope\.ipynb does not exist \(expected names of notebooks\/, e\.g\. 02-valid-same\)/);
  const full = join(dir, "full");
  mkdirSync(full);
  writeFileSync(join(full, "mine.png"), "not the check's");
  const shots = checkLab(["--screenshots", full]);
  assert.equal(shots.code, 2, shots.out);
  assert.match(shots.out, /the folder is not empty/);
  assert.equal(readFileSync(join(full, "mine.png"), "utf8"), "not the check's");
  assert.deepEqual(tempCopies(), before, "no working copy made");
});

// Once JupyterLab and Chromium run: SIGTERM (kill, a CI runner stopping the step) stops all of them and removes the
// working copy. (It used to stop only the server: node and Chromium went on.)
const lab = (() => {
  const { decide, realProbes } = require("../tools/jupyter/lab") as typeof import("../tools/jupyter/lab");
  const { chromiumMissing } = require("../tools/chromium") as typeof import("../tools/chromium");
  const d = decide({ ...realProbes(), python: () => undefined });
  return !("open" in d) || d.open.app !== "lab" ? "no JupyterLab (npm start -- --setup)" : chromiumMissing() ?? false;
})();
test("check:lab: SIGTERM while a notebook runs stops JupyterLab, its kernel and Chromium, and removes the working copy", { skip: lab, timeout: 240_000 }, async () => {
  const before = tempCopies();
  const child = spawn(process.execPath, ["--import", "tsx", join(root, "tools", "jupyter", "lab-check.ts"), "--notebooks", "02-valid-same"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (b) => { out += b; });
  child.stderr.on("data", (b) => { out += b; });
  for (let i = 0; i < 2000 && !/02-valid-same\.ipynb:/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(out, /02-valid-same\.ipynb:/, "the check reached the notebook");
  const mine = tempCopies().filter((f) => !before.includes(f));
  assert.equal(mine.length, 1, "its working copy");
  const profile = join(root, mine[0], ".profile");
  assert.ok(processesWith(profile).length > 0, "Chromium runs");
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  child.kill("SIGTERM");
  assert.equal(await exited, 143, out);
  for (let i = 0; i < 50 && processesWith(profile).length; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(processesWith(profile), [], "Chromium gone");
  assert.deepEqual(processesWith(join(root, mine[0])), [], "JupyterLab and its kernel gone");
  assert.deepEqual(tempCopies(), before, "working copy removed");
});

/** Pids of processes whose command line mentions `s`. */
function processesWith(s: string): number[] {
  return readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
    try { return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(s); } catch { return false; }
  }).map(Number);
}
