// `npm start`: finds the Jupyter front end, and without one writes a readable offline HTML book.
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createCanvas } from "@napi-rs/canvas";
import { buildBook } from "../tools/book";
import { writeNotebook } from "../tools/jupyter/notebook";
import { findJupyter } from "../tools/start";

const root = join(__dirname, "..");
let dir: string;
before(() => { mkdirSync(join(root, "test", ".tmp"), { recursive: true }); dir = mkdtempSync(join(root, "test", ".tmp", "book-")); });
after(() => rmSync(dir, { recursive: true, force: true }));

test("findJupyter prefers JupyterLab, falls back to the classic Notebook, and sees when neither exists", () => {
  const bin = join(dir, "bin");
  mkdirSync(bin);
  const fake = (apps: string[]) => {
    writeFileSync(join(bin, "jupyter"), `#!/bin/sh\ncase "$1" in ${apps.map((a) => `${a}) exit 0;;`).join(" ")} esac\nexit 1\n`);
    chmodSync(join(bin, "jupyter"), 0o755);
  };
  fake(["lab", "notebook"]);
  assert.equal(findJupyter({ PATH: bin }), "lab");
  fake(["notebook"]);
  assert.equal(findJupyter({ PATH: bin }), "notebook");
  fake([]);
  assert.equal(findJupyter({ PATH: bin }), undefined);
  assert.equal(findJupyter({ PATH: join(dir, "empty") }), undefined);
});

test("the book executes each notebook and inlines its text and images", async () => {
  const png = createCanvas(4, 4).toBuffer("image/png").toString("base64");
  const nbPath = join(dir, "demo.ipynb");
  writeNotebook(nbPath, {
    nbformat: 4, nbformat_minor: 5, metadata: {},
    cells: [
      { id: "a", cell_type: "markdown", metadata: {}, source: "# 합성곱 데모\n\n*feature map* 입니다." },
      { id: "b", cell_type: "code", metadata: {}, execution_count: null, outputs: [], source: 'const tslab = require("tslab");\nconsole.log("12 < 16");\n' + `tslab.display.png(Buffer.from("${png}", "base64"));` },
    ],
  });
  const index = await buildBook([nbPath], join(dir, "book"), () => {});
  const html = readFileSync(index, "utf8");
  assert.match(html, /<a href="demo\.html">합성곱 데모<\/a>/);
  const pageHtml = readFileSync(join(dir, "book", "demo.html"), "utf8");
  assert.match(pageHtml, /<em>feature map<\/em>/);
  assert.match(pageHtml, /<pre class="out">12 &lt; 16\n<\/pre>/, "stream output executed now, escaped");
  assert.ok(pageHtml.includes(`src="data:image/png;base64,${png}"`), "image inline as a data URL");
  assert.doesNotMatch(pageHtml, /<script/);
});
