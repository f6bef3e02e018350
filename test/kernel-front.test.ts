// The project's kernel (tools/kernel/) through the Jupyter protocol, with a raw client that sees every message in
// the order it arrives: status order for queued cells, interrupts (a synchronous TF.js loop, train()), errors,
// protocol replies, oversize unsigned frames and the kernel's scratch folder.
// KERNEL_ARGV (a JSON array, "{connection_file}" replaced) runs the same tests on another kernel, e.g. tslab's own:
// KERNEL_ARGV='["node","node_modules/tslab/bin/tslab","kernel","--config-path","{connection_file}"]'.
import assert from "node:assert/strict";
import { ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import * as zmq from "zeromq";
import { freePorts, JUPYTER_PATH, sign } from "../tools/jupyter/kernel";

const root = join(__dirname, "..");
const DELIM = "<IDS|MSG>";
let dir: string;
before(() => { mkdirSync(join(root, "test", ".tmp"), { recursive: true }); dir = mkdtempSync(join(root, "test", ".tmp", "kernel-")); });
after(() => rmSync(dir, { recursive: true, force: true }));

interface Msg { channel: string; header: { msg_id: string; msg_type: string }; parent_header: { msg_id?: string }; content: any }

class RawKernel {
  readonly seen: Msg[] = [];
  private shell = new zmq.Dealer({ linger: 0 });
  private control = new zmq.Dealer({ linger: 0 });
  private iopub = new zmq.Subscriber({ linger: 0 });
  private session = randomUUID();
  private waiters: (() => void)[] = [];
  log = "";
  exited = false;

  private constructor(readonly proc: ChildProcess, readonly key: string, readonly ports: number[]) {}

  static async start(cwd: string): Promise<RawKernel> {
    const [shell, iopub, stdin, control, hb] = await freePorts(5);
    const key = randomBytes(32).toString("hex");
    const conn = join(mkdtempSync(join(dir, "conn-")), "connection.json");
    writeFileSync(conn, JSON.stringify({ shell_port: shell, iopub_port: iopub, stdin_port: stdin, control_port: control, hb_port: hb, ip: "127.0.0.1", key, transport: "tcp", signature_scheme: "hmac-sha256" }));
    const spec: string[] = process.env.KERNEL_ARGV ? JSON.parse(process.env.KERNEL_ARGV) : JSON.parse(readFileSync(join(JUPYTER_PATH, "kernels", "tslab", "kernel.json"), "utf8")).argv;
    const [cmd, ...args] = spec.map((a) => a.replace("{connection_file}", conn));
    const proc = spawn(cmd === "node" ? process.execPath : cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, JUPYTER_PATH } });
    const k = new RawKernel(proc, key, [shell, iopub, stdin, control, hb]);
    proc.stdout!.on("data", (d) => { k.log += d; });
    proc.stderr!.on("data", (d) => { k.log += d; });
    proc.on("exit", () => { k.exited = true; k.wake(); });
    k.shell.connect(`tcp://127.0.0.1:${shell}`);
    k.control.connect(`tcp://127.0.0.1:${control}`);
    k.iopub.connect(`tcp://127.0.0.1:${iopub}`);
    k.iopub.subscribe();
    void k.pump(k.iopub, "iopub");
    void k.pump(k.shell, "shell");
    void k.pump(k.control, "control");
    // The subscriber joins late: ask until a status arrives on iopub.
    for (let i = 0; i < 60; i++) {
      const id = await k.send("shell", "kernel_info_request", {});
      if (await k.waitFor((m) => m.channel === "iopub" && m.parent_header.msg_id === id, 1000).then(() => true, () => false)) return k;
      if (k.exited) break;
    }
    k.kill();
    throw new Error(`kernel did not start: ${k.log}`);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async pump(sock: zmq.Dealer | zmq.Subscriber, channel: string): Promise<void> {
    try {
      for await (const frames of sock) {
        const s = frames.map((f) => f.toString("utf8"));
        const i = s.indexOf(DELIM);
        if (i < 0) continue;
        this.seen.push({ channel, header: JSON.parse(s[i + 2]), parent_header: JSON.parse(s[i + 3]), content: JSON.parse(s[i + 5]) });
        this.wake();
      }
    } catch { /* closed */ }
  }

  async send(channel: "shell" | "control", type: string, content: object): Promise<string> {
    const header = { msg_id: randomUUID(), username: "test", session: this.session, date: new Date().toISOString(), msg_type: type, version: "5.3" };
    const parts = [JSON.stringify(header), "{}", "{}", JSON.stringify(content)];
    await (channel === "shell" ? this.shell : this.control).send([DELIM, sign(this.key, parts), ...parts]);
    return header.msg_id;
  }

  /** Sends raw frames on the shell channel (an unsigned message). */
  async sendRaw(frames: (string | Buffer)[]): Promise<void> {
    await this.shell.send(frames);
  }

  execute(code: string): Promise<string> {
    return this.send("shell", "execute_request", { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
  }

  async waitFor(pred: (m: Msg) => boolean, timeoutMs: number): Promise<Msg> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.seen.find(pred);
      if (m) return m;
      if (this.exited) throw new Error(`kernel exited: ${this.log}`);
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
      await new Promise<void>((r) => { const t = setTimeout(r, 100); this.waiters.push(() => { clearTimeout(t); r(); }); });
    }
  }

  /** The cell's execute_reply, once its idle status has come too. */
  async done(id: string, timeoutMs = 120_000): Promise<Msg> {
    await this.waitFor((m) => m.channel === "iopub" && m.parent_header.msg_id === id && m.header.msg_type === "status" && m.content.execution_state === "idle", timeoutMs);
    return this.waitFor((m) => m.parent_header.msg_id === id && m.header.msg_type === "execute_reply", timeoutMs);
  }

  /** Everything the cell wrote (stdout and stderr) so far. */
  text(id: string): string {
    return this.seen.filter((m) => m.parent_header.msg_id === id && m.header.msg_type === "stream").map((m) => m.content.text).join("");
  }

  rssKiB(): number {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${this.proc.pid}/status`, "utf8"))![1]);
  }

  kill(): void {
    if (!this.exited) this.proc.kill("SIGKILL");
    for (const s of [this.shell, this.control, this.iopub]) s.close();
  }

  async shutdown(): Promise<void> {
    if (!this.exited) {
      await this.send("control", "shutdown_request", { restart: false });
      await new Promise<void>((r) => { const t = setTimeout(r, 5000); this.proc.once("exit", () => { clearTimeout(t); r(); }); });
    }
    this.kill();
  }
}

/** A cell busy for `ms` milliseconds of synchronous work, then printing `label`. */
const busyCell = (label: string, ms: number) => `{ const t0 = Date.now(); while (Date.now() - t0 < ${ms}) {} }\nconsole.log("${label}");`;

test("three queued cells: busy, output, idle for each cell in order; never idle while a queued cell waits", async () => {
  const k = await RawKernel.start(dir);
  try {
    const from = k.seen.length;
    const ids = [await k.execute(busyCell("one", 400)), await k.execute(busyCell("two", 400)), await k.execute(busyCell("three", 400))];
    await k.done(ids[2]);
    const events = k.seen.slice(from)
      .filter((m) => m.channel === "iopub" && (m.header.msg_type === "status" || m.header.msg_type === "stream"))
      .map((m) => `${ids.indexOf(m.parent_header.msg_id!) + 1}:${m.header.msg_type === "status" ? m.content.execution_state : m.content.text.trim()}`);
    // From the first cell's busy on: the start-up request's own idle may arrive after `from` was taken.
    assert.deepEqual(events.slice(events.indexOf("1:busy")), ["1:busy", "1:one", "1:idle", "2:busy", "2:two", "2:idle", "3:busy", "3:three", "3:idle"]);
    assert.ok(events.indexOf("1:busy") >= 0 && events.slice(0, events.indexOf("1:busy")).every((e) => e.startsWith("0:")), events.join(" "));
  } finally {
    await k.shutdown();
  }
});

test("after a failing cell, the cells already queued are aborted (Run All stops at the error); later ones run", async () => {
  const k = await RawKernel.start(dir);
  try {
    const ids = [await k.execute(busyCell("one", 300) + "\nthrow new Error('stop here');"), await k.execute(busyCell("two", 10)), await k.execute(busyCell("three", 10))];
    const replies = await Promise.all(ids.map((id) => k.done(id)));
    assert.deepEqual(replies.map((r) => r.content.status), ["error", "aborted", "aborted"]);
    assert.equal(k.text(ids[1]) + k.text(ids[2]), "");
    const after = await k.execute(`console.log("after")`);
    assert.equal((await k.done(after)).content.status, "ok");
  } finally {
    await k.shutdown();
  }
});

test("history, comm_info, is_complete and kernel_info get their replies", async () => {
  const k = await RawKernel.start(dir);
  try {
    for (const [req, rep] of [["history_request", "history_reply"], ["comm_info_request", "comm_info_reply"], ["is_complete_request", "is_complete_reply"], ["kernel_info_request", "kernel_info_reply"]]) {
      const id = await k.send("shell", req, req === "history_request" ? { output: false, raw: true, hist_access_type: "tail", n: 10 } : { code: "let x = 1;" });
      const r = await k.waitFor((m) => m.channel === "shell" && m.parent_header.msg_id === id, 10_000);
      assert.equal(r.header.msg_type, rep);
      assert.equal(r.content.status, req === "is_complete_request" ? "complete" : "ok");
    }
    const id = await k.send("shell", "complete_request", { code: "Math.fl", cursor_pos: 7 });
    const r = await k.waitFor((m) => m.channel === "shell" && m.parent_header.msg_id === id, 30_000);
    assert.ok(r.content.matches.includes("floor"), JSON.stringify(r.content));
  } finally {
    await k.shutdown();
  }
});

test("interrupting a synchronous TF.js training loop leaves TF.js able to train, and keeps the declarations made before it", async () => {
  const k = await RawKernel.start(dir);
  try {
    // As a notebook starts: setupBackend()'s scope stays open across cells and tracks their tensors (the data).
    const setup = await k.execute(`import { tf, freshTensorScope } from "cnn-lab";\nawait tf.setBackend("cpu");\nfreshTensorScope();\nconst data = tf.randomNormal([64, 64]);`);
    assert.equal((await k.done(setup)).content.status, "ok", k.text(setup));
    // The loop spends nearly all its time inside tf.variableGrads (scopes open, tape on), where the interrupt lands.
    const loop = await k.execute([
      `const w = tf.variable(tf.randomNormal([64, 64]));`,
      `const opt = tf.train.sgd(0.001);`,
      `console.log("looping");`,
      `for (;;) {`,
      `  const { value, grads } = tf.variableGrads(() => { let y = w.matMul(w); for (let i = 0; i < 20; i++) y = y.matMul(w).tanh(); return y.square().mean() as tf.Scalar; });`,
      `  opt.applyGradients(grads);`,
      `  tf.dispose([value, ...Object.values(grads)]);`,
      `}`,
    ].join("\n"));
    await k.waitFor((m) => m.parent_header.msg_id === loop && m.header.msg_type === "stream" && m.content.text.includes("looping"), 60_000);
    await new Promise((r) => setTimeout(r, 1000));
    k.proc.kill("SIGINT"); // what Jupyter's Kernel > Interrupt sends (interrupt_mode "signal")
    const reply = await k.done(loop, 30_000);
    assert.equal(reply.content.status, "error");
    // The next training cell uses the interrupted cell's `w` and `opt`, and must find its gradient.
    const next = await k.execute(`const before = w.sum().dataSync()[0];\nopt.minimize(() => w.square().mean() as tf.Scalar);\nconsole.log("trained:", before !== w.sum().dataSync()[0]);`);
    const r = await k.done(next, 60_000);
    assert.equal(r.content.status, "ok", k.text(next));
    assert.match(k.text(next), /trained: true/);
    // The earlier cell's tensor, tracked by the notebook's scope, is still alive: only the loop's scopes were ended.
    const earlier = await k.execute(`opt.minimize(() => w.matMul(data).square().mean() as tf.Scalar);\nconsole.log("data alive:", !data.isDisposed);`);
    assert.equal((await k.done(earlier, 60_000)).content.status, "ok", k.text(earlier));
    assert.match(k.text(earlier), /data alive: true/);
  } finally {
    await k.shutdown();
  }
});

for (const how of ["SIGINT", "interrupt_request"] as const) test(`interrupting train() (${how}): the cell ends only after training stopped, with no progress after it`, async () => {
  const k = await RawKernel.start(dir);
  try {
    const ckpt = join(dir, `ckpt-${randomUUID()}`);
    const cell = await k.execute([
      `import { tf, train } from "cnn-lab";`,
      `await tf.setBackend("cpu");`,
      `const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [28, 28, 1] }), tf.layers.dense({ units: 10 })] });`,
      `const images = tf.randomUniform([2000, 28, 28, 1]) as tf.Tensor4D;`,
      `const labels = Uint8Array.from({ length: 2000 }, (_, i) => i % 10);`,
      `const result = await train(model, { images, labels }, { epochs: 1000, batchSize: 20, checkpointDir: ${JSON.stringify(ckpt)},`,
      `  onBatch: (p) => console.log(\`progress \${p.epoch} \${p.batch}\`) });`,
      `console.log("train returned; stopped:", result.stopped);`,
    ].join("\n"));
    // Past the first epoch (a checkpoint exists), then interrupt.
    await k.waitFor((m) => m.parent_header.msg_id === cell && m.header.msg_type === "stream" && /progress 2 /.test(m.content.text), 120_000);
    // Jupyter's Kernel > Interrupt: a signal (interrupt_mode "signal", this kernelspec's), or a control message.
    if (how === "SIGINT") k.proc.kill("SIGINT");
    else await k.send("control", "interrupt_request", {});
    const reply = await k.done(cell, 60_000);
    const out = k.text(cell);
    assert.equal(reply.content.status, "ok", out);
    assert.match(out, /Interrupted: stopped in epoch \d+ after batch \d+\/100\. Last complete checkpoint: .*epoch-00\d/);
    const tail = out.slice(out.indexOf("Interrupted: stopped"));
    assert.doesNotMatch(tail, /progress/, "progress after the stop");
    assert.match(tail, /train returned; stopped: true/);
    // Nothing more arrives after the cell's end: training does not go on in the background.
    const count = k.seen.length;
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(k.seen.slice(count).filter((m) => m.header.msg_type === "stream").map((m) => m.content.text), []);
  } finally {
    await k.shutdown();
  }
});

test("a runtime error shows its message and the cell's line first, without TF.js's frames", async () => {
  const k = await RawKernel.start(dir);
  try {
    const id = await k.execute(`import * as tf from "@tensorflow/tfjs";\nconst a: number = 2;\nconst t = tf.tensor([1, 2]).reshape([3]);`);
    assert.equal((await k.done(id)).content.status, "error");
    const err = k.text(id).split("\n").filter((l) => !/^=+$|Hi, looks like|^$/.test(l));
    assert.equal(err[0], "Error: Size(2) must match the product of shape 3");
    assert.equal(err[1], "    at this cell, line 3: const t = tf.tensor([1, 2]).reshape([3]);");
    assert.doesNotMatch(k.text(id), /node_modules|throw ex|\^/);
  } finally {
    await k.shutdown();
  }
});

test("an unsigned oversize frame is refused without being parsed or buffered; the kernel goes on", async () => {
  const k = await RawKernel.start(dir);
  try {
    const before = k.rssKiB();
    const big = Buffer.alloc(100 * 1024 * 1024, 0x7b); // 100 MB of "{": not JSON, not signed
    await k.sendRaw([DELIM, "0".repeat(64), big, "{}", "{}", "{}"]);
    await new Promise((r) => setTimeout(r, 3000));
    const grown = k.rssKiB() - before;
    assert.ok(grown < 40 * 1024, `the kernel grew by ${grown} KiB`);
    const id = await k.execute(`console.log("still here")`);
    await k.done(id, 30_000).catch(async () => {
      // the oversize message made ZeroMQ drop this client's connection: a new request gets through again
      return k.done(await k.execute(`console.log("still here")`), 30_000);
    });
    assert.match(k.seen.filter((m) => m.header.msg_type === "stream").map((m) => m.content.text).join(""), /still here/);
  } finally {
    await k.shutdown();
  }
});

test("the kernel's scratch folder (os.tmpdir() in cells) is gone after shutdown and after SIGTERM", async () => {
  for (const stop of ["shutdown", "SIGTERM"] as const) {
    const k = await RawKernel.start(dir);
    let scratch = "";
    try {
      const id = await k.execute(`import * as fs from "node:fs";\nimport * as os from "node:os";\nimport * as path from "node:path";\nconst d = fs.mkdtempSync(path.join(os.tmpdir(), "lab-11-1-quick-"));\nfs.writeFileSync(path.join(d, "x"), "x");\nconsole.log(d);`);
      await k.done(id);
      scratch = k.text(id).trim();
      assert.ok(existsSync(join(scratch, "x")), scratch);
      assert.notEqual(join(scratch, ".."), join(process.env.TMPDIR ?? "/tmp"), "cells' temp folders go inside the kernel's own");
      if (stop === "shutdown") await k.shutdown();
      else {
        k.proc.kill("SIGTERM");
        await k.waitFor(() => false, 5000).catch(() => {});
      }
      assert.ok(k.exited, `kernel still running after ${stop}`);
      assert.equal(existsSync(join(scratch, "..")), false, `${stop}: ${scratch} left behind`);
    } finally {
      k.kill();
    }
  }
});

test("interrupting trainEnsemble(): its worker threads stop after their batch, the cell ends after them", async () => {
  const k = await RawKernel.start(dir);
  try {
    const ckpt = join(dir, `ens-${randomUUID()}`);
    const cell = await k.execute([
      `import { setupBackend, createModel, loadMnist, mnistForTraining, trainEnsemble } from "cnn-lab";`,
      `await setupBackend({ quiet: true });`,
      `const mnist = await loadMnist();`,
      `const small = mnistForTraining(mnist.train, 400), tiny = mnistForTraining(mnist.test, 100);`,
      `const result = await trainEnsemble([createModel(777), createModel(778)], small, { epochs: 100, batchSize: 50, test: tiny, checkpointDir: ${JSON.stringify(ckpt)}, threads: 2,`,
      `  onProgress: (p) => console.log(\`progress \${p.model} \${p.epoch} \${p.batch}\`) });`,
      `console.log("trainEnsemble returned; stopped:", result.stopped);`,
    ].join("\n"));
    await k.waitFor((m) => m.parent_header.msg_id === cell && m.header.msg_type === "stream" && /progress \d 2 /.test(m.content.text), 240_000);
    k.proc.kill("SIGINT");
    const reply = await k.done(cell, 120_000);
    const out = k.text(cell);
    assert.equal(reply.content.status, "ok", out);
    assert.match(out, /Interrupted: stopped after the current batches; models at epochs \d+, \d+\. Every model keeps its last complete epoch in /);
    const tail = out.slice(out.indexOf("Interrupted: stopped"));
    assert.doesNotMatch(tail, /progress/);
    assert.match(tail, /trainEnsemble returned; stopped: true/);
    const count = k.seen.length;
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(k.seen.slice(count).filter((m) => m.header.msg_type === "stream").map((m) => m.content.text), []);
  } finally {
    await k.shutdown();
  }
});
