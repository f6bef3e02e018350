// A Jupyter server that stops with the command that started it: one Ctrl-C (or SIGTERM, SIGHUP) stops the server,
// its kernels and whatever their cells started, every time, without Jupyter's "Shut down this Jupyter server
// (y/[n])?" prompt.
//
// Why it needs care: jupyter-server answers SIGINT, when its stdin is a terminal, with that prompt (and resumes
// after 5 s without an answer); a second SIGINT stops it. A terminal's Ctrl-C reaches it once or twice depending
// on timing (directly, as a member of the foreground group, and again if the parent passes it on). So the server
// runs in its own session, away from the terminal's signals, with no stdin, and gets SIGTERM, which it answers by
// shutting its kernels down and exiting. The kernels run in sessions of their own (jupyter_client starts them so):
// any still alive afterwards is found by its connection file, which lies in this run's runtime folder, and killed.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
/** How long the server may take to shut its kernels down after SIGTERM before everything is killed. */
const GRACE_MS = 15_000;

/** Live processes (not this one, zombies excluded) whose command line mentions `text`. */
export function processesMentioning(text: string): number[] {
  return readdirSync("/proc").filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid).filter((d) => {
    try {
      return readFileSync(`/proc/${d}/cmdline`, "utf8").includes(text) && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${d}/stat`, "utf8"));
    } catch {
      return false; // exited meanwhile
    }
  }).map(Number);
}

/** A signal to a process group, or to the process alone when it leads none; false when it is gone. */
export function signalGroup(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, sig);
    return true;
  } catch {
    try { process.kill(pid, sig); return true; } catch { return false; }
  }
}

export interface ServerOptions {
  /** The `jupyter` executable and its arguments (e.g. ["lab", "--ip=127.0.0.1", …]). */
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** stdout/stderr: shared with this process (npm start prints Jupyter's URL) or piped (checks read them). */
  stdio?: "inherit" | "pipe";
}

export interface JupyterServer {
  proc: ChildProcess;
  /** This run's JUPYTER_RUNTIME_DIR: the server's info file and every kernel's connection file. */
  runtimeDir: string;
  /** Resolves when the server has exited and nothing it started is left: its exit code, or the signal that stopped this run. */
  done: Promise<{ code: number | null; signal?: NodeJS.Signals }>;
  /** Stops everything (SIGTERM, then SIGKILL after the grace time); resolves like `done`. */
  stop(): Promise<{ code: number | null; signal?: NodeJS.Signals }>;
}

/**
 * Starts a Jupyter server in its own session with a fresh runtime folder. Stop signals to this process stop it (see
 * above); `done` resolves once it and its kernels are gone and the runtime folder is removed. The caller then exits
 * (with the signal's status when one came: the handlers are removed by then).
 */
export function startJupyterServer(o: ServerOptions): JupyterServer {
  const runtimeDir = mkdtempSync(join(tmpdir(), "cnn-lab-jupyter-"));
  const proc = spawn(o.command, o.args, {
    env: { ...o.env, JUPYTER_RUNTIME_DIR: runtimeDir },
    detached: true, // its own session: the terminal's Ctrl-C does not reach it; we pass SIGTERM on
    stdio: ["ignore", o.stdio ?? "inherit", o.stdio ?? "inherit"], // no stdin: never the y/[n] prompt
  });
  let signal: NodeJS.Signals | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const killAll = () => {
    if (proc.exitCode === null && proc.signalCode === null) signalGroup(proc.pid!, "SIGKILL");
    for (const pid of processesMentioning(runtimeDir)) signalGroup(pid, "SIGKILL");
  };
  const terminate = () => {
    if (killTimer) { killAll(); return; } // a second Ctrl-C: at once
    if (proc.exitCode === null && proc.signalCode === null) signalGroup(proc.pid!, "SIGTERM");
    killTimer = setTimeout(killAll, GRACE_MS);
  };
  const onSignal = (sig: NodeJS.Signals) => { signal ??= sig; terminate(); };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  const onExit = () => killAll(); // this process ends another way (an uncaught error, process.exit)
  process.on("exit", onExit);
  // SIGTERM to `npm` alone reaches only its shell (`sh -c node …`), which dies without passing it on: this process
  // is then re-parented, and stops as if the signal had come to it.
  const parent = process.ppid;
  const orphaned = setInterval(() => { if (process.ppid !== parent) { clearInterval(orphaned); onSignal("SIGTERM"); } }, 500);

  const done = new Promise<{ code: number | null; signal?: NodeJS.Signals }>((resolve) => {
    const finish = async (code: number | null) => {
      if (killTimer) clearTimeout(killTimer);
      clearInterval(orphaned);
      // Kernels the server did not shut down (it was killed, or a kernel ignored shutdown_request).
      for (let i = 0; i < 30 && processesMentioning(runtimeDir).length; i++) {
        if (i === 10) for (const pid of processesMentioning(runtimeDir)) signalGroup(pid, "SIGKILL");
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const pid of processesMentioning(runtimeDir)) signalGroup(pid, "SIGKILL");
      rmSync(runtimeDir, { recursive: true, force: true });
      for (const s of STOP_SIGNALS) process.removeListener(s, onSignal);
      process.removeListener("exit", onExit);
      resolve({ code, signal });
    };
    proc.on("error", () => void finish(127)); // e.g. the command vanished between the probe and here
    proc.on("exit", (code) => void finish(code));
  });
  return { proc, runtimeDir, done, stop: () => { terminate(); return done; } };
}
