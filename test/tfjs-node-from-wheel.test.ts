// tools/tfjs-node-from-wheel.ts with a small fake wheel and a fake `npm` first on PATH (the real build, ~2 minutes,
// is a CI step): the tarball tfjs-node's install script downloads has the layout it needs, and the server and the temp
// folder are gone whether npm fails or the tool is killed mid-install.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

const root = join(__dirname, "..");
const TOOL = join(root, "tools", "tfjs-node-from-wheel.ts");
let dir: string, bin: string, cache: string;

before(() => {
  mkdirSync(join(root, "test", ".tmp"), { recursive: true });
  dir = mkdtempSync(join(root, "test", ".tmp", "tfwheel-"));
  bin = join(dir, "bin");
  cache = join(dir, "cache");
  mkdirSync(bin);
  mkdirSync(cache);
  // The wheel's layout: the two libraries and tensorflow/include (here a header the binding needs and one it does not).
  const py = spawnSync("python3", ["-c", `
import zipfile, sys
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("tensorflow/libtensorflow_cc.so.2", b"cc" * 1000)
    z.writestr("tensorflow/libtensorflow_framework.so.2", b"fw")
    z.writestr("tensorflow/include/tensorflow/c/c_api.h", "// c api")
    z.writestr("tensorflow/include/tsl/platform/ctstring.h", "// ctstring")
    z.writestr("tensorflow/include/xla/tsl/c/tsl_status.h", "// tsl status")
    z.writestr("tensorflow/include/absl/base/config.h", "// not needed")
`, join(cache, "tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl")], { encoding: "utf8" });
  assert.equal(py.status, 0, py.stderr);
  // A fake npm: `rebuild` downloads what TFJS_NODE_BASE_URI names (as tfjs-node's install does), lists it, then fails
  // or waits to be killed.
  writeFileSync(join(bin, "npm"), `#!/bin/sh
echo "$@" >> "$FAKE_OUT/npm-calls"
[ "$1" = rebuild ] || exit 0
echo "$TFJS_NODE_BASE_URI" > "$FAKE_OUT/uri"
echo $$ > "$FAKE_OUT/pgid"
node -e 'fetch(process.argv[1]).then(async (r) => { if (!r.ok) process.exit(3); require("fs").writeFileSync(process.argv[2], Buffer.from(await r.arrayBuffer())); })' "\${TFJS_NODE_BASE_URI}cpu-linux-x86_64-2.9.1.tar.gz" "$FAKE_OUT/got.tar.gz" || exit 4
tar tvzf "$FAKE_OUT/got.tar.gz" > "$FAKE_OUT/listing"
[ -n "$FAKE_SLEEP" ] && { echo sleeping > "$FAKE_OUT/sleeping"; sleep 60; }
exit 1
`);
  chmodSync(join(bin, "npm"), 0o755);
});
after(() => rmSync(dir, { recursive: true, force: true }));

function env(out: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  mkdirSync(out, { recursive: true });
  const tmp = join(out, "tmp");
  mkdirSync(tmp);
  return { ...process.env, PATH: `${bin}:${process.env.PATH}`, FAKE_OUT: out, TMPDIR: tmp, ...extra };
}

/** Live members of a process group (the tool starts npm as a group leader). */
function groupMembers(pgid: number): number[] {
  return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).filter((d) => {
    try {
      const [state, , pgrp] = readFileSync(`/proc/${d}/stat`, "utf8").replace(/^.*\) /s, "").split(" ");
      return Number(pgrp) === pgid && state !== "Z";
    } catch {
      return false;
    }
  }).map(Number);
}

async function refused(uri: string): Promise<boolean> {
  try {
    await fetch(`${uri}cpu-linux-x86_64-2.9.1.tar.gz`);
    return false;
  } catch {
    return true;
  }
}

test("the tarball has tfjs-node's layout (lib/libtensorflow.so → libtensorflow_cc.so.2, the C headers only); a failed install is an error, and the server and temp files are gone", async () => {
  const out = join(dir, "fails");
  const r = spawnSync(process.execPath, ["--import", "tsx", TOOL, "--force", "--cache", cache], { cwd: root, encoding: "utf8", env: env(out), timeout: 120_000 });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /error: `npm rebuild --foreground-scripts @tensorflow\/tfjs-node` failed \(exit 1\)/);
  assert.match(r.stdout, /\(cached\)/);
  const listing = readFileSync(join(out, "listing"), "utf8");
  assert.match(listing, /lib\/libtensorflow\.so -> libtensorflow_cc\.so\.2/);
  assert.match(listing, /lib\/libtensorflow_framework\.so -> libtensorflow_framework\.so\.2/);
  assert.match(listing, / 2000 .* lib\/libtensorflow_cc\.so\.2$/m);
  for (const h of ["tensorflow/c/c_api.h", "tsl/platform/ctstring.h", "xla/tsl/c/tsl_status.h"]) assert.match(listing, new RegExp(`include/${h}$`, "m"));
  assert.doesNotMatch(listing, /absl/);
  const uri = readFileSync(join(out, "uri"), "utf8").trim();
  assert.match(uri, /^http:\/\/127\.0\.0\.1:\d+\/libtensorflow-$/);
  assert.ok(await refused(uri), "the server still answers after the tool ended");
  assert.deepEqual(readdirSync(join(out, "tmp")).filter((f) => f.startsWith("tfjs-node-from-wheel-")), [], "temp folder left"); // (tsx keeps its cache there)
  assert.deepEqual(readdirSync(cache), ["tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl"], "the cache keeps the wheel only");
});

test("killed during the install (SIGTERM): npm's process group, the server and the temp files go, and the tool dies of the signal", async () => {
  const out = join(dir, "killed");
  const e = env(out, { FAKE_SLEEP: "1" });
  const child = spawn(process.execPath, ["--import", "tsx", TOOL, "--force", "--cache", cache], { cwd: root, env: e, stdio: "ignore" });
  const exited = new Promise<NodeJS.Signals | null>((r) => child.on("exit", (_c, s) => r(s)));
  for (let i = 0; i < 600 && !existsSync(join(out, "sleeping")); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(existsSync(join(out, "sleeping")), "the fake npm never started its install");
  const uri = readFileSync(join(out, "uri"), "utf8").trim();
  assert.equal(await refused(uri), false, "the server should answer during the install");
  child.kill("SIGTERM");
  assert.equal(await exited, "SIGTERM");
  const pgid = Number(readFileSync(join(out, "pgid"), "utf8"));
  for (let i = 0; i < 50 && groupMembers(pgid).length; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(groupMembers(pgid), [], "the fake npm or its sleep survived");
  assert.ok(await refused(uri), "the server still answers");
  assert.deepEqual(readdirSync(join(out, "tmp")).filter((f) => f.startsWith("tfjs-node-from-wheel-")), [], "temp folder left"); // (tsx keeps its cache there)
});

test("--cache that is a file, and unknown flags, are usage errors before any work", () => {
  const file = join(dir, "a-file");
  writeFileSync(file, "x");
  const r = spawnSync(process.execPath, ["--import", "tsx", TOOL, "--cache", file], { cwd: root, encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--cache .*a-file is not a folder/);
  const u = spawnSync(process.execPath, ["--import", "tsx", TOOL, "--bogus"], { cwd: root, encoding: "utf8" });
  assert.equal(u.status, 2);
  assert.match(u.stderr, /bogus/);
});
