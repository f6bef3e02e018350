// One scratch folder per kernel process: the kernel points TMPDIR (os.tmpdir()) at it, so the scratch folders that
// cells make with fs.mkdtempSync(path.join(os.tmpdir(), …)) (notebook 06's lab-11-1-loop-*, lab-11-1-quick-*) live
// inside it and go when the kernel exits: shutdown, restart, SIGTERM/SIGHUP, or an interrupt then a restart. A kernel
// killed with SIGKILL cannot clean up: the next kernel removes folders whose process is gone.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const PREFIX = "cnn-kernel-";

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === "EPERM";
  }
}

/** Removes scratch folders of kernels that are gone (killed with SIGKILL), under `base`. */
export function removeOrphans(base = tmpdir()) {
  let names = [];
  try {
    names = readdirSync(base);
  } catch {
    return;
  }
  for (const name of names) {
    const m = name.startsWith(PREFIX) && /^(\d+)-/.exec(name.slice(PREFIX.length));
    if (m && Number(m[1]) > 0 && !alive(Number(m[1]))) rmSync(join(base, name), { recursive: true, force: true });
  }
}

/** Makes this kernel's folder under the system temp folder, sets TMPDIR to it, and returns { dir, remove }. */
export function kernelScratch(base = tmpdir()) {
  removeOrphans(base);
  const dir = mkdtempSync(join(base, `${PREFIX}${process.pid}-`));
  process.env.TMPDIR = dir; // read by os.tmpdir() on every call, here and in the cells' worker threads
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
