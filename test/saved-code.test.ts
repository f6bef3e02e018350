// d2l's `#@save`: notebook cells marked `// @save` are the lecture's code written in the open, and the library keeps
// the same code once, in lib/src/lecture (the lesson's folder). Each marked function must stand there word for word
// (with `export`), and the notebook's createModel() must build the library's network: same layers, shapes, parameter counts and initial weights.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";
import { tf, setupBackend, createModel, paddingMode } from "cnn-lab";

const ROOT = path.resolve(__dirname, "..");
const MARK = "// @save\n";

interface Cell { cell_type: string; id?: string; source: string | string[] }

/** The `// @save` blocks of a notebook's code cells: from the mark to the end of the cell or the next mark. */
export function savedBlocks(cells: Cell[]): { cell: string; text: string }[] {
  return cells
    .filter((c) => c.cell_type === "code")
    .flatMap((c) => {
      const src = [c.source].flat().join("");
      return src.includes(MARK) ? src.split(MARK).slice(1).map((b) => ({ cell: c.id ?? "?", text: (MARK + b).trimEnd() })) : [];
    });
}

/** Blocks that do not stand word for word in any of the sources (`export function` read as `function`). */
export function unsaved(blocks: { cell: string; text: string }[], sources: string[]): string[] {
  const lib = sources.map((s) => s.replace(/^export function /gm, "function "));
  return blocks.filter((b) => !lib.some((s) => s.includes(b.text))).map((b) => `${b.cell}: ${b.text.split("\n").find((l) => l.startsWith("function")) ?? b.text.slice(0, 60)}`);
}

const libSources = () => {
  const dir = path.join(ROOT, "lib", "src", "lecture");
  return fs.readdirSync(dir).filter((f) => f.endsWith(".ts")).map((f) => fs.readFileSync(path.join(dir, f), "utf8"));
};
const notebookCells = (name: string): Cell[] => JSON.parse(fs.readFileSync(path.join(ROOT, "notebooks", name), "utf8")).cells;
const notebook06 = (): Cell[] => notebookCells("06-full-cnn.ipynb");

before(() => setupBackend({ quiet: true }));

test("every `// @save` cell of notebook 06 is in lib/src/lecture word for word", () => {
  const blocks = savedBlocks(notebook06());
  const names = blocks.map((b) => /^function (\w+)/m.exec(b.text)?.[1]);
  assert.deepEqual(names, ["createModel", "lossFn", "countCorrect", "grad", "trainStep"]);
  assert.deepEqual(unsaved(blocks, libSources()), []);
});

test("the `// @save` cell of notebook 07 (createFunctionalModel) is in lib/src/lecture word for word", () => {
  const blocks = savedBlocks(notebookCells("07-functional.ipynb"));
  assert.deepEqual(blocks.map((b) => /^function (\w+)/m.exec(b.text)?.[1]), ["createFunctionalModel"]);
  assert.deepEqual(unsaved(blocks, libSources()), []);
});

test("the `// @save` cells of notebooks 09 (the ensemble's summed logits) and 10 (augmentation, model, decay) are in lib/src/lecture word for word", () => {
  const expected: Record<string, string[]> = {
    "09-ensemble.ipynb": ["ensembleLogits"],
    "10-best.ipynb": ["cosSinDeg", "transformMatrix", "augmentImages", "createBestModel", "staircaseDecay"],
  };
  for (const [name, functions] of Object.entries(expected)) {
    const blocks = savedBlocks(notebookCells(name));
    assert.deepEqual(blocks.map((b) => /^function (\w+)/m.exec(b.text)?.[1]), functions, name);
    assert.deepEqual(unsaved(blocks, libSources()), [], name);
  }
});

test("the check catches a notebook cell that drifted from the library", () => {
  const cells: Cell[] = [
    { cell_type: "code", id: "same", source: `${MARK}// one\nfunction one(): number {\n  return 1;\n}\n` },
    { cell_type: "code", id: "drifted", source: [`${MARK}// one\n`, "function one(): number {\n  return 2;\n}"] },
    { cell_type: "code", id: "plain", source: "function free() {}" },
  ];
  const lib = `// @save\n// one\nexport function one(): number {\n  return 1;\n}\n`;
  assert.deepEqual(unsaved(savedBlocks(cells), [lib]), ["drifted: function one(): number {"]);
});

test("the notebook's createModel() builds the library's model: layers, shapes, parameters, initial weights", () => {
  const cell = notebook06().find((c) => [c.source].flat().join("").includes("function createModel("));
  assert.ok(cell, "notebook 06 defines createModel()");
  const js = ts.transpileModule([cell.source].flat().join(""), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
  // The names the cell uses from the notebook's imports.
  const notebookCreateModel = new Function("tf", "paddingMode", `${js}\nreturn createModel;`)(tf, paddingMode) as () => tf.LayersModel;
  const [mine, theirs] = [notebookCreateModel(), createModel()];
  const describe = (m: tf.LayersModel) => m.layers.map((l) => ({ cls: l.getClassName(), name: l.name, shape: l.outputShape, params: l.countParams(), config: l.getConfig() }));
  assert.deepEqual(describe(mine), describe(theirs));
  assert.equal(mine.countParams(), 619_786);
  const weights = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
  assert.deepEqual(weights(mine), weights(theirs), "same seeds, same initial weights");
  [mine, theirs].forEach((m) => m.dispose());
});
