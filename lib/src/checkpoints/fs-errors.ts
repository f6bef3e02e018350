// File-system errors in words, with the path: node's own messages for writes on an open file ("ENOSPC: no
// space left on device, write") and reads of a folder ("EISDIR: illegal operation on a directory, read") name none.
import * as fs from "node:fs";

const REASONS: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "the file system is read-only",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EFBIG: "the file would exceed the largest size allowed (the file system's or the process's limit)",
  ENOTDIR: "part of the path is a file, not a folder",
  EISDIR: "it is a folder, not a file",
  ENOENT: "it does not exist",
  EEXIST: "it already exists",
  EMFILE: "too many open files",
  ELOOP: "it is a loop of symbolic links",
  ENAMETOOLONG: "the name is too long",
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
  regularFile(file, expected);
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

/** A file-system entry's kind in words, for "X: is a FIFO (named pipe), expected ...". */
export function kindOf(st: fs.Stats): string {
  if (st.isFile()) return "a file";
  if (st.isDirectory()) return "a folder";
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  return "not a regular file";
}

/**
 * What is at `file` (links followed), or undefined when nothing is there, so the caller can say what is missing.
 * Anything else that stops the look (a loop of symbolic links, no permission) is an error naming the path:
 * `fs.existsSync` would call a link loop "does not exist".
 */
export function statIfExists(file: string, what: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw fsError(e, what);
  }
}

/**
 * Checks that `file` is a regular file before anything opens it: reading a FIFO waits for a writer forever, a
 * device may never end, a folder fails with a bare EISDIR. Undefined when nothing is there (the caller says what is
 * missing); anything else is an error naming the path, what is there and what was expected.
 */
export function regularFile(file: string, expected: string): fs.Stats | undefined {
  const st = statIfExists(file, `${file}: cannot read ${expected}`);
  if (st && !st.isFile()) throw new Error(`${file}: is ${kindOf(st)}, expected ${expected}`);
  return st;
}
