// The learner's working copy (my-notebooks/): made on the first start, never overwritten when the learner changed it,
// refreshed on request with the learner's version kept as a backup; and npm start opens Jupyter there, not on
// notebooks/.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { UsageError } from "../tools/cli/cli";
import type { Jupyter } from "../tools/jupyter/lab";
import { start } from "../tools/start";
import { resetWorkingCopy, syncWorkingCopy, WORK_DIR, type CopyDirs } from "../tools/working-copy";

const root = join(__dirname, "..");
let dir: string;
before(() => { mkdirSync(join(root, "test", ".tmp"), { recursive: true }); dir = mkdtempSync(join(root, "test", ".tmp", "copy-")); });
after(() => rmSync(dir, { recursive: true, force: true }));

function project(name: string, notebooks: Record<string, string>): CopyDirs {
  const from = join(dir, name, "notebooks"), to = join(dir, name, "my-notebooks");
  mkdirSync(from, { recursive: true });
  for (const [n, body] of Object.entries(notebooks)) writeFileSync(join(from, n), body);
  return { from, to };
}
const read = (d: CopyDirs, n: string) => readFileSync(join(d.to, n), "utf8");
const notebookFiles = (d: string) => readdirSync(d).filter((f) => f.endsWith(".ipynb")).sort();

test("the working copy sits one level under the project like notebooks/, so ../data and node_modules resolve the same", () => {
  assert.equal(join(WORK_DIR, "..", "data"), join(root, "data"));
  assert.match(readFileSync(join(root, ".gitignore"), "utf8"), /^\/my-notebooks\/$/m, "git-ignored");
});

test("first start copies every notebook; a second start changes nothing; the learner's edits are never overwritten", () => {
  const d = project("sync", { "01-a.ipynb": "A1", "02-b.ipynb": "B1" });
  assert.deepEqual(syncWorkingCopy(d), { created: ["01-a.ipynb", "02-b.ipynb"], updated: [], changed: [], outdated: [] });
  assert.equal(read(d, "01-a.ipynb"), "A1");
  assert.deepEqual(syncWorkingCopy(d), { created: [], updated: [], changed: [], outdated: [] });
  writeFileSync(join(d.to, "01-a.ipynb"), "A1 + my work"); // autosave of the learner's run
  writeFileSync(join(d.from, "01-a.ipynb"), "A2"); // git pull brings a new version of both
  writeFileSync(join(d.from, "02-b.ipynb"), "B2");
  writeFileSync(join(d.from, "03-c.ipynb"), "C1"); // and a new notebook
  const r = syncWorkingCopy(d);
  assert.deepEqual(r, { created: ["03-c.ipynb"], updated: ["02-b.ipynb"], changed: ["01-a.ipynb"], outdated: ["01-a.ipynb"] });
  assert.equal(read(d, "01-a.ipynb"), "A1 + my work", "the learner's copy kept");
  assert.equal(read(d, "02-b.ipynb"), "B2", "an untouched copy follows notebooks/");
  assert.equal(read(d, "03-c.ipynb"), "C1");
  assert.equal(readFileSync(join(d.from, "01-a.ipynb"), "utf8"), "A2", "notebooks/ is only read");
  assert.deepEqual(syncWorkingCopy(d).outdated, ["01-a.ipynb"], "still reported on the next start");
});

test("a copy that differs and has no record (manifest lost) counts as the learner's", () => {
  const d = project("lost", { "01-a.ipynb": "A1" });
  mkdirSync(d.to);
  writeFileSync(join(d.to, "01-a.ipynb"), "mine");
  assert.deepEqual(syncWorkingCopy(d).changed, ["01-a.ipynb"]);
  assert.equal(read(d, "01-a.ipynb"), "mine");
});

test("--reset NAME: an untouched copy is replaced; a changed one is first kept as a backup beside it; all resets every one", () => {
  const d = project("reset", { "01-a.ipynb": "A1", "06-full.ipynb": "F1" });
  syncWorkingCopy(d);
  writeFileSync(join(d.from, "01-a.ipynb"), "A2");
  assert.deepEqual(resetWorkingCopy("01-a", d), { reset: ["01-a.ipynb"], backups: [] });
  assert.equal(read(d, "01-a.ipynb"), "A2");
  writeFileSync(join(d.to, "06-full.ipynb"), "F1 + my run");
  const now = new Date("2026-12-06T01:02:03Z");
  assert.deepEqual(resetWorkingCopy("06", d, now), { reset: ["06-full.ipynb"], backups: [{ name: "06-full.ipynb", backup: "06-full.backup-2026-12-06T01-02-03.ipynb" }] });
  assert.equal(read(d, "06-full.ipynb"), "F1");
  assert.equal(read(d, "06-full.backup-2026-12-06T01-02-03.ipynb"), "F1 + my run");
  writeFileSync(join(d.to, "06-full.ipynb"), "second try");
  const again = resetWorkingCopy("all", d, now); // same second: a backup never replaces another
  assert.deepEqual(again.reset, ["01-a.ipynb", "06-full.ipynb"]);
  assert.deepEqual(again.backups, [{ name: "06-full.ipynb", backup: "06-full.backup-2026-12-06T01-02-03-1.ipynb" }]);
  assert.equal(read(d, "06-full.backup-2026-12-06T01-02-03.ipynb"), "F1 + my run");
  assert.equal(read(d, "06-full.backup-2026-12-06T01-02-03-1.ipynb"), "second try");
  assert.deepEqual(notebookFiles(d.to), ["01-a.ipynb", "06-full.backup-2026-12-06T01-02-03-1.ipynb", "06-full.backup-2026-12-06T01-02-03.ipynb", "06-full.ipynb"]);
});

test("--reset with an unknown or ambiguous name is a usage error naming the folder and what was expected; nothing changes", () => {
  const d = project("bad", { "01-a.ipynb": "A1", "01-b.ipynb": "B1" });
  syncWorkingCopy(d);
  writeFileSync(join(d.to, "01-a.ipynb"), "mine");
  assert.throws(() => resetWorkingCopy("07", d), (e: Error) => e instanceof UsageError && /--reset 07: no such notebook in .*notebooks \(expected one notebook's name, e\.g\. 01-a, or "all"\)/.test(e.message));
  assert.throws(() => resetWorkingCopy("01", d), /--reset 01: matches 01-a\.ipynb, 01-b\.ipynb/);
  assert.equal(read(d, "01-a.ipynb"), "mine");
});

test("npm start opens Jupyter on the working copy, after making it; --reset first keeps a changed copy", async () => {
  const d = project("start", { "01-a.ipynb": "A1" });
  const opened: Jupyter[] = [];
  const lines: string[] = [];
  const deps = {
    decide: () => ({ open: { app: "lab", command: "jupyter", where: "PATH" } as Jupyter }),
    open: async (j: Jupyter) => { opened.push(j); assert.ok(existsSync(join(d.to, "01-a.ipynb")), "the copy exists when Jupyter opens"); return 0; },
    copy: d, log: (l: string) => lines.push(l),
  };
  assert.equal(await start([], deps), 0);
  assert.equal(opened.length, 1);
  assert.match(lines.join("\n"), /working copy: 1 notebook\(s\) copied from notebooks\//);
  writeFileSync(join(d.to, "01-a.ipynb"), "mine");
  lines.length = 0;
  assert.equal(await start(["--reset", "all"], deps), 0);
  assert.match(lines.join("\n"), /your changed 01-a\.ipynb kept as 01-a\.backup-.*\.ipynb/);
  assert.equal(read(d, "01-a.ipynb"), "A1");
});
