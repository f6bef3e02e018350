// A tool that npm runs (`npm run train`, `npm test`) is the child of `sh -c`, the child of npm. SIGTERM or SIGHUP sent
// to npm alone (`kill <npm pid>`, a CI runner stopping its step) ends npm (it passes SIGTERM on to `sh` only, SIGHUP to
// no one) and leaves the tool running with parent 1: its kernels, cells, training threads and temp folders too. So every tool watches the processes that launched it and, once one of them is gone, stops exactly
// as on SIGTERM: it sends itself SIGTERM, and its own handlers (kernels, child process groups, a training run's
// checkpoint and lock) do the rest.
import { writeSync } from "node:fs";
import { environHas, hasProcTable, procStat, stillRunning } from "./proc.mjs";

const POLL_MS = 500;
let watching = false;

/**
 * The processes that launched this one: its parent, then up through the processes running inside an npm script
 * (npm_lifecycle_event in their environment: `sh -c`, npm run by another script) to the one that started the outermost
 * script (npm), within this process's session. A tool started directly (a shell, a test) watches its parent only.
 */
export function launchers(pid = process.pid) {
  const me = procStat(pid);
  const chain = [];
  for (let p = me?.ppid ?? 0; p > 1 && chain.length < 32;) {
    const s = procStat(p);
    if (!s || (chain.length > 0 && s.sid !== me.sid)) break; // beyond the session: not part of this launch
    chain.push({ pid: s.pid, start: s.start });
    if (!environHas(p, "npm_lifecycle_event=")) break;
    p = s.ppid;
  }
  return chain;
}

/** Stops this process as on SIGTERM once a process that launched it is gone (polled twice a second). Idempotent. */
export function stopWithLauncher() {
  if (watching) return;
  watching = true;
  const chain = hasProcTable() ? launchers() : [{ pid: process.ppid }];
  const gone = hasProcTable() ? () => chain.find((p) => !stillRunning(p)) : () => (process.ppid !== chain[0].pid ? chain[0] : undefined);
  const timer = setInterval(() => {
    const launcher = gone();
    if (!launcher) return;
    clearInterval(timer);
    try {
      writeSync(2, `\nprocess ${launcher.pid}, which started this command, is gone: stopping as on SIGTERM\n`);
    } catch {
      // no terminal or pipe left to say it on
    }
    process.kill(process.pid, "SIGTERM");
  }, POLL_MS);
  timer.unref(); // never what keeps the tool alive
}
