// One training run per checkpoint folder: two runs writing epoch-NNN/ into the same folder would overwrite
// each other's checkpoints, the last writer silently winning. The lock is a file created with O_EXCL that
// holds the owner's pid and start time; a lock whose process is gone (killed, crashed) is stale and taken over.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fsError } from "./fs-errors";

/** The lock file's name inside the checkpoint folder. */
const RUN_LOCK = ".train.lock";

export interface LockOwner {
  pid: number;
  host: string;
  /** When the lock was taken (ISO time). */
  started: string;
  /** The kernel's start time of the process (Linux), to tell the owner from a later process given the same pid. */
  procStart?: string;
}

export class RunLockedError extends Error {
  constructor(readonly dir: string, readonly owner: LockOwner) {
    const here = owner.host === os.hostname();
    super(
      `${dir} is in use by another training run (pid ${owner.pid}${here ? "" : ` on ${owner.host}`}, ` +
        `since ${owner.started}): wait for it to end or stop it, or choose another folder` +
        // Another machine's (or an earlier container's) processes cannot be checked from here.
        (here ? "" : `; if that run is gone, delete ${path.join(dir, RUN_LOCK)}`),
    );
  }
}

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot); undefined off Linux or for no such process. */
function procStart(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid exists (EPERM: it does, owned by another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Lock files this process holds, so a leftover one with our own pid (never released) counts as stale. */
const held = new Set<string>();

function readOwner(file: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(fs.readFileSync(file, "utf8"));
    // Only a process's own pid: kill(0) and kill(-1) signal groups, so a lock holding 0 or -1 would look alive forever.
    return Number.isInteger(owner?.pid) && owner.pid >= 1 && owner.pid <= 2 ** 31 - 1 ? owner : undefined;
  } catch {
    return undefined; // gone meanwhile, or written half-way by a process killed at that moment
  }
}

function isStale(file: string, owner: LockOwner | undefined): boolean {
  if (owner === undefined) return true;
  if (owner.host !== os.hostname()) return false; // another machine's processes cannot be checked
  if (owner.pid === process.pid) return !held.has(file);
  if (!processAlive(owner.pid)) return true;
  const now = procStart(owner.pid);
  return owner.procStart !== undefined && now !== undefined && now !== owner.procStart; // pid reused
}

/**
 * Refuses a lock path that is not a file (a folder, a FIFO…): it is not ours to move or remove, and reading or
 * replacing it would fail half-way.
 */
function checkLockIsFile(file: string): void {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (st === undefined || st.isFile()) return;
  const what = st.isDirectory() ? "a folder" : st.isSymbolicLink() ? "a symbolic link" : "not a regular file";
  throw new Error(`${file} is ${what}, expected a training run's lock file: remove it if no training run uses ${path.dirname(file)}, or choose another folder`);
}

/** Throws RunLockedError when a live process holds the folder's lock. For an early check; acquireRunLock decides. */
export function checkRunLock(dir: string): void {
  const file = path.join(dir, RUN_LOCK);
  checkLockIsFile(file);
  if (!fs.existsSync(file)) return;
  const owner = readOwner(file);
  if (!isStale(file, owner)) throw new RunLockedError(dir, owner!);
}

/** Moves a stale lock out of the way; if another process replaced it by a live one meanwhile, puts that back. */
function removeStale(file: string): void {
  const aside = `${file}.stale-${process.pid}`;
  try {
    fs.renameSync(file, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw fsError(e, `cannot remove the stale lock ${file}`);
  }
  if (!isStale(file, readOwner(aside))) {
    try {
      fs.linkSync(aside, file);
    } catch {
      // a third process created a lock meanwhile: it holds the folder now
    }
  }
  fs.rmSync(aside, { force: true });
}

/**
 * Takes the folder's lock (the folder must exist) for this process; returns the function that releases it.
 * It is also released when the process exits (process.exit, e.g. a second Ctrl-C); a killed process's lock
 * is stale and taken over by the next run. Throws RunLockedError while a live process holds it.
 */
export function acquireRunLock(dir: string): () => void {
  const file = path.join(dir, RUN_LOCK);
  const me: LockOwner = { pid: process.pid, host: os.hostname(), started: new Date().toISOString(), procStart: procStart(process.pid) };
  // Written aside, then linked into place (exclusive like O_EXCL, and never seen empty or half-written).
  const draft = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(draft, JSON.stringify(me) + "\n");
    for (;;) {
      try {
        fs.linkSync(draft, file);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      checkLockIsFile(file);
      const owner = readOwner(file);
      if (!isStale(file, owner)) throw new RunLockedError(dir, owner!);
      removeStale(file);
    }
  } catch (e) {
    throw fsError(e, `cannot create the lock file ${file}`);
  } finally {
    fs.rmSync(draft, { force: true });
  }
  held.add(file);
  const release = () => {
    process.off("exit", release);
    if (!held.delete(file)) return;
    const owner = readOwner(file);
    if (owner?.pid === me.pid && owner.started === me.started) fs.rmSync(file, { force: true });
  };
  process.on("exit", release);
  return release;
}
