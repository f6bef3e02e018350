// npm test tests the code in the tree: it builds lib first, and the guard below refuses a lib/dist older than lib/src.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..");
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "dist-fresh-"));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

test("staleSources flags a source newer than its build, or never built", async () => {
  const { staleSources } = await import("../tools/dist-fresh.mjs");
  const src = path.join(tmpRoot, "src"), dist = path.join(tmpRoot, "dist");
  fs.mkdirSync(path.join(src, "sub"), { recursive: true });
  fs.mkdirSync(path.join(dist, "sub"), { recursive: true });
  const write = (f: string, seconds: number) => { fs.writeFileSync(f, "x"); fs.utimesSync(f, seconds, seconds); };
  write(path.join(src, "a.ts"), 1000);
  write(path.join(dist, "a.js"), 2000);
  write(path.join(src, "sub", "b.ts"), 1000);
  write(path.join(dist, "sub", "b.js"), 2000);
  assert.deepEqual(staleSources(src, dist), []);
  write(path.join(src, "sub", "b.ts"), 3000); // edited after the build
  write(path.join(src, "c.ts"), 1000); // never built
  assert.deepEqual(staleSources(src, dist).sort(), ["c.ts", path.join("sub", "b.ts")]);
});

test("the unit tests and notebook checks refuse to run on a stale lib/dist (npm test builds first)", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
  assert.match(pkg.scripts.test, /^npm run build && /, "npm test must build lib before testing it");
  for (const script of ["test:unit", "test:notebooks"]) assert.match(pkg.scripts[script], /^node tools\/dist-fresh\.mjs && /, script);
  // The guard itself passes on this tree, which npm test has just built.
  const r = spawnSync(process.execPath, ["tools/dist-fresh.mjs"], { cwd: ROOT, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
});

test("orphanOutputs flags compiled files whose source moved or went; npm run build prunes them and only them", async () => {
  const { orphanOutputs } = await import("../tools/dist-fresh.mjs");
  const src = path.join(tmpRoot, "orphans", "src"), dist = path.join(tmpRoot, "orphans", "dist");
  fs.mkdirSync(path.join(src, "checkpoints"), { recursive: true });
  fs.mkdirSync(path.join(dist, "checkpoints"), { recursive: true });
  fs.writeFileSync(path.join(src, "checkpoints", "checkpoint.ts"), "x");
  for (const f of ["checkpoint.js", "checkpoint.js.map", "checkpoint.d.ts", path.join("checkpoints", "checkpoint.js"), path.join("checkpoints", "checkpoint.d.ts")]) {
    fs.writeFileSync(path.join(dist, f), "x");
  }
  assert.deepEqual(orphanOutputs(src, dist).sort(), ["checkpoint.d.ts", "checkpoint.js", "checkpoint.js.map"]);
  assert.deepEqual(orphanOutputs(src, path.join(tmpRoot, "none")), [], "no lib/dist yet: nothing to prune");

  // The same check on a copy of the project's tool: the guard refuses the orphans, --prune removes exactly them.
  const tools = path.join(tmpRoot, "orphans", "tools");
  fs.mkdirSync(tools);
  fs.copyFileSync(path.join(ROOT, "tools", "dist-fresh.mjs"), path.join(tools, "dist-fresh.mjs"));
  fs.renameSync(path.join(tmpRoot, "orphans", "src"), path.join(tmpRoot, "orphans", "lib-src"));
  fs.mkdirSync(path.join(tmpRoot, "orphans", "lib"));
  fs.renameSync(path.join(tmpRoot, "orphans", "lib-src"), path.join(tmpRoot, "orphans", "lib", "src"));
  fs.renameSync(dist, path.join(tmpRoot, "orphans", "lib", "dist"));
  const guard = spawnSync(process.execPath, [path.join(tools, "dist-fresh.mjs")], { encoding: "utf8" });
  assert.equal(guard.status, 1);
  assert.match(guard.stderr, /lib\/dist holds output of modules no longer in lib\/src \(checkpoint\.d\.ts, checkpoint\.js, checkpoint\.js\.map\)/);
  const prune = spawnSync(process.execPath, [path.join(tools, "dist-fresh.mjs"), "--prune"], { encoding: "utf8" });
  assert.equal(prune.status, 0, prune.stderr);
  const left = fs.readdirSync(path.join(tmpRoot, "orphans", "lib", "dist"), { recursive: true, encoding: "utf8" }).sort();
  assert.deepEqual(left, ["checkpoints", path.join("checkpoints", "checkpoint.d.ts"), path.join("checkpoints", "checkpoint.js")]);
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
  assert.match(pkg.scripts.build, /^node tools\/dist-fresh\.mjs --prune && tsc -p lib$/);
});
