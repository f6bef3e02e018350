// The checkpoint folder of a training run, made ready before the first batch: writable with room for a
// checkpoint (else a full or read-only disk shows only after a whole epoch), locked against a second run,
// and cleared of the temp folders a killed checkpoint write leaves behind.
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { fsError } from "./fs-errors";
import { makeDirs } from "./make-dirs";
import { acquireRunLock, checkRunLock, processAlive } from "./run-lock";

/** Bytes one checkpoint of `model` takes: its weights plus Adam's two moments per trainable weight. */
export function checkpointBytes(model: tf.LayersModel): number {
  const count = (ws: tf.LayerVariable[]) => ws.reduce((n, w) => n + w.shape.reduce<number>((a, b) => a * (b ?? 1), 1), 0);
  return 4 * (count(model.weights) + 2 * count(model.trainableWeights));
}

/**
 * Creates `dir` if needed and writes (then removes) a probe file of `bytes` bytes, so that a folder that cannot
 * take a checkpoint is refused now, with its path, instead of after an epoch of training.
 */
function checkWritableDir(dir: string, bytes = 1): void {
  try {
    if (fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory() === false) {
      throw new Error(`cannot write checkpoints to ${dir}: it is a file, expected a folder`);
    }
    makeDirs(dir, `the checkpoint folder ${dir}`);
  } catch (e) {
    throw fsError(e, `cannot create the checkpoint folder ${dir}`);
  }
  const probe = path.join(dir, `.write-probe-${process.pid}`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(probe, "w");
    const chunk = new Uint8Array(Math.min(bytes, 1 << 20));
    for (let left = bytes; left > 0; left -= chunk.length) fs.writeSync(fd, chunk, 0, Math.min(left, chunk.length));
    fs.fsyncSync(fd); // delayed allocation may report ENOSPC only here
  } catch (e) {
    throw fsError(e, `cannot write checkpoints to ${dir} (a checkpoint needs ${(bytes / 2 ** 20).toFixed(1)} MB)`);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(probe, { force: true });
  }
}

/** Free bytes for an unprivileged writer on the disk holding `dir`. */
export function freeBytes(dir: string): number {
  const s = fs.statfsSync(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/**
 * Refuses to start work whose checkpoints (`bytes` in all) the disk holding `dir` has no room for; `what` begins
 * the message ("cannot train epoch 2 into DIR: the models' next checkpoints"). `free` reads the free space.
 */
export function checkFreeSpace(dir: string, bytes: number, what: string, free: (dir: string) => number = freeBytes): void {
  let have: number;
  try {
    have = free(dir);
  } catch (e) {
    throw fsError(e, `cannot read the free space of ${dir}`);
  }
  const mb = (n: number) => (n / 2 ** 20).toFixed(1);
  if (have < bytes) throw new Error(`${what} need ${mb(bytes)} MB and the disk has ${mb(have)} MB free: make room, or choose another folder`);
}

/** The temp folders writeArtifacts (checkpoint.ts) makes next to epoch-NNN: `<name>.tmp-<pid>-<ms>`, `<name>.old-<pid>-<ms>`. */
const TEMP = /^(epoch-\d+)\.(tmp|old)-(\d+)-(\d+)$/;

/**
 * Clears what checkpoint writes of dead processes left in `dir` (a write killed half-way): their `.tmp-`
 * folders are removed; an `.old-` folder (the complete previous checkpoint, moved aside just before the new one
 * was renamed in) is put back when its epoch-NNN is missing, else removed. Folders of live processes are left
 * alone; so are the probe and draft lock files of a process killed while writing them. Returns what was done,
 * one line per entry.
 */
function cleanCheckpointTemps(dir: string): string[] {
  const done: string[] = [];
  const temps = fs.readdirSync(dir, { withFileTypes: true })
    .map((d) => ({ d, m: TEMP.exec(d.name) }))
    .filter(({ d, m }) => m !== null && d.isDirectory() && Number(m[3]) !== process.pid && !processAlive(Number(m[3])))
    .sort((a, b) => Number(b.m![4]) - Number(a.m![4])); // newest first: the newest .old- is the one put back
  for (const { d, m } of temps) {
    const from = path.join(dir, d.name);
    const target = path.join(dir, m![1]);
    if (m![2] === "old" && !fs.existsSync(target)) {
      fs.renameSync(from, target);
      done.push(`restored ${m![1]} from ${d.name}`);
    } else {
      fs.rmSync(from, { recursive: true, force: true });
      done.push(`removed ${d.name}`);
    }
  }
  // The probe file above and run-lock's draft lock file, if their process was killed in that instant.
  for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
    const m = /^\.write-probe-(\d+)$|^\.train\.lock\.(\d+)\.tmp$/.exec(d.name);
    const pid = Number(m?.[1] ?? m?.[2]);
    if (m && d.isFile() && pid !== process.pid && !processAlive(pid)) {
      fs.rmSync(path.join(dir, d.name), { force: true });
      done.push(`removed ${d.name}`);
    }
  }
  return done;
}

/** Early checks for a CLI before it loads data: writable with room for `bytes`, not locked by a live run. */
export function checkCheckpointDir(dir: string, bytes?: number): void {
  checkWritableDir(dir, bytes);
  checkRunLock(dir);
}

/**
 * Makes `dir` ready for a run: writable with room for `bytes`, locked for this process (RunLockedError if a
 * live run holds it), temp folders of killed writes cleared. Returns the lock's release function.
 */
export function openCheckpointDir(dir: string, bytes?: number): () => void {
  checkWritableDir(dir, bytes);
  const release = acquireRunLock(dir);
  try {
    cleanCheckpointTemps(dir);
  } catch (e) {
    release();
    throw fsError(e, `cannot clean up the checkpoint folder ${dir}`);
  }
  return release;
}
