// `npm start`: finds the Jupyter front end, and without one writes a readable offline HTML book from the committed
// outputs (no kernel), or from a fresh run with --execute.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createCanvas } from "@napi-rs/canvas";
import { writeNotebook } from "../tools/jupyter/notebook";
import { decide, realProbes } from "../tools/jupyter/lab";
import { start, StartDeps } from "../tools/start";

const root = join(__dirname, "..");
let dir: string;
before(() => { mkdirSync(join(root, "test", ".tmp"), { recursive: true }); dir = mkdtempSync(join(root, "test", ".tmp", "book-")); });
after(() => rmSync(dir, { recursive: true, force: true }));

test("the decision on a real PATH: JupyterLab before the classic Notebook, neither when the jupyter command fails or is absent", () => {
  const bin = join(dir, "bin");
  mkdirSync(bin);
  const fake = (apps: string[]) => {
    writeFileSync(join(bin, "jupyter"), `#!/bin/sh\ncase "$1" in ${apps.map((a) => `${a}) exit 0;;`).join(" ")} esac\nexit 1\n`);
    chmodSync(join(bin, "jupyter"), 0o755);
  };
  // No project venv and no python3 here: only what PATH offers counts.
  const probes = (PATH: string) => ({ ...realProbes({ PATH }), venvReady: () => false, python: () => undefined });
  fake(["lab", "notebook"]);
  assert.deepEqual(decide(probes(bin)), { open: { app: "lab", command: "jupyter", where: "PATH" } });
  fake(["notebook"]);
  assert.deepEqual(decide(probes(bin)), { open: { app: "notebook", command: "jupyter", where: "PATH" } });
  fake([]);
  assert.ok("none" in decide(probes(bin)));
  assert.ok("none" in decide(probes(join(dir, "empty"))));
});

const png = createCanvas(4, 4).toBuffer("image/png").toString("base64");

/** A notebook whose stored outputs differ from what running it prints, so the book shows which it used. */
function demoNotebook(name: string): string {
  const path = join(dir, `${name}.ipynb`);
  writeNotebook(path, {
    nbformat: 4, nbformat_minor: 5, metadata: {},
    cells: [
      { id: "a", cell_type: "markdown", metadata: {}, source: "# 합성곱 데모\n\n*feature map* 입니다." },
      {
        id: "b", cell_type: "code", metadata: {}, execution_count: 1,
        outputs: [{ output_type: "stream", name: "stdout", text: "stored 3 < 4\n" }, { output_type: "display_data", data: { "image/png": png }, metadata: {} }],
        source: 'const tslab = require("tslab");\nconsole.log(`fresh ${process.env.CNN_QUICK} < 16`);\n' + `tslab.display.png(Buffer.from("${png}", "base64"));`,
      },
    ],
  });
  return path;
}

const neverRun = () => { throw new Error("a kernel was started"); };

test("without Jupyter, npm start writes the book from the committed outputs and starts no kernel", async () => {
  const lines: string[] = [];
  const outDir = join(dir, "stored");
  const code = await start([], { decide: () => ({ none: "Jupyter is not installed and there is no python3 to set up JupyterLab with" }), run: neverRun, notebooks: [demoNotebook("stored")], outDir, log: (l) => lines.push(l) });
  assert.equal(code, 0);
  const index = join(outDir, "index.html");
  assert.match(readFileSync(index, "utf8"), /<a href="stored\.html">합성곱 데모<\/a>/);
  const pageHtml = readFileSync(join(outDir, "stored.html"), "utf8");
  assert.match(pageHtml, /<em>feature map<\/em>/);
  assert.match(pageHtml, /<pre class="out">stored 3 &lt; 4\n<\/pre>/, "the stored stream output, escaped");
  assert.ok(pageHtml.includes(`src="data:image/png;base64,${png}"`), "the stored image inline as a data URL");
  assert.doesNotMatch(pageHtml, /<script/);
  // The font check itself needs a browser (book-font.test.ts); here: the book carries the font it names.
  for (const m of pageHtml.matchAll(/url\("(fonts\/[^"]+)"\)/g)) assert.ok(existsSync(join(outDir, m[1])), `${m[1]} next to the book`);
  assert.match(pageHtml, /@font-face\{font-family:"CnnLab NanumGothic";src:url\("fonts\/nanum-gothic-korean-400-normal\.woff2"\)/);
  const said = lines.join("\n");
  assert.match(said, /Jupyter is not installed/);
  assert.match(said, /committed outputs/);
  assert.ok(said.includes(index), "names where the book is");
  assert.ok(said.includes(join(outDir, "draw.html")), "names the drawing page");
  assert.match(pageHtml, /<nav><a href="index\.html">← 목차 \(contents\)<\/a> · <a href="draw\.html">/, "every page links the drawing page");
});

test("--book writes the book from the committed outputs even when Jupyter is installed", async () => {
  const outDir = join(dir, "forced");
  await start(["--book"], { decide: () => ({ open: { app: "lab", command: "jupyter", where: "PATH" } }), open: () => { throw new Error("opened Jupyter"); }, run: neverRun, notebooks: [demoNotebook("forced")], outDir, log: () => {} });
  assert.match(readFileSync(join(outDir, "forced.html"), "utf8"), /stored 3 &lt; 4/);
});

test("--execute re-executes through the kernel with CNN_QUICK=1, a progress line per cell, and fresh outputs", async () => {
  const saved = process.env.CNN_QUICK;
  delete process.env.CNN_QUICK;
  try {
    const lines: string[] = [];
    const outDir = join(dir, "executed");
    await start(["--execute"], { decide: () => { throw new Error("--execute does not look for Jupyter"); }, notebooks: [demoNotebook("executed")], outDir, log: (l) => lines.push(l) });
    const pageHtml = readFileSync(join(outDir, "executed.html"), "utf8");
    assert.match(pageHtml, /<pre class="out">fresh 1 &lt; 16\n<\/pre>/, "stream output of this run, with the quick schedule");
    assert.doesNotMatch(pageHtml, /stored 3/);
    assert.ok(pageHtml.includes(`src="data:image/png;base64,${png}"`));
    assert.ok(lines.includes("  executed: cell 2 (1 of 1) …"), lines.join("\n"));
    assert.match(lines.join("\n"), /book written from a fresh run: .*index\.html/);
  } finally {
    if (saved === undefined) delete process.env.CNN_QUICK; else process.env.CNN_QUICK = saved;
  }
});

test("--execute exits non-zero when a notebook fails, naming it and the cell; the book is still written", async () => {
  const failing = join(dir, "fails.ipynb");
  writeNotebook(failing, {
    nbformat: 4, nbformat_minor: 5, metadata: {},
    cells: [
      { id: "a", cell_type: "code", metadata: {}, execution_count: 1, outputs: [], source: 'console.log("first");' },
      { id: "b", cell_type: "code", metadata: {}, execution_count: 2, outputs: [], source: 'throw new Error("the filter shape is wrong");' },
    ],
  });
  const lines: string[] = [];
  const errors: string[] = [];
  const outDir = join(dir, "failing");
  const code = await start(["--execute"], { notebooks: [demoNotebook("passes"), failing], outDir, log: (l) => lines.push(l), error: (l) => errors.push(l) });
  assert.equal(code, 1, lines.join("\n"));
  assert.equal(errors.join("\n"), "\n1 notebook(s) failed to execute (their pages end at the failing cell):\n  ✗ fails: cell 2: cell raised an error (status error)");
  assert.match(readFileSync(join(outDir, "fails.html"), "utf8"), /execution stopped here/);
  assert.ok(existsSync(join(outDir, "passes.html")) && existsSync(join(outDir, "index.html")));
});

test("--execute keeps a CNN_QUICK the user set", async () => {
  const saved = process.env.CNN_QUICK;
  process.env.CNN_QUICK = "0";
  try {
    let seen: string | undefined;
    const run = (async () => { seen = process.env.CNN_QUICK; return { cells: [], failures: [], kernelLog: "" }; }) as StartDeps["run"];
    await start(["--execute"], { run, notebooks: [demoNotebook("user-env")], outDir: join(dir, "user-env"), log: () => {} });
    assert.equal(seen, "0");
  } finally {
    if (saved === undefined) delete process.env.CNN_QUICK; else process.env.CNN_QUICK = saved;
  }
});

test("npm start: unknown options are a usage error (exit 2), --help prints the usage on stdout (exit 0)", () => {
  const cli = (arg: string) => spawnSync(process.execPath, ["--import", "tsx", join(root, "tools", "start.ts"), arg], { cwd: root, encoding: "utf8", timeout: 120_000 });
  const bad = cli("--bogus");
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /^error: Unknown option '--bogus'.*\nusage: npm start/);
  const help = cli("--help");
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^usage: npm start .*\n[\s\S]*--execute/);
  assert.equal(help.stderr, "");
});
