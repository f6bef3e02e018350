// The kernel's wire format (tools/kernel/wire.mjs) and scratch folders (scratch.mjs), without starting a kernel.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { encodeMessage, parseMessage, sign, WireError } from "../tools/kernel/wire.mjs";
import { kernelScratch, removeOrphans } from "../tools/kernel/scratch.mjs";

const key = "k".repeat(64);
const frames = (parts: string[], signature = sign(key, parts)) => [Buffer.from("id"), Buffer.from("<IDS|MSG>"), Buffer.from(signature), ...parts.map((p) => Buffer.from(p))];
const header = JSON.stringify({ msg_id: "1", msg_type: "kernel_info_request", session: "s" });

test("a signed message is parsed; identities and parent are kept for the reply", () => {
  const m = parseMessage(key, frames([header, "{}", "{}", "{}"]));
  assert.equal(m.header.msg_type, "kernel_info_request");
  assert.deepEqual(m.identities.map(String), ["id"]);
  const reply = encodeMessage(key, m, "kernel_info_reply", { status: "ok" }).map((f) => Buffer.from(f));
  const back = parseMessage(key, reply);
  assert.equal(back.header.msg_type, "kernel_info_reply");
  assert.equal(back.parent_header.msg_id, "1");
});

test("the signature is checked before any JSON is parsed: an unsigned message of broken JSON is a signature error", () => {
  // tslab 1.0.22's ZmqMessage.fromRaw parsed the four parts first and threw SyntaxError here.
  assert.throws(() => parseMessage(key, frames(["{not json", "{", "{", "{"], "0".repeat(64))), (e: unknown) => e instanceof WireError && /invalid message signature/.test((e as Error).message));
  assert.throws(() => parseMessage(key, frames([header, "{}", "{}", "{}"], sign("other key", [header, "{}", "{}", "{}"]))), WireError);
  assert.throws(() => parseMessage(key, frames([header, "{}", "{}"])), /malformed/);
});

test("a message larger than the bound is refused before its signature is even computed", () => {
  const parts = [header, "{}", "{}", JSON.stringify({ code: "x".repeat(2000) })];
  assert.equal(parseMessage(key, frames(parts), 4096).header.msg_id, "1", "within the bound: accepted");
  assert.throws(() => parseMessage(key, frames(parts), 1024), /message of \d+ bytes refused \(at most 1024\)/);
});

test("scratch: the kernel's folder becomes TMPDIR; folders of kernels that are gone are removed, live ones kept", () => {
  const base = mkdtempSync(join(tmpdir(), "scratch-test-"));
  const savedTmp = process.env.TMPDIR;
  try {
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout;
    mkdirSync(join(base, `cnn-kernel-${dead}-abc`));
    mkdirSync(join(base, `cnn-kernel-${process.pid}-live`));
    mkdirSync(join(base, "lab-11-1-quick-other")); // not a kernel's: never touched
    const s = kernelScratch(base);
    assert.equal(process.env.TMPDIR, s.dir);
    assert.equal(existsSync(join(base, `cnn-kernel-${dead}-abc`)), false, "a gone kernel's folder is removed");
    assert.ok(existsSync(join(base, `cnn-kernel-${process.pid}-live`)));
    assert.ok(existsSync(join(base, "lab-11-1-quick-other")));
    s.remove();
    assert.equal(existsSync(s.dir), false);
    removeOrphans(base);
    assert.ok(existsSync(join(base, `cnn-kernel-${process.pid}-live`)), "a live kernel's folder stays");
  } finally {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
    rmSync(base, { recursive: true, force: true });
  }
});
