// writeFileAtomic: a file is replaced whole or not at all; a failed write (a full disk) leaves it unchanged.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, test } from "node:test";
import { writeFileAtomic, type WriteAll } from "cnn-lab/dist/checkpoints/atomic-write";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "atomic-write-"));
after(() => fs.rmSync(root, { recursive: true, force: true }));

/** Writes the first `room` bytes, then fails as write(2) does on a full disk. */
const fullDisk = (room: number): WriteAll => (fd, data) => {
  fs.writeSync(fd, data, 0, Math.min(room, data.length));
  throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
};

test("writeFileAtomic replaces the file and keeps its permissions", () => {
  const file = path.join(root, "a.json");
  fs.writeFileSync(file, "old");
  fs.chmodSync(file, 0o640);
  writeFileAtomic(file, '{"new": true}\n');
  assert.equal(fs.readFileSync(file, "utf8"), '{"new": true}\n');
  assert.equal(fs.statSync(file).mode & 0o777, 0o640);
  writeFileAtomic(path.join(root, "b.bin"), new Uint8Array([1, 2, 3]));
  assert.deepEqual([...fs.readFileSync(path.join(root, "b.bin"))], [1, 2, 3]);
  assert.deepEqual(fs.readdirSync(root).sort(), ["a.json", "b.bin"], "no temp file left");
});

test("a write failing part-way (a full disk) leaves the file unchanged, no temp file, and names the file", () => {
  const dir = fs.mkdtempSync(path.join(root, "full-"));
  const file = path.join(dir, "nb.ipynb");
  fs.writeFileSync(file, '{"cells": []}\n');
  assert.throws(() => writeFileAtomic(file, "x".repeat(16_384), fullDisk(4096)),
    { message: `cannot write ${file}: no space left on the device (ENOSPC); it is unchanged` });
  assert.equal(fs.readFileSync(file, "utf8"), '{"cells": []}\n');
  const fresh = path.join(dir, "new.json");
  assert.throws(() => writeFileAtomic(fresh, "{}", fullDisk(0)), { message: `cannot write ${fresh}: no space left on the device (ENOSPC); nothing was written` });
  assert.deepEqual(fs.readdirSync(dir), ["nb.ipynb"]);
  const missing = path.join(dir, "no-such-folder", "x.json");
  assert.throws(() => writeFileAtomic(missing, "{}"), { message: `cannot write ${missing}: it does not exist (ENOENT); nothing was written` });
});
