// Files the user keeps (a notebook, data/full-runs.json, the book's pages) are written whole or not at all: the
// content goes to a temp file beside the target, is flushed to disk, and only then renamed over it. Writing in
// place, a full disk left the first 4,096 bytes of a notebook as invalid JSON and the rest lost.
import * as fs from "node:fs";
import * as path from "node:path";
import { fsError } from "./fs-errors";

/** Writes all of `data` to the open file `fd` (tests inject one that fails like a full disk). */
export type WriteAll = (fd: number, data: Uint8Array) => void;

const writeAll: WriteAll = (fd, data) => {
  for (let off = 0; off < data.length; ) off += fs.writeSync(fd, data, off, data.length - off);
};

/**
 * Replaces `file` with `data` atomically: a sibling temp file (same folder, so the rename stays on one file
 * system) is written and fsynced, then renamed into place. On any failure the temp file is removed, `file` is
 * unchanged, and the error names `file` and the reason in words (e.g. "no space left on the device (ENOSPC)").
 * A replaced file keeps its permissions.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, write: WriteAll = writeAll): void {
  const target = path.resolve(file);
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${Date.now().toString(36)}`);
  let mode = 0o666; // less the umask, as a new file gets
  try {
    mode = fs.statSync(target).mode & 0o7777;
  } catch { /* a new file */ }
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, "wx", mode);
    write(fd, typeof data === "string" ? Buffer.from(data, "utf8") : data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) try { fs.closeSync(fd); } catch { /* already failing */ }
    fs.rmSync(tmp, { force: true });
    const kept = fs.existsSync(target) ? "it is unchanged" : "nothing was written";
    const err = fsError(e, `cannot write ${target}`);
    throw new Error(`${err === e ? `cannot write ${target}: ${(e as Error).message}` : err.message}; ${kept}`);
  }
}
