// Backend choice: tensorflow → wasm → cpu, TFJS_BACKEND forces one, a half-installed tfjs-node falls back.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

const root = join(__dirname, "..");
let fakeModules: string;
let realTfjsNode = true;
try { require.resolve("@tensorflow/tfjs-node", { paths: [join(root, "lib")] }); } catch { realTfjsNode = false; }

before(() => {
  // A tfjs-node whose package is present but whose native binding is missing, as after a failed download.
  fakeModules = mkdtempSync(join(tmpdir(), "fake-tfjs-node-"));
  const pkg = join(fakeModules, "@tensorflow", "tfjs-node");
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "@tensorflow/tfjs-node", version: "4.22.0", main: "index.js" }));
  writeFileSync(join(pkg, "index.js"), 'throw new Error("Cannot find module \'/x/lib/napi-v8/tfjs_binding.node\'");');
});
after(() => rmSync(fakeModules, { recursive: true, force: true }));

function setup(env: Record<string, string>): { code: number; out: string } {
  const r = spawnSync(process.execPath, ["-e", 'require("cnn-lab").setupBackend().then(() => {}, (e) => { console.log("ERROR " + e.message); process.exit(3); })'], {
    cwd: root, encoding: "utf8", env: { ...process.env, TFJS_BACKEND: "", ...env }, timeout: 60_000,
  });
  return { code: r.status ?? -1, out: r.stdout + r.stderr };
}

test("without tfjs-node the wasm backend runs and the line says why", { skip: realTfjsNode && "tfjs-node is installed here" }, () => {
  const r = setup({});
  assert.equal(r.code, 0);
  assert.match(r.out, /^backend: wasm \(tfjs-node not installed: optional, its install downloads native libtensorflow\)$/m);
});

test("a half-installed tfjs-node (binary missing) falls back instead of crashing", { skip: realTfjsNode && "tfjs-node is installed here" }, () => {
  const r = setup({ NODE_PATH: fakeModules });
  assert.equal(r.code, 0);
  assert.match(r.out, /^backend: wasm \(tfjs-node installed but its native library failed to load: Cannot find module .*tfjs_binding\.node/m);
  const forced = setup({ NODE_PATH: fakeModules, TFJS_BACKEND: "tensorflow" });
  assert.equal(forced.code, 3);
  assert.match(forced.out, /ERROR backend "tensorflow" was requested \(TFJS_BACKEND\) but cannot load: tfjs-node installed but its native library failed/);
});

test("TFJS_BACKEND forces a backend and rejects unknown names", () => {
  assert.match(setup({ TFJS_BACKEND: "cpu" }).out, /^backend: cpu$/m);
  assert.match(setup({ TFJS_BACKEND: "wasm" }).out, /^backend: wasm$/m);
  const bad = setup({ TFJS_BACKEND: "webgpu" });
  assert.equal(bad.code, 3);
  assert.match(bad.out, /TFJS_BACKEND="webgpu" is not a backend: expected one of tensorflow, wasm, cpu/);
});
