// `npm run check:lab` refuses bad input before starting anything. (Its passing run is a CI step of its own: .ci/run.)
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
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
