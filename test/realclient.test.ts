// The real-client check (jupyter nbconvert --execute) on a display updated in place: nbclient folds
// update_display_data into the display_data it updates, like the project's runner, so the notebook the runner
// stored (one chart, the last) passes; a notebook holding every redraw, or the first one, fails.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Notebook, readNotebook, writeNotebook } from "../tools/jupyter/notebook";

const root = join(__dirname, "..");
const skip = spawnSync("jupyter", ["nbconvert", "--version"]).status !== 0 && "no jupyter nbconvert (Debian: apt-get install jupyter-nbconvert python3-nbclient)";

let dir: string;
before(() => { mkdirSync(join(root, "test", ".tmp"), { recursive: true }); dir = mkdtempSync(join(root, "test", ".tmp", "rc-")); });
after(() => rmSync(dir, { recursive: true, force: true }));

const tool = (name: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(root, "tools", name), ...args], { cwd: root, encoding: "utf8", timeout: 180_000 });
  return { code: r.status ?? -1, out: r.stdout + r.stderr };
};

test("a live display stored as its last figure passes the nbconvert check; every redraw stored, or the first, fails", { skip, timeout: 300_000 }, () => {
  const marker = join(dir, "figures.json");
  // Three figures different enough that the image comparison's tolerance cannot take one for another.
  const source = `import { lineChart, liveDisplay } from "cnn-lab";
const live = liveDisplay();
const pngs: string[] = [];
for (const k of [1, 2, 3]) {
  const fig = lineChart([{ label: "loss", values: Array.from({ length: 8 }, (_, i) => (k === 3 ? 1 - i / 8 : (i % 2) * k)) }], { show: false });
  live.show(fig);
  pngs.push(fig.png().toString("base64"));
  await new Promise((r) => setTimeout(r, 300));
}
require("node:fs").writeFileSync(${JSON.stringify(marker)}, JSON.stringify(pngs));`;
  const path = join(dir, "live.ipynb");
  writeNotebook(path, {
    nbformat: 4, nbformat_minor: 5,
    metadata: { kernelspec: { name: "tslab", display_name: "TypeScript", language: "typescript" }, nbrun: { leakCheck: false } },
    cells: [{ id: "live", cell_type: "code", source, metadata: {}, outputs: [], execution_count: null }],
  });
  const update = tool("jupyter/nbrun.ts", "update", path);
  assert.equal(update.code, 0, update.out);
  const pngs: string[] = JSON.parse(readFileSync(marker, "utf8"));
  const stored: Notebook = readNotebook(path);
  assert.equal(stored.cells[0].outputs?.length, 1, "the runner stored one output");

  const ok = tool("jupyter/realclient.ts", path);
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /✓ .*live\.ipynb \(jupyter nbconvert/);

  const display = (png: string) => ({ output_type: "display_data" as const, data: { "image/png": png }, metadata: {} });
  stored.cells[0].outputs = pngs.map(display); // as a client that appends update_display_data would store it
  writeNotebook(path, stored);
  const every = tool("jupyter/realclient.ts", path);
  assert.equal(every.code, 1, every.out);
  assert.match(every.out, /cell 1: output 2 \(display_data \[image\/png\]\) is missing/);

  stored.cells[0].outputs = [display(pngs[0])]; // as a client that ignores update_display_data would store it
  writeNotebook(path, stored);
  const first = tool("jupyter/realclient.ts", path);
  assert.equal(first.code, 1, first.out);
  assert.match(first.out, /cell 1: output 1: image pixels changed/);
});
