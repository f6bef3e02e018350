// The project's TypeScript kernel: Jupyter's messaging over ZeroMQ, in our code, around tslab 1.0.22's TypeScript
// converter (cells.mjs). The kernelspec (tools/kernelspec.mjs) starts it as `node tools/kernel/main.mjs <connection>`.
//
// Why our own front rather than patches to tslab's dist/jupyter.js (issue 20): what had to change is that file's
// core, not details. Its message loop ran every shell request at once and published `busy` for all queued cells
// then `idle` as each ended (JupyterLab showed Idle during Run All); it parsed a message's JSON before checking its
// signature, with no size limit (issue 21 item 5); it raced an interrupted cell against "Interrupted
// asynchronously" so training went on behind an idle kernel; it did not answer history_request and answered
// comm_info_request as a complete_reply. String patches on a dormant package's compiled output would be most of the
// file, and every later change again. The converter (type checking against earlier cells, completion, inspection)
// is tslab's real value and stays the dependency; this front is ~250 lines we own and test.
//
// Protocol, as this kernel implements it:
// - execute_request: one queue, run in order. Each cell gets `busy` when it starts and `idle` when it has ended,
//   with its own parent header. When another cell is queued it starts in the same tick, so `idle` of one and `busy`
//   of the next are back to back: the status is never idle while a queued cell waits. After an error (stop_on_error),
//   the cells already queued are answered "aborted", as ipykernel does.
// - Other shell and control requests are answered at once, even while a cell runs (completion during training);
//   their busy/idle pair is followed by a fresh `busy` of the running cell, so a client showing the last status
//   still shows busy.
// - Interrupt (SIGINT from Jupyter, or interrupt_request): see cells.mjs; after an interrupted or failed cell the
//   TF.js engine is unwound (tfjs-unwind.mjs) so the next training cell works.
// - The kernel's scratch folder (TMPDIR) goes when it exits (scratch.mjs).
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { TextDecoder } from "node:util";
import { Cells } from "./cells.mjs";
import { kernelScratch } from "./scratch.mjs";
import { openScopes, unwindTfjsEngine } from "./tfjs-unwind.mjs";
import { encodeMessage, MAX_MESSAGE_BYTES, parseMessage, WireError } from "./wire.mjs";

const require = createRequire(import.meta.url);
const TSLAB = dirname(require.resolve("tslab/package.json"));
const { isCompleteCode } = require(join(TSLAB, "dist", "converter.js"));
const { printQuickInfo } = require(join(TSLAB, "dist", "inspect.js"));
// tslab's display API (require("tslab").display) writes through this module's lastWriteDisplayData.
const tslabJupyter = require(join(TSLAB, "dist", "jupyter.js"));
const zmq = require("zeromq");

/** Where the running cell's AbortSignal is published for the library (lib/src/interrupt.ts reads it). */
const CELL_SIGNAL = Symbol.for("cnn-basics-ts.cellSignal");

const KERNEL_INFO = {
  status: "ok",
  protocol_version: "5.3",
  implementation: "tslab",
  implementation_version: "1.0.22+cnn-basics-ts",
  language_info: {
    name: "typescript", version: "5.0", mimetype: "text/typescript", file_extension: ".ts",
    // JupyterLab uses `mode`, the classic Notebook `name` + `typescript` (as tslab sends it).
    codemirror_mode: { mode: "typescript", name: "javascript", typescript: true },
  },
  banner: "TypeScript (tslab converter, cnn-basics-ts kernel)",
  help_links: [],
};

function usage(msg) {
  process.stderr.write(`${msg}\nusage: node tools/kernel/main.mjs <connection file>\n`);
  process.exit(2);
}

const connectionFile = process.argv[2];
if (!connectionFile) usage("missing the connection file");
let conn;
try {
  conn = JSON.parse(readFileSync(connectionFile, "utf8"));
} catch (e) {
  usage(`cannot read the connection file ${connectionFile}: ${e.message}`);
}
if (conn.signature_scheme && conn.signature_scheme !== "hmac-sha256") usage(`unsupported signature_scheme ${conn.signature_scheme} in ${connectionFile} (expected hmac-sha256)`);
if (!conn.key) usage(`${connectionFile} has no key: this kernel does not run unsigned`);
const key = conn.key;

const scratch = kernelScratch();
let exiting = false;
function exit(code) {
  if (exiting) return;
  exiting = true;
  try { cells?.close(); } catch { /* closing anyway */ }
  scratch.remove();
  process.exit(code);
}
process.on("exit", () => scratch.remove());
process.on("SIGTERM", () => exit(143));
process.on("SIGHUP", () => exit(129));

const sockOpts = { maxMessageSize: MAX_MESSAGE_BYTES, linger: 0 };
const iopub = new zmq.Publisher({ linger: 0 });
const shell = new zmq.Router(sockOpts);
const control = new zmq.Router(sockOpts);
const stdin = new zmq.Router(sockOpts);
const hb = new zmq.Reply(sockOpts);

/** The cell whose output the process's stdout/stderr currently go to (as in ipykernel, also after it ended). */
let outputParent;
const decoder = new TextDecoder();
function publish(parent, type, content) {
  void iopub.send(encodeMessage(key, parent, type, content, [Buffer.from(type)])).catch(() => {});
}
function stream(name, chunk) {
  if (!outputParent) return true;
  publish(outputParent, "stream", { name, text: typeof chunk === "string" ? chunk : decoder.decode(chunk) });
  return true;
}
const writeTo = (name) => (chunk, encoding, cb) => {
  stream(name, chunk);
  (typeof encoding === "function" ? encoding : cb)?.();
  return true;
};
const realStderr = process.stderr.write.bind(process.stderr);
process.stdout.write = writeTo("stdout");
process.stderr.write = writeTo("stderr");
/** Kernel-level problems (a refused message) go to the terminal Jupyter runs in, not into a cell. */
const log = (s) => realStderr(`[cnn kernel] ${s}\n`);

// V8 keeps 10 frames by default: a TF.js error's own frames would push the cell's line out of its stack.
Error.stackTraceLimit = 64;
const cells = new Cells({ stdout: (s) => stream("stdout", s), stderr: (s) => stream("stderr", s) });

/** The running execute_request, or undefined. */
let current;
let executionCount = 0;
const queue = [];

function status(parent, state) {
  publish(parent, "status", { execution_state: state });
}

async function reply(sock, parent, type, content) {
  await sock.send(encodeMessage(key, parent, type, content));
}

async function runQueue() {
  if (current) return;
  while (queue.length > 0) {
    const { sock, msg } = queue.shift();
    current = msg;
    status(msg, "busy");
    await executeOne(sock, msg);
    current = undefined;
    status(msg, "idle");
    // the next cell's "busy" follows in the same tick (runQueue's loop)
  }
}

async function executeOne(sock, msg) {
  const { code = "", silent = false, store_history = true, stop_on_error = true } = msg.content;
  if (!silent && store_history) executionCount++;
  if (!silent) publish(msg, "execute_input", { code, execution_count: executionCount });
  outputParent = msg;
  tslabJupyter.lastWriteDisplayData = (data, update) => publish(msg, update ? "update_display_data" : "display_data", data);
  const controller = new AbortController();
  globalThis[CELL_SIGNAL] = controller.signal;
  const scopesBefore = openScopes();
  let result;
  try {
    result = await cells.execute(code, controller);
  } finally {
    globalThis[CELL_SIGNAL] = undefined;
    Cells.releaseTrap();
  }
  if (result !== "ok") {
    const unwound = unwindTfjsEngine(globalThis._tfengine, scopesBefore);
    if (result === "interrupted") {
      stream("stderr", `Interrupted${unwound.length ? ` (TF.js was inside an operation: ${unwound.join(", ")}; reset)` : ""}. Declarations made before the interrupt are kept.\n`);
    }
  }
  const ok = result === "ok";
  const ename = result === "interrupted" ? "KeyboardInterrupt" : "Error";
  await reply(sock, msg, "execute_reply", ok
    ? { status: "ok", execution_count: executionCount, user_expressions: {}, payload: [] }
    : { status: "error", execution_count: executionCount, ename, evalue: result, traceback: [] });
  if (!ok && stop_on_error) {
    // Requests that came while a synchronous cell held the thread are still in ZeroMQ's buffer: let the shell loop
    // take them in before aborting the queue, so Run All stops at the error as with ipykernel.
    await new Promise((r) => setTimeout(r, 20));
    for (const q of queue.splice(0)) {
      status(q.msg, "busy");
      await reply(q.sock, q.msg, "execute_reply", { status: "aborted", execution_count: null });
      status(q.msg, "idle");
    }
  }
}

/** The answers to every request but execute_request (content, or undefined for none). */
function answer(msg) {
  const c = msg.content;
  switch (msg.header.msg_type) {
    case "kernel_info_request": return ["kernel_info_reply", KERNEL_INFO];
    case "is_complete_request": {
      const r = isCompleteCode(c.code ?? "");
      return ["is_complete_reply", r.completed ? { status: "complete" } : { status: "incomplete", indent: r.indent }];
    }
    case "complete_request": {
      const r = cells.complete(c.code ?? "", c.cursor_pos ?? 0);
      return ["complete_reply", { status: "ok", matches: r.candidates, cursor_start: r.start, cursor_end: r.end, metadata: {} }];
    }
    case "inspect_request": {
      const info = cells.inspect(c.code ?? "", c.cursor_pos ?? 0);
      return ["inspect_reply", info
        ? { status: "ok", found: true, data: { "text/plain": printQuickInfo(info) }, metadata: {} }
        : { status: "ok", found: false, data: {}, metadata: {} }];
    }
    case "history_request": return ["history_reply", { status: "ok", history: [] }]; // no history is kept
    case "comm_info_request": return ["comm_info_reply", { status: "ok", comms: {} }]; // no comms
    case "interrupt_request": {
      const said = cells.interrupt();
      if (said) stream("stderr", `\n${said}\n`);
      return ["interrupt_reply", { status: "ok" }];
    }
    case "shutdown_request": return ["shutdown_reply", { status: "ok", restart: c.restart === true }];
    default: return undefined;
  }
}

async function handle(sock, frames) {
  let msg;
  try {
    msg = parseMessage(key, frames);
  } catch (e) {
    log(e instanceof WireError ? e.message : `malformed message: ${e.message}`);
    return;
  }
  if (msg.header.msg_type === "execute_request" && sock === shell) {
    queue.push({ sock, msg });
    void runQueue();
    return;
  }
  status(msg, "busy");
  let a;
  try {
    a = answer(msg);
  } catch (e) {
    log(`${msg.header.msg_type} failed: ${e.stack ?? e}`);
  }
  if (a) await reply(sock, msg, a[0], a[1]);
  else log(`unknown msg_type: ${msg.header.msg_type} (ignored)`);
  status(msg, "idle");
  if (current) status(current, "busy"); // a cell still runs: the last status a client sees stays busy
  if (msg.header.msg_type === "shutdown_request") exit(0);
}

async function serve(sock) {
  try {
    for await (const frames of sock) await handle(sock, frames).catch((e) => log(`request failed: ${e.stack ?? e}`));
  } catch {
    // socket closed
  }
}

process.on("SIGINT", () => {
  const said = cells.interrupt(); // only reached between synchronous parts: a busy cell is stopped by breakOnSigint
  if (said) stream("stderr", `\n${said}\n`);
});
process.on("uncaughtException", (e) => stream("stderr", `Uncaught exception (the kernel goes on): ${cells.formatError(e)}`));
process.on("unhandledRejection", (e) => stream("stderr", `Unhandled promise rejection (the kernel goes on): ${e instanceof Error ? cells.formatError(e) : String(e)}\n`));

const addr = (port) => `${conn.transport ?? "tcp"}://${conn.ip}:${port}`;
await Promise.all([
  iopub.bind(addr(conn.iopub_port)), shell.bind(addr(conn.shell_port)), control.bind(addr(conn.control_port)),
  stdin.bind(addr(conn.stdin_port)), hb.bind(addr(conn.hb_port)),
]);
void serve(shell);
void serve(control);
void (async () => {
  try {
    for await (const frames of hb) await hb.send(frames);
  } catch { /* closed */ }
})();
