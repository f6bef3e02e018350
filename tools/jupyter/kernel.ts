// A minimal Jupyter client for the tslab kernel: starts it from the project's kernelspec and runs code over the
// Jupyter messaging protocol (ZeroMQ, HMAC-SHA256 signed, loopback only, a random key per kernel). No Python needed.
import { ChildProcess, spawn } from "node:child_process";
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as zmq from "zeromq";
import type { Output } from "./notebook";

export const PROJECT_ROOT = resolve(__dirname, "..", "..");
export const JUPYTER_PATH = join(PROJECT_ROOT, ".jupyter");
const KERNELSPEC = join(JUPYTER_PATH, "kernels", "tslab", "kernel.json");
const DELIM = "<IDS|MSG>";

interface Message {
  header: { msg_id: string; msg_type: string; [k: string]: unknown };
  parent_header: { msg_id?: string; [k: string]: unknown };
  metadata: Record<string, unknown>;
  content: any;
}

export interface ExecuteResult {
  status: "ok" | "error" | "aborted";
  outputs: Output[];
  /** Everything the cell wrote to stderr: tslab reports errors only there. */
  stderr: string;
}

export class KernelDied extends Error {}

// The kernels this process started go with it: Ctrl-C, SIGTERM or SIGHUP (or an exit) must not leave a tslab
// process running. The handlers are installed only while a kernel lives, so they change nothing otherwise.
const live = new Set<Kernel>();
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
const killLive = () => { for (const k of live) k.kill(); };
function onSignal(sig: NodeJS.Signals): void {
  killLive();
  untrackAll();
  process.kill(process.pid, sig); // then die of the same signal, as without the handler
}
function untrackAll(): void {
  live.clear();
  for (const s of SIGNALS) process.off(s, onSignal);
  process.off("exit", killLive);
}
function track(k: Kernel): void {
  if (!live.size) {
    for (const s of SIGNALS) process.on(s, onSignal);
    process.on("exit", killLive);
  }
  live.add(k);
}
function untrack(k: Kernel): void {
  live.delete(k);
  if (!live.size) untrackAll();
}
export class CellTimeout extends Error {}

async function freePorts(n: number): Promise<number[]> {
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

function kernelArgv(connectionFile: string): string[] {
  let spec: { argv: string[] };
  try {
    spec = JSON.parse(readFileSync(KERNELSPEC, "utf8"));
  } catch {
    throw new Error(`tslab kernelspec not found at ${KERNELSPEC}: run \`npm install\` (it writes the kernelspec)`);
  }
  // The spec names the Node that ran `npm install` (Jupyter needs a full path); the runner starts the kernel on its
  // own Node instead, so `npm test` under another Node (a newer LTS in CI, an nvm switch) tests that one.
  const [, ...args] = spec.argv;
  return [process.execPath, ...args.map((a) => a.replace("{connection_file}", connectionFile))];
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
  private shell = new zmq.Dealer();
  private control = new zmq.Dealer();
  private iopub = new zmq.Subscriber();
  private session = randomUUID();
  private waiters = new Map<string, (m: Message) => void>(); // iopub + shell messages, by parent msg_id
  private dead?: string;
  private processStderr = "";
  private lastErrorAt = 0;

  private constructor(private proc: ChildProcess, private dir: string, private key: string) {}

  /** Starts tslab in `cwd` (the notebook's folder: relative imports resolve from there). */
  static async start(cwd: string): Promise<Kernel> {
    const dir = mkdtempSync(join(tmpdir(), "nbrun-"));
    const [shell, iopub, stdin, control, hb] = await freePorts(5);
    const connectionFile = join(dir, "connection.json");
    const key = randomBytes(32).toString("hex");
    writeFileSync(connectionFile, JSON.stringify({
      shell_port: shell, iopub_port: iopub, stdin_port: stdin, control_port: control, hb_port: hb,
      ip: "127.0.0.1", key, transport: "tcp", signature_scheme: "hmac-sha256", kernel_name: "tslab",
    }));
    const [cmd, ...args] = kernelArgv(connectionFile);
    const proc = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, JUPYTER_PATH } });
    const k = new Kernel(proc, dir, key);
    track(k);
    proc.stdout!.on("data", (d) => { k.processStderr = (k.processStderr + d).slice(-8000); });
    proc.stderr!.on("data", (d) => { k.processStderr = (k.processStderr + d).slice(-8000); });
    proc.on("exit", (code, signal) => {
      k.dead = `kernel process exited (${signal ? `signal ${signal}` : `code ${code}`})`;
      for (const w of k.waiters.values()) w({ header: { msg_id: "", msg_type: "__dead__" }, parent_header: {}, metadata: {}, content: {} });
    });
    k.shell.connect(`tcp://127.0.0.1:${shell}`);
    k.control.connect(`tcp://127.0.0.1:${control}`);
    k.iopub.connect(`tcp://127.0.0.1:${iopub}`);
    k.iopub.subscribe();
    void k.pump(k.iopub);
    void k.pump(k.shell);
    void k.pump(k.control);
    try {
      await k.waitReady(60_000);
    } catch (e) {
      await k.shutdown();
      throw e;
    }
    return k;
  }

  /** Immediate, synchronous stop (signal and exit handlers): the process and its connection file. */
  kill(): void {
    this.proc.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Kernel output of the process itself (crash messages), for failure reports. */
  get log(): string {
    return this.processStderr;
  }

  private sign(parts: string[]): string {
    const h = createHmac("sha256", this.key);
    for (const p of parts) h.update(p);
    return h.digest("hex");
  }

  private async pump(sock: zmq.Dealer | zmq.Subscriber): Promise<void> {
    try {
      for await (const frames of sock) {
        const strs = frames.map((f) => f.toString("utf8"));
        const i = strs.indexOf(DELIM);
        if (i < 0) continue;
        const [sig, header, parent, metadata, content] = strs.slice(i + 1, i + 6);
        if (sig !== this.sign([header, parent, metadata, content])) continue; // not from our kernel
        const msg: Message = {
          header: JSON.parse(header), parent_header: JSON.parse(parent),
          metadata: JSON.parse(metadata), content: JSON.parse(content),
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
    await sock.send([DELIM, this.sign(parts), ...parts]);
    return header.msg_id;
  }

  /** The subscriber joins late (ZeroMQ's slow joiner): ask for kernel_info until iopub answers too. */
  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.dead) throw new KernelDied(`${this.dead} while starting:\n${this.log}`);
      const seen = await new Promise<boolean>((ok) => {
        const t = setTimeout(() => ok(false), 1000);
        this.send(this.shell, "kernel_info_request", {}).then((msgId) => {
          this.waiters.set(msgId, (m) => {
            if (m.header.msg_type === "status" || m.header.msg_type === "__dead__") { clearTimeout(t); ok(true); }
          });
        });
      });
      if (seen) return;
    }
    throw new KernelDied(`kernel did not answer within ${timeoutMs / 1000} s:\n${this.log}`);
  }

  /** Runs one cell. Rejects with CellTimeout or KernelDied; a cell that raises resolves with status "error". */
  async execute(code: string, timeoutMs: number): Promise<ExecuteResult> {
    if (this.dead) throw new KernelDied(this.dead);
    // tslab aborts a request that arrives within ~200 ms of an error reply.
    const wait = this.lastErrorAt + 300 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const outputs: Output[] = [];
    const displays = new Map<string, Output>();
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
          switch (m.header.msg_type) {
            case "__dead__": clearTimeout(timer); fail(new KernelDied(`${this.dead} while running the cell`)); return;
            case "execute_reply": status = c.status; break;
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
              if (id) displays.set(id, out);
              outputs.push(out);
              break;
            }
            case "update_display_data": {
              const out = displays.get(c.transient?.display_id);
              if (out && "data" in out) { out.data = c.data; out.metadata = c.metadata ?? {}; }
              break;
            }
            case "clear_output": outputs.length = 0; break;
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

  async shutdown(): Promise<void> {
    if (!this.dead) {
      try {
        await this.send(this.control, "shutdown_request", { restart: false });
      } catch { /* already gone */ }
      await new Promise((r) => {
        const t = setTimeout(() => { this.proc.kill("SIGKILL"); r(undefined); }, 3000);
        this.proc.once("exit", () => { clearTimeout(t); r(undefined); });
      });
    }
    for (const s of [this.shell, this.control, this.iopub]) s.close();
    rmSync(this.dir, { recursive: true, force: true });
    untrack(this);
  }
}
