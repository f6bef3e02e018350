// A minimal Jupyter client for the tslab kernel: starts it from the project's kernelspec and runs code over the
// Jupyter messaging protocol (ZeroMQ, HMAC-SHA256 signed, loopback only, a random key per kernel). No Python needed.
import { ChildProcess, spawn } from "node:child_process";
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as zmq from "zeromq";
import { fsError } from "cnn-lab/dist/checkpoints/fs-errors";
import { hasProcTable, processTree, stopTree, type SeenProcess } from "../proc.mjs";
import { PROJECT_ROOT } from "../cli/user-path";
import type { Output } from "./notebook";

export { PROJECT_ROOT }; // one definition (user-path.ts), re-exported for the runner's modules
export const JUPYTER_PATH = join(PROJECT_ROOT, ".jupyter");
const KERNELSPEC = join(JUPYTER_PATH, "kernels", "tslab", "kernel.json");
const DELIM = "<IDS|MSG>";
/**
 * In the kernel's environment, its temp folder: its cells' processes inherit it, so stopping the kernel finds those
 * that left its process group and tree (`setsid`, `detached: true`, a parent that exited).
 */
const KERNEL_MARK = "NBRUN_KERNEL";

interface Message {
  header: { msg_id: string; msg_type: string; [k: string]: unknown };
  parent_header: { msg_id?: string; [k: string]: unknown };
  metadata: Record<string, unknown>;
  content: any;
  /** The content frame's size in bytes; a frame over MAX_CELL_OUTPUT_BYTES is not parsed (content is then {}). */
  bytes: number;
}

/**
 * What one cell may leave in its outputs (stdout, stderr, displays; JSON bytes as the kernel sends them): 64 MiB.
 * Beyond it the run is stopped: 600 MiB of printing grew a string past V8's limit and stalled the runner until
 * the cell's timeout, and a notebook file holding it would be unreadable anyway.
 */
export const MAX_CELL_OUTPUT_BYTES = 64 * 1024 * 1024;

export interface ExecuteResult {
  status: "ok" | "error" | "abort" | "aborted";
  outputs: Output[];
  /** Everything the cell wrote to stderr: tslab reports errors only there. */
  stderr: string;
}

export class KernelDied extends Error {}
/** The kernel could not be started: every notebook would fail the same way. The message is one line. */
export class KernelStartError extends Error {}
export class CellTimeout extends Error {}
export class CellOutputTooLarge extends Error {}

export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((ok, fail) => {
      const s = createServer();
      s.once("error", fail);
      s.listen(0, "127.0.0.1", () => ok(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  return ports;
}

function kernelArgv(kernelspec: string, connectionFile: string): string[] {
  const cannot = `cannot start the tslab kernel (kernelspec ${kernelspec})`;
  const REWRITE = "`npm install` rewrites it";
  let raw: string;
  try {
    raw = readFileSync(kernelspec, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new KernelStartError(`tslab kernelspec not found at ${kernelspec}: run \`npm install\` (it writes the kernelspec)`);
    throw new KernelStartError(`${fsError(e, cannot).message}; ${REWRITE}`);
  }
  let spec: { argv?: unknown };
  try {
    spec = JSON.parse(raw);
  } catch (e) {
    throw new KernelStartError(`${cannot}: not valid JSON (corrupt or truncated: ${(e as Error).message}); ${REWRITE}`);
  }
  const argv = (spec as { argv?: unknown } | null)?.argv;
  if (!Array.isArray(argv) || argv.length < 2 || !argv.every((a) => typeof a === "string" && a !== "")) {
    throw new KernelStartError(`${cannot}: expected "argv" to be a list of strings [node, tslab script, …], got ${JSON.stringify(argv) ?? "none"}; ${REWRITE}`);
  }
  // The spec names the Node that ran `npm install` (Jupyter needs a full path); the runner starts the kernel on its
  // own Node instead, so `npm test` under another Node (a newer LTS in CI, an nvm switch) tests that one.
  const [, script, ...args] = argv as string[];
  // The kernel script moves with the project (a moved or re-cloned checkout): say so in one line, not a stack trace.
  if (!script.startsWith("-") && !existsSync(script)) {
    throw new KernelStartError(`${cannot}: ${script} does not exist (after moving the project or switching Node versions, \`npm install\` rewrites the kernelspec)`);
  }
  return [process.execPath, script, ...args.map((a) => a.replace("{connection_file}", connectionFile))];
}

const lastLine = (s: string) => s.trim().split("\n").pop() ?? "";

/** Kernels started by this process: stopping the process (Ctrl-C, kill, a closed terminal) stops them too. */
const running = new Set<Kernel>();
const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
let cleanupInstalled = false;

function stopKernelsWithProcess(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  const onSignal = (sig: NodeJS.Signals) => {
    for (const k of running) k.kill();
    for (const s of STOP_SIGNALS) process.removeListener(s, onSignal);
    process.kill(process.pid, sig); // then die of the signal as if it had not been caught (exit status 128+n)
  };
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  process.on("exit", () => { for (const k of running) k.kill(); }); // an uncaught error, process.exit()
}

/** The Jupyter message signature: HMAC-SHA256 over header, parent header, metadata and content, hex. */
export function sign(key: string, parts: (string | Buffer)[]): string {
  const h = createHmac("sha256", key);
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

/** Constant-time check of a received signature (a timing difference must not reveal how much of it matched). */
export function verifySignature(key: string, signature: string, parts: (string | Buffer)[]): boolean {
  const want = Buffer.from(sign(key, parts));
  const got = Buffer.from(signature);
  return got.length === want.length && timingSafeEqual(got, want);
}

/** Joins consecutive stream outputs of the same name, as Jupyter front ends show them. */
function pushOutput(outputs: Output[], out: Output): void {
  const last = outputs[outputs.length - 1];
  if (out.output_type === "stream" && last?.output_type === "stream" && last.name === out.name) {
    last.text += out.text;
  } else {
    outputs.push(out);
  }
}

export class Kernel {
  // linger 0: requests still queued for a kernel that is gone must not keep this process alive after close().
  private shell = new zmq.Dealer({ linger: 0 });
  private control = new zmq.Dealer({ linger: 0 });
  private iopub = new zmq.Subscriber({ linger: 0 });
  private session = randomUUID();
  private waiters = new Map<string, (m: Message) => void>(); // iopub + shell messages, by parent msg_id
  private dead?: string;
  private processStderr = "";
  private lastErrorAt = 0;
  /** The kernel's processes seen before asking it to shut down. */
  private tree: SeenProcess[] = [];

  private constructor(private proc: ChildProcess, private dir: string, private key: string) {}

  /**
   * Starts tslab in `cwd` (the notebook's folder: relative imports resolve from there), in its own process group so
   * that the kernel and whatever its cells start are stopped together. Throws KernelStartError, leaving nothing behind.
   */
  static async start(cwd: string, opts: { kernelspec?: string; readyTimeoutMs?: number } = {}): Promise<Kernel> {
    const kernelspec = opts.kernelspec ?? KERNELSPEC;
    const dir = mkdtempSync(join(tmpdir(), "nbrun-"));
    let k: Kernel | undefined;
    try {
      const [shell, iopub, stdin, control, hb] = await freePorts(5);
      const connectionFile = join(dir, "connection.json");
      const key = randomBytes(32).toString("hex");
      writeFileSync(connectionFile, JSON.stringify({
        shell_port: shell, iopub_port: iopub, stdin_port: stdin, control_port: control, hb_port: hb,
        ip: "127.0.0.1", key, transport: "tcp", signature_scheme: "hmac-sha256", kernel_name: "tslab",
      }));
      const [cmd, ...args] = kernelArgv(kernelspec, connectionFile);
      stopKernelsWithProcess();
      const proc = spawn(cmd, args, { cwd, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, JUPYTER_PATH, [KERNEL_MARK]: dir } });
      const kernel = (k = new Kernel(proc, dir, key));
      running.add(kernel);
      proc.stdout!.on("data", (d) => { kernel.processStderr = (kernel.processStderr + d).slice(-8000); });
      proc.stderr!.on("data", (d) => { kernel.processStderr = (kernel.processStderr + d).slice(-8000); });
      const died = (why: string) => {
        kernel.dead ??= why;
        for (const w of kernel.waiters.values()) w({ header: { msg_id: "", msg_type: "__dead__" }, parent_header: {}, metadata: {}, content: {}, bytes: 0 });
      };
      // A kernelspec whose node binary is gone (Node switched since `npm install`): spawn fails with ENOENT.
      proc.on("error", (e: NodeJS.ErrnoException) => died(e.code === "ENOENT"
        ? `${cmd} does not exist (after switching Node versions, \`npm install\` rewrites the kernelspec)`
        : `cannot run ${cmd}: ${e.message}`));
      proc.on("exit", (code, signal) => died(`kernel process exited (${signal ? `signal ${signal}` : `code ${code}`})`));
      kernel.shell.connect(`tcp://127.0.0.1:${shell}`);
      kernel.control.connect(`tcp://127.0.0.1:${control}`);
      kernel.iopub.connect(`tcp://127.0.0.1:${iopub}`);
      kernel.iopub.subscribe();
      void kernel.pump(kernel.iopub);
      void kernel.pump(kernel.shell);
      void kernel.pump(kernel.control);
      const timeoutMs = opts.readyTimeoutMs ?? 60_000;
      if (!(await kernel.waitReady(timeoutMs))) {
        const why = kernel.dead ?? `it did not answer within ${timeoutMs / 1000} s`;
        const log = lastLine(kernel.log);
        throw new KernelStartError(`cannot start the tslab kernel (kernelspec ${kernelspec}): ${why}${log ? `; its last output: ${log}` : ""}`);
      }
      return kernel;
    } catch (e) {
      if (k) await k.shutdown();
      else rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** Kernel output of the process itself (crash messages), for failure reports. */
  get log(): string {
    return this.processStderr;
  }

  private async pump(sock: zmq.Dealer | zmq.Subscriber): Promise<void> {
    try {
      for await (const frames of sock) {
        // Frames stay bytes until checked: a huge content frame is never made into one string.
        const i = frames.findIndex((f) => f.length === DELIM.length && f.toString("utf8") === DELIM);
        if (i < 0 || frames.length < i + 6) continue;
        const [sig, header, parent, metadata, content] = frames.slice(i + 1, i + 6);
        if (!verifySignature(this.key, sig.toString("utf8"), [header, parent, metadata, content])) continue; // not from our kernel
        const bytes = content.length;
        const msg: Message = {
          header: JSON.parse(header.toString("utf8")), parent_header: JSON.parse(parent.toString("utf8")),
          metadata: JSON.parse(metadata.toString("utf8")), content: bytes > MAX_CELL_OUTPUT_BYTES ? {} : JSON.parse(content.toString("utf8")), bytes,
        };
        const w = msg.parent_header.msg_id && this.waiters.get(msg.parent_header.msg_id);
        if (w) w(msg);
      }
    } catch {
      // socket closed
    }
  }

  private async send(sock: zmq.Dealer, msgType: string, content: object): Promise<string> {
    const header = { msg_id: randomUUID(), username: "nbrun", session: this.session, date: new Date().toISOString(), msg_type: msgType, version: "5.3" };
    const parts = [JSON.stringify(header), "{}", "{}", JSON.stringify(content)];
    await sock.send([DELIM, sign(this.key, parts), ...parts]);
    return header.msg_id;
  }

  /** The subscriber joins late (ZeroMQ's slow joiner): ask for kernel_info until iopub answers too. False: no answer. */
  private async waitReady(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !this.dead) {
      let msgId = "";
      const seen = await new Promise<boolean>((ok) => {
        const t = setTimeout(() => ok(false), Math.min(1000, Math.max(0, deadline - Date.now())));
        this.send(this.shell, "kernel_info_request", {}).then((id) => {
          msgId = id;
          this.waiters.set(id, (m) => {
            if (m.header.msg_type === "status" || m.header.msg_type === "__dead__") { clearTimeout(t); ok(true); }
          });
        }, () => ok(false));
      });
      this.waiters.delete(msgId);
      if (seen && !this.dead) return true;
    }
    return false;
  }

  /**
   * Runs one cell. Rejects with CellTimeout or KernelDied; a cell that raises resolves with status "error".
   * tslab cancels requests that reach it within 200 ms (its own timer, later on a loaded machine) of an error reply,
   * answering "abort": such a request never ran, so it is sent again.
   */
  async execute(code: string, timeoutMs: number): Promise<ExecuteResult> {
    for (let attempt = 1; ; attempt++) {
      const r = await this.executeOnce(code, timeoutMs);
      if (r.status !== "abort" && r.status !== "aborted") return r;
      if (attempt === 3) throw new Error(`the kernel aborted the cell ${attempt} times (tslab cancels requests that follow an error)`);
      this.lastErrorAt = Date.now() + 500 * attempt; // back off before sending it again
    }
  }

  private async executeOnce(code: string, timeoutMs: number): Promise<ExecuteResult> {
    if (this.dead) throw new KernelDied(this.dead);
    // tslab aborts a request that arrives within ~200 ms of an error reply.
    const wait = this.lastErrorAt + 300 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const outputs: Output[] = [];
    const displays = new Map<string, { out: Output; bytes: number }>();
    let held = 0; // bytes of what `outputs` holds now (an updated display replaces, clear_output empties)
    let stderr = "";
    let status: ExecuteResult["status"] | undefined;
    let idle = false;
    const msgId = await this.send(this.shell, "execute_request", {
      code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true,
    });
    try {
      await new Promise<void>((ok, fail) => {
        const timer = setTimeout(() => fail(new CellTimeout(`cell did not finish within ${timeoutMs / 1000} s`)), timeoutMs);
        this.waiters.set(msgId, (m) => {
          const c = m.content;
          const kept = ["stream", "display_data", "execute_result", "error"].includes(m.header.msg_type);
          const replaced = m.header.msg_type === "update_display_data" ? displays.get(c.transient?.display_id) : undefined;
          const grow = kept ? m.bytes : replaced ? m.bytes - replaced.bytes : 0;
          if (held + grow > MAX_CELL_OUTPUT_BYTES || m.bytes > MAX_CELL_OUTPUT_BYTES) {
            clearTimeout(timer);
            const why = `cell printed more than ${MAX_CELL_OUTPUT_BYTES / 2 ** 20} MiB of output (stdout, stderr and displays); the run was stopped ` +
              "(print a summary instead: the runner and the notebook file must hold all of it)";
            this.dead = why;
            this.kill(); // it may still be printing: no graceful shutdown
            fail(new CellOutputTooLarge(why));
            return;
          }
          held += grow;
          switch (m.header.msg_type) {
            case "__dead__": clearTimeout(timer); fail(new KernelDied(`${this.dead} while running the cell`)); return;
            case "execute_reply":
              status = c.status;
              // A cancelled request gets its reply but may never see an idle status of its own.
              if (status === "abort" || status === "aborted") { clearTimeout(timer); ok(); return; }
              break;
            case "status": if (c.execution_state === "idle") idle = true; break;
            case "stream":
              if (c.name === "stderr") stderr += c.text;
              pushOutput(outputs, { output_type: "stream", name: c.name, text: c.text });
              break;
            case "display_data": case "execute_result": {
              const out: Output = m.header.msg_type === "display_data"
                ? { output_type: "display_data", data: c.data, metadata: c.metadata ?? {} }
                : { output_type: "execute_result", data: c.data, metadata: c.metadata ?? {}, execution_count: c.execution_count ?? null };
              const id = c.transient?.display_id;
              if (id) displays.set(id, { out, bytes: m.bytes });
              outputs.push(out);
              break;
            }
            case "update_display_data": {
              const out = replaced?.out;
              if (replaced && out && "data" in out) { out.data = c.data; out.metadata = c.metadata ?? {}; replaced.bytes = m.bytes; }
              break;
            }
            case "clear_output": outputs.length = 0; displays.clear(); held = 0; break;
            case "error":
              outputs.push({ output_type: "error", ename: c.ename, evalue: c.evalue, traceback: c.traceback ?? [] });
              break;
          }
          if (status && idle) { clearTimeout(timer); ok(); }
        });
      });
    } finally {
      this.waiters.delete(msgId);
    }
    if (status !== "ok") this.lastErrorAt = Date.now();
    return { status: status!, outputs, stderr };
  }

  /** Stops the kernel: asks it to shut down, then kills what is left of it and of every process its cells started. */
  async shutdown(): Promise<void> {
    // Seen while the kernel runs: once it exits, its children have another parent.
    this.tree = this.proc.pid ? processTree(this.proc.pid) : [];
    if (!this.dead) {
      try {
        await this.send(this.control, "shutdown_request", { restart: false });
      } catch { /* already gone */ }
      await new Promise((r) => {
        const t = setTimeout(r, 3000);
        this.proc.once("exit", () => { clearTimeout(t); r(undefined); });
      });
    }
    this.kill();
    for (const s of [this.shell, this.control, this.iopub]) s.close();
  }

  /**
   * Kills the kernel and every process its cells started, at once: its process group, the processes below it and
   * those carrying its mark (in their own session or group, or orphaned), and the groups they lead; then removes
   * its temp folder. Synchronous: usable in exit handlers.
   */
  kill(): void {
    if (this.proc.pid) {
      const tree = [...this.tree, ...processTree(this.proc.pid)]; // before any is killed: then they are reparented
      try {
        process.kill(-this.proc.pid, "SIGKILL"); // its group, even once the kernel itself has exited
      } catch {
        this.proc.kill("SIGKILL"); // the group is gone, or no process groups (Windows)
      }
      if (hasProcTable()) stopTree(tree, `${KERNEL_MARK}=${this.dir}`);
    }
    rmSync(this.dir, { recursive: true, force: true });
    running.delete(this);
  }
}
