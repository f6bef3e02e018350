// The Linux process table (/proc) as the tools need it: who launched a tool (stop-with-launcher.mjs) and what a
// kernel started (stopping a kernel stops its cells' processes, even those that left its process group). Off Linux
// there is no /proc: hasProcTable() is false and the callers fall back to what Node offers.
import { existsSync, readdirSync, readFileSync } from "node:fs";

export const hasProcTable = () => existsSync("/proc/self/stat");

/** A process's state, parent, process group, session and start time (clock ticks since boot); undefined if none. */
export function procStat(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces or ")": the fields follow the last ")".
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { pid, state: f[0], ppid: Number(f[1]), pgid: Number(f[2]), sid: Number(f[3]), start: f[19] };
  } catch {
    return undefined;
  }
}

/** Whether the process is still the one seen before (same start time: a pid can be reused) and not a zombie. */
export function stillRunning(p) {
  const now = procStat(p.pid);
  return now !== undefined && now.start === p.start && now.state !== "Z";
}

/** Whether the process's environment (as it started) holds `entry`: "NAME=value", or "NAME=" for any value. */
export function environHas(pid, entry) {
  try {
    const env = `\0${readFileSync(`/proc/${pid}/environ`, "latin1")}\0`; // entries end in NUL
    return env.includes(entry.endsWith("=") ? `\0${entry}` : `\0${entry}\0`);
  } catch {
    return false; // gone, or another user's
  }
}

/** Every process now, by pid. */
function table() {
  const all = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const s = procStat(Number(d));
    if (s && s.state !== "Z") all.set(s.pid, s);
  }
  return all;
}

/** `roots` (as seen before, by pid and start time) and every process below them, by PPid links, in `all`. */
function withDescendants(roots, all) {
  const children = new Map();
  for (const s of all.values()) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const found = new Map();
  const todo = roots.filter((r) => all.get(r.pid)?.start === r.start).map((r) => all.get(r.pid));
  while (todo.length) {
    const s = todo.pop();
    if (found.has(s.pid)) continue;
    found.set(s.pid, s);
    todo.push(...(children.get(s.pid) ?? []));
  }
  return found;
}

/** `pid` and every process below it now, with start times: what stopTree kills later, if still the same processes. */
export function processTree(pid) {
  if (!hasProcTable()) return [];
  const root = procStat(pid);
  return root ? [...withDescendants([root], table()).values()].map(({ pid, start }) => ({ pid, start })) : [];
}

/**
 * SIGKILLs the processes of `tree` (from processTree) that still run, every process now below them, and every process
 * whose environment holds `mark` ("NAME=value" given to the tree's root: children inherit it, so it finds those that
 * left the tree, e.g. `setsid -f` or a parent that exited), with the process groups they lead (`setsid`, `detached:
 * true`). Scans again until none is left, since a process may fork while the others are killed. Synchronous.
 */
export function stopTree(tree, mark) {
  for (let round = 0; round < 5; round++) {
    const all = table();
    const marked = mark ? [...all.values()].filter((s) => s.pid !== process.pid && environHas(s.pid, mark)) : [];
    const targets = withDescendants([...tree, ...marked], all);
    targets.delete(process.pid);
    if (!targets.size) return;
    for (const s of targets.values()) {
      try {
        if (s.pgid === s.pid) process.kill(-s.pid, "SIGKILL"); // a group it leads: what it started without leaving it
        process.kill(s.pid, "SIGKILL");
      } catch {
        // exited meanwhile
      }
    }
  }
}
