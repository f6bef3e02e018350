// train --plot's server (nodeplotlib, optional) listens on 127.0.0.1 only: tools/patch-nodeplotlib.mjs, run by
// npm install. Checked on the socket the server really opens (/proc/net/tcp*), not on the patched text.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { test } from "node:test";

const root = join(__dirname, "..");
let installed = true;
try { require.resolve("nodeplotlib"); } catch { installed = false; }

const freePort = () => new Promise<number>((ok) => {
  const s = createServer().listen(0, "127.0.0.1", () => { const p = (s.address() as { port: number }).port; s.close(() => ok(p)); });
});

/** Local addresses (hex, as /proc/net/tcp{,6} write them) of the sockets listening on `port`. */
function listeners(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  return ["/proc/net/tcp", "/proc/net/tcp6"].flatMap((f) => readFileSync(f, "utf8").split("\n").slice(1))
    .map((l) => l.trim().split(/\s+/)).filter((c) => c[1]?.endsWith(`:${hexPort}`) && c[3] === "0A").map((c) => c[1].split(":")[0]);
}

test("nodeplotlib's server (train --plot) listens on 127.0.0.1, not on every interface", { skip: !installed && "nodeplotlib not installed" }, async () => {
  const port = await freePort();
  const child = spawn(process.execPath, ["-e", 'require("nodeplotlib").plot([{ x: [1, 2], y: [3, 4] }]); setTimeout(() => {}, 60000)'], {
    cwd: root, env: { ...process.env, NODEPLOTLIB_PORT: String(port) }, stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d) => { out += d; });
  child.stderr.on("data", (d) => { out += d; });
  try {
    for (let i = 0; i < 300 && !/Server running/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(out, /Server running/, out);
    assert.deepEqual(listeners(port), ["0100007F"], "expected one socket on 127.0.0.1 only");
  } finally {
    child.kill("SIGKILL");
  }
});

test("tools/patch-nodeplotlib.mjs is idempotent: run again on a patched install it changes nothing", { skip: !installed && "nodeplotlib not installed" }, () => {
  const lib = join(dirname(require.resolve("nodeplotlib/package.json")), "src", "lib");
  const files = ["nodeplotlib.js", "server/services/bridge.service.js", "server/web/index.html", "server/web/main.js", "server/web/plotly.min.js"];
  const before = files.map((f) => readFileSync(join(lib, f)));
  const r = spawnSync(process.execPath, ["tools/patch-nodeplotlib.mjs"], { cwd: root, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /nodeplotlib already patched: listens on 127\.0\.0\.1 only, works offline/);
  files.forEach((f, i) => assert.ok(readFileSync(join(lib, f)).equals(before[i]), `${f} changed`));
});
