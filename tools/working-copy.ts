// The learner's working copy: `npm start` opens Jupyter on my-notebooks/ (git-ignored), never on notebooks/, so that
// autosave, Ctrl-S and a quick training run cannot change the committed notebooks (the reviewed outputs and the
// regression baseline). The copy sits one level under the project root like notebooks/, so what the notebooks load
// resolves the same from either folder: ../data, ../checkpoints, and "cnn-lab" from the project's node_modules.
//
// A manifest (.origin.json) records the SHA-256 of each copy as written. A copy whose bytes still match it is the
// learner's untouched copy and may be replaced; one that differs holds the learner's work and is only ever moved
// aside to a backup (by --reset), never overwritten.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { UsageError } from "./cli/cli";
import { PROJECT_ROOT } from "./cli/user-path";

export const NOTEBOOKS_DIR = join(PROJECT_ROOT, "notebooks");
export const WORK_DIR = join(PROJECT_ROOT, "my-notebooks");
const MANIFEST = ".origin.json";

/** Per notebook file name: the SHA-256 of the original it was copied from, which is also the copy as written. */
type Manifest = Record<string, string>;

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Writes through a temp name and a rename: an interrupted write never leaves half a file. */
export function writeFileAtomic(path: string, data: string | Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export interface CopyDirs { from: string; to: string }
const DEFAULT_DIRS: CopyDirs = { from: NOTEBOOKS_DIR, to: WORK_DIR };

function readManifest(dir: string): Manifest {
  try {
    return JSON.parse(readFileSync(join(dir, MANIFEST), "utf8")) as Manifest;
  } catch {
    return {}; // none yet (first start) or unreadable: every differing copy then counts as the learner's
  }
}

const saveManifest = (dir: string, m: Manifest) => writeFileAtomic(join(dir, MANIFEST), JSON.stringify(m, null, 1) + "\n");
const originals = (dirs: CopyDirs) => readdirSync(dirs.from).filter((f) => f.endsWith(".ipynb")).sort();

/** What became of each notebook: created, updated (untouched copy, newer original), or kept as the learner's. */
export interface SyncReport { created: string[]; updated: string[]; changed: string[]; outdated: string[] }

/**
 * Brings the working copy up to date before Jupyter opens it: a missing copy is created; an untouched copy whose
 * original has changed since (a `git pull`) is replaced; a copy the learner changed is left alone, and listed in
 * `outdated` too when its original has changed since it was copied.
 */
export function syncWorkingCopy(dirs: CopyDirs = DEFAULT_DIRS): SyncReport {
  const report: SyncReport = { created: [], updated: [], changed: [], outdated: [] };
  const manifest = readManifest(dirs.to);
  for (const name of originals(dirs)) {
    const original = readFileSync(join(dirs.from, name));
    const originalHash = sha256(original);
    const copyPath = join(dirs.to, name);
    if (!existsSync(copyPath)) {
      writeFileAtomic(copyPath, original);
      report.created.push(name);
    } else {
      const copyHash = sha256(readFileSync(copyPath));
      if (copyHash === originalHash) {
        // current (adopted as untouched if the manifest was lost)
      } else if (copyHash === manifest[name]) {
        writeFileAtomic(copyPath, original);
        report.updated.push(name);
      } else {
        report.changed.push(name);
        if (manifest[name] !== undefined && manifest[name] !== originalHash) report.outdated.push(name);
        continue; // the manifest keeps the version this copy came from
      }
    }
    manifest[name] = originalHash;
  }
  saveManifest(dirs.to, manifest);
  return report;
}

/** A backup name next to the copy that no existing file has: NAME.backup-2026-12-06T01-02-03.ipynb. */
function backupName(dir: string, name: string, now: Date): string {
  const stamp = now.toISOString().slice(0, 19).replace(/:/g, "-");
  const stem = name.replace(/\.ipynb$/, "");
  for (let i = 0; ; i++) {
    const candidate = `${stem}.backup-${stamp}${i ? `-${i}` : ""}.ipynb`;
    if (!existsSync(join(dir, candidate))) return candidate;
  }
}

export interface ResetReport { reset: string[]; backups: Array<{ name: string; backup: string }> }

/**
 * `npm start -- --reset NAME|all`: replaces copies with the committed notebooks. A copy the learner changed is first
 * renamed to a backup beside it (reported); nothing is overwritten. NAME is a notebook's file name, with or without
 * `.ipynb`, or a unique prefix such as `06`.
 */
export function resetWorkingCopy(which: string, dirs: CopyDirs = DEFAULT_DIRS, now = new Date()): ResetReport {
  const all = originals(dirs);
  let names: string[];
  if (which === "all") {
    names = all;
  } else {
    const exact = all.filter((n) => n === which || n === `${which}.ipynb`);
    names = exact.length ? exact : all.filter((n) => n.startsWith(which));
    if (names.length !== 1) {
      throw new UsageError(`--reset ${which}: ${names.length ? `matches ${names.join(", ")}` : "no such notebook"} in ${dirs.from} (expected one notebook's name, e.g. ${all[0]?.replace(/\.ipynb$/, "") ?? "01-toy-image"}, or "all")`);
    }
  }
  const manifest = readManifest(dirs.to);
  const report: ResetReport = { reset: [], backups: [] };
  for (const name of names) {
    const original = readFileSync(join(dirs.from, name));
    const copyPath = join(dirs.to, name);
    if (existsSync(copyPath)) {
      const copy = sha256(readFileSync(copyPath));
      if (copy !== manifest[name] && copy !== sha256(original)) {
        const backup = backupName(dirs.to, name, now);
        renameSync(copyPath, join(dirs.to, backup));
        report.backups.push({ name, backup });
      }
    }
    writeFileAtomic(copyPath, original);
    manifest[name] = sha256(original);
    report.reset.push(name);
  }
  saveManifest(dirs.to, manifest);
  return report;
}
