// lib/src reads bottom-up: no module imports, even for a type, a module that imports it back (directly or through
// others). A circle means two modules own one concern; a shared type lives with the module that owns it.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const LIB_SRC = path.resolve(__dirname, "..", "lib", "src");

/** Relative module specifiers in a source: imports and re-exports (type-only ones too), import("…") types, require. */
export function relativeImports(source: string): string[] {
  const found = source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']+)["']/gm);
  return [...found].map((m) => m[1]);
}

/** file → the files it imports, for every .ts file under `dir` (paths relative to `dir`). */
export function importGraph(dir: string): Map<string, string[]> {
  const files = fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"));
  const known = new Set(files.map((f) => f.split(path.sep).join("/")));
  const graph = new Map<string, string[]>();
  for (const file of known) {
    const edges = relativeImports(fs.readFileSync(path.join(dir, file), "utf8")).map((spec) => {
      const base = path.posix.join(path.posix.dirname(file), spec);
      const target = [`${base}.ts`, `${base}/index.ts`, base].find((c) => known.has(c));
      if (!target) throw new Error(`${file} imports ${spec}: no such file under ${dir}`);
      return target;
    });
    graph.set(file, [...new Set(edges)]);
  }
  return graph;
}

/** The first import circle found, as its files in order with the first repeated at the end; undefined when none. */
export function findCircle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (file: string): string[] | undefined => {
    if (state.get(file) === "done") return undefined;
    if (state.get(file) === "open") return [...stack.slice(stack.indexOf(file)), file];
    state.set(file, "open");
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      const circle = visit(next);
      if (circle) return circle;
    }
    stack.pop();
    state.set(file, "done");
    return undefined;
  };
  for (const file of [...graph.keys()].sort()) {
    const circle = visit(file);
    if (circle) return circle;
  }
  return undefined;
}

test("lib/src has no import circle, type imports included", () => {
  const graph = importGraph(LIB_SRC);
  assert.ok(graph.size > 30 && graph.get("index.ts")!.length > 20, "the graph covers lib/src, folders included");
  assert.equal(findCircle(graph)?.join(" → "), undefined);
});

test("the check finds a circle made of a type import, an import(\"…\") type or a re-export, across folders", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "circles-"));
  try {
    fs.mkdirSync(path.join(dir, "training"));
    fs.mkdirSync(path.join(dir, "checkpoints"));
    const write = (file: string, text: string) => fs.writeFileSync(path.join(dir, file), text);
    write("index.ts", `export * from "./training/train";\nexport * from "./checkpoints/checkpoint";\n`);
    write("training/train.ts", `import { save } from "../checkpoints/checkpoint";\nexport interface EpochLog { epoch: number }\n`);
    write("checkpoints/checkpoint.ts", `export function save(): void {}\n`);
    assert.equal(findCircle(importGraph(dir)), undefined, "no circle yet");

    write("checkpoints/checkpoint.ts", `import type { EpochLog } from "../training/train";\nexport function save(log: EpochLog): void {}\n`);
    assert.deepEqual(findCircle(importGraph(dir)), ["checkpoints/checkpoint.ts", "training/train.ts", "checkpoints/checkpoint.ts"]);

    write("checkpoints/checkpoint.ts", `export function save(log: import("../training/train").EpochLog): void {}\n`);
    assert.deepEqual(findCircle(importGraph(dir)), ["checkpoints/checkpoint.ts", "training/train.ts", "checkpoints/checkpoint.ts"]);

    write("checkpoints/checkpoint.ts", `export function save(): void {}\nexport type { EpochLog } from "../training/train";\n`);
    assert.deepEqual(findCircle(importGraph(dir)), ["checkpoints/checkpoint.ts", "training/train.ts", "checkpoints/checkpoint.ts"]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a multi-line import and an index folder import are read; an import of a missing file is an error naming it", () => {
  assert.deepEqual(relativeImports(`import {\n  a,\n  type B,\n} from "./a";\nimport "./side-effect";\nconst x = require("../x");`), ["./a", "./side-effect", "../x"]);
  assert.deepEqual(relativeImports(`import * as tf from "@tensorflow/tfjs";\n// from "./commented" is still read: a false edge can only add a circle, never hide one`), ["./commented"]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "circles-"));
  try {
    fs.mkdirSync(path.join(dir, "engine"));
    fs.writeFileSync(path.join(dir, "engine", "index.ts"), `import { a } from "../a";\n`);
    fs.writeFileSync(path.join(dir, "a.ts"), `import { b } from "./engine";\nimport { c } from "./missing";\n`);
    assert.throws(() => importGraph(dir), /a\.ts imports \.\/missing: no such file under/);
    fs.writeFileSync(path.join(dir, "a.ts"), `import { b } from "./engine";\n`);
    assert.deepEqual(findCircle(importGraph(dir)), ["a.ts", "engine/index.ts", "a.ts"]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
