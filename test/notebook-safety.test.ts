// Notebooks never delete what they did not make: every folder a notebook removes must come from fs.mkdtempSync in
// the same notebook (a scratch folder of this run), never a fixed path such as the full run's checkpoints.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..");

/** `rmSync(X…)` / `rmdirSync(X…)` calls in the code whose X is not a variable assigned from mkdtempSync in that code. */
export function unsafeRemovals(code: string): string[] {
  const scratch = new Set([...code.matchAll(/(?:const|let)\s+(\w+)\s*=[^;\n]*mkdtempSync\(/g)].map((m) => m[1]));
  return [...code.matchAll(/\b(?:rmSync|rmdirSync)\(\s*([^,)]+)/g)]
    .map((m) => m[1].trim())
    .filter((target) => !scratch.has(target));
}

test("notebooks remove only the scratch folders they made", () => {
  const dir = path.join(ROOT, "notebooks");
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith(".ipynb"))) {
    const cells = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")).cells as { cell_type: string; source: string | string[] }[];
    const code = cells.filter((c) => c.cell_type === "code").map((c) => [c.source].flat().join("")).join("\n");
    assert.deepEqual(unsafeRemovals(code), [], f);
  }
});

test("the check flags a removal of a fixed folder (what notebook 06 once did to the full run's checkpoints)", () => {
  const before = `const checkpointDir = "../checkpoints/06-full-cnn";\nfs.rmSync(checkpointDir, { recursive: true, force: true });`;
  assert.deepEqual(unsafeRemovals(before), ["checkpointDir"]);
  const now = `const checkpointDir = QUICK ? fs.mkdtempSync(path.join(os.tmpdir(), "x-")) : "../checkpoints/06-full-cnn";\nif (QUICK) fs.rmSync(checkpointDir, { recursive: true });`;
  assert.deepEqual(unsafeRemovals(now), []);
});
