// Creating an output folder and its missing parents, with an error naming the path when it cannot be. Node's own
// mkdirSync(dir, { recursive: true }) never returns for a path such as /proc/nope/x: /proc answers mkdir with ENOENT
// though it exists, which Node takes for a missing parent; it "creates" /proc (EEXIST) and tries again, forever, at
// 100 % CPU (fs.promises.mkdir likewise never settles). Here each missing level is made once, with a plain mkdir.
import * as fs from "node:fs";
import * as path from "node:path";
import { fsError } from "./fs-errors";

type Fail = (why: string) => Error;
const failWith = (what: string): Fail => (why) => new Error(`cannot create ${what}: ${why}`);

/** The levels of `dir` that do not exist yet, outermost first; throws if an existing level is not a folder. */
function missingLevels(dir: string, what: string, fail: Fail): string[] {
  const missing: string[] = [];
  for (let p = path.resolve(dir); ; p = path.dirname(p)) {
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(p, { throwIfNoEntry: false });
    } catch (e) {
      // ENOTDIR: a file higher up, found as the walk goes on; anything else (EACCES, ELOOP) is the answer.
      if ((e as NodeJS.ErrnoException).code !== "ENOTDIR") throw fsError(e, `cannot create ${what}`);
    }
    if (st?.isDirectory()) return missing;
    if (st) throw fail(`${p} is a file, expected a folder`);
    missing.unshift(p);
    if (path.dirname(p) === p) return missing;
  }
}

/** mkdir of one level whose parent exists; false when another process made it meanwhile. */
function makeLevel(p: string, what: string, fail: Fail): boolean {
  try {
    fs.mkdirSync(p);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST" && fs.statSync(p, { throwIfNoEntry: false })?.isDirectory()) return false;
    if (code === "EEXIST") throw fail(`${p} exists but is not a folder (a link to nothing?); expected a folder`);
    // The parent exists (checked or just made): ENOENT means its file system takes no new folders.
    if (code === "ENOENT") throw fail(`${path.dirname(p)} does not take new folders (mkdir ${p}: ENOENT, as in /proc); expected a folder on a writable disk`);
    throw fsError(e, `cannot create ${what}`);
  }
}

/**
 * Makes `dir` (and its missing parents) a folder, or throws an error saying `cannot create <what>: <why>` and what
 * was expected; `what` names the folder with its path, e.g. "the checkpoint folder /x/cnn". An existing folder is fine.
 */
export function makeDirs(dir: string, what: string): void {
  const fail = failWith(what);
  for (const p of missingLevels(dir, what, fail)) makeLevel(p, what, fail);
}

/**
 * makeDirs's check without its result, for a command's early checks (a refused command writes nothing): throws
 * what makeDirs would throw for the first level to make; that level is made and removed again.
 */
export function checkMakeDirs(dir: string, what: string): void {
  const fail = failWith(what);
  const [first] = missingLevels(dir, what, fail);
  if (first === undefined || !makeLevel(first, what, fail)) return;
  try {
    fs.rmdirSync(first);
  } catch {
    // another process put something in it meanwhile: it is theirs now
  }
}
