// Runs a command as a child that stops with this process. The child gets its own process group, so that what it
// starts in turn (nbconvert's kernel, node's test files) goes too: Ctrl-C, kill and a closed terminal are passed on to
// the whole group, and this process then ends of the same signal. (spawnSync cannot do this: a killed parent leaves
// its child running.)
import { spawn } from "node:child_process";
import { stopWithLauncher } from "./stop-with-launcher.mjs";

const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * @param {string} cmd
 * @param {string[]} args
 * @param {{ capture?: boolean, env?: NodeJS.ProcessEnv }} [opts] capture: collect stdout/stderr instead of sharing
 *   this process's
 * @returns {Promise<{ status: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }>}
 */
export function runChild(cmd, args, opts = {}) {
  stopWithLauncher(); // npm killed alone: this process gets SIGTERM, passed on below
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { detached: true, env: opts.env ?? process.env, stdio: opts.capture ? ["ignore", "pipe", "pipe"] : ["ignore", "inherit", "inherit"] });
    let stdout = "", stderr = "", stopping;
    child.stdout?.setEncoding("utf8").on("data", (d) => { stdout += d; });
    child.stderr?.setEncoding("utf8").on("data", (d) => { stderr += d; });
    const onSignal = (sig) => {
      stopping = sig;
      try { process.kill(-child.pid, sig); } catch { /* already gone */ }
    };
    const done = () => { for (const s of STOP_SIGNALS) process.removeListener(s, onSignal); };
    for (const s of STOP_SIGNALS) process.on(s, onSignal);
    child.on("error", (e) => { done(); reject(e); }); // e.g. ENOENT: no such command
    child.on("close", (status, signal) => {
      done();
      if (stopping) process.kill(process.pid, stopping); // end of the signal, as if it had not been caught
      else resolve({ status, signal, stdout, stderr });
    });
  });
}
