// The shared file checks: what is at a path, in words, before anything opens it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { kindOf, regularFile, statIfExists } from "../lib/src/checkpoints/fs-errors";

test("regularFile: a file's stats; nothing there is undefined; a folder, a FIFO or a link loop is named for what it is", (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fs-errors-test-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "a.json");
  fs.writeFileSync(file, "{}");
  assert.ok(regularFile(file, "a JSON file")?.isFile());
  assert.equal(regularFile(path.join(dir, "none"), "a JSON file"), undefined);
  assert.equal(statIfExists(path.join(dir, "none"), "x"), undefined);
  assert.throws(() => regularFile(dir, "a JSON file"), { message: `${dir}: is a folder, expected a JSON file` });
  const fifo = path.join(dir, "fifo");
  execFileSync("mkfifo", [fifo]);
  assert.equal(kindOf(fs.statSync(fifo)), "a FIFO (named pipe)");
  assert.throws(() => regularFile(fifo, "a JSON file"), { message: `${fifo}: is a FIFO (named pipe), expected a JSON file` });
  assert.equal(kindOf(fs.statSync("/dev/null")), "a character device");
  const loop = path.join(dir, "loop");
  fs.symlinkSync("loop", loop);
  assert.throws(() => regularFile(loop, "a JSON file"), { message: `${loop}: cannot read a JSON file: it is a loop of symbolic links (ELOOP)` });
  assert.throws(() => statIfExists(loop, `${loop}: cannot look`), { message: `${loop}: cannot look: it is a loop of symbolic links (ELOOP)` });
});

test("readJson refuses a FIFO at once instead of waiting for a writer forever", (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fs-errors-test-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const fifo = path.join(dir, "runs.json");
  execFileSync("mkfifo", [fifo]);
  // In a child: a blocked read would stop this process's own timers too.
  const code = `require(${JSON.stringify(path.resolve(__dirname, "../lib/src/checkpoints/fs-errors"))}).readJson(${JSON.stringify(fifo)}, "npm run runs' output")`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", code], { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.signal, null, "finished by itself");
  assert.match(r.stderr, new RegExp(`Error: ${fifo.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: is a FIFO \\(named pipe\\), expected npm run runs' output`));
});
