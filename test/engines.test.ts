// The Node versions the project claims (package.json "engines", the README) are the ones CI tests (.ci/run).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

const root = join(__dirname, "..");
const read = (file: string) => readFileSync(join(root, file), "utf8");

test("CI tests the newest Node LTS that package.json engines and the README name", () => {
  const lts = read(".ci/run").match(/^NODE_LTS=(\d+)$/m)?.[1];
  assert.ok(lts, ".ci/run sets NODE_LTS, the newest Node LTS it tests");
  const engines: string = JSON.parse(read("package.json")).engines.node;
  const majors = [...engines.matchAll(/\b(\d+)\.x\b/g)].map((m) => Number(m[1]));
  assert.ok(majors.length, `engines.node lists majors as N.x, got "${engines}"`);
  assert.equal(Math.max(...majors), Number(lts), `the newest Node in engines ("${engines}") is the one CI tests`);
  const line = read("README.md").split("\n").find((l) => /^Node\.js \d/.test(l));
  assert.ok(line, "the README states the Node versions on a line starting `Node.js `");
  for (const m of majors) assert.match(line, new RegExp(`\\b${m}\\b`), `the README names Node ${m}`);
});
