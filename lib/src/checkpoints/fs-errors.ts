// File-system errors in words, with the path: node's own messages for writes on an open file ("ENOSPC: no
// space left on device, write") and reads of a folder ("EISDIR: illegal operation on a directory, read") name none.
import * as fs from "node:fs";

const REASONS: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "the file system is read-only",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  ENOTDIR: "part of the path is a file, not a folder",
  EISDIR: "it is a folder, not a file",
  ENOENT: "it does not exist",
  EEXIST: "it already exists",
  EMFILE: "too many open files",
};

/** `what` (e.g. "cannot write checkpoint /x/epoch-001") + why, in words, + the code; non-fs errors pass through. */
export function fsError(e: unknown, what: string): Error {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (typeof code !== "string" || !/^E[A-Z]+$/.test(code)) return e as Error;
  return new Error(`${what}: ${REASONS[code] ?? (e as Error).message} (${code})`);
}

/** A JSON file's content; an unreadable file or invalid JSON is an error naming the file and what was expected. */
export function readJson(file: string, expected: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw fsError(e, `${file}: cannot read ${expected}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (corrupt or truncated; expected ${expected}): ${(e as Error).message}`);
  }
}
