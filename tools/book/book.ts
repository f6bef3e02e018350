// The static HTML book: index.html plus one page per notebook (images inline as data URLs, no scripts, readable
// offline), and the drawing page draw.html (tools/book/drawpad.ts, scripts from the project, offline too). By default it
// shows the notebooks' committed outputs (the reviewed results; nothing runs); with `execute` it re-executes each
// notebook through the kernel first.
import { copyFileSync, mkdirSync } from "node:fs";
import { basename, join } from "node:path";
import { marked } from "marked";
import { writeFileAtomic } from "cnn-lab/dist/checkpoints/atomic-write";
import { FONT_DIR, FONT_FAMILY, FONT_FILES } from "cnn-lab/dist/display/font";
import { DRAW_PAGE, DRAW_STYLE, DRAW_TITLE, drawPageBody } from "./drawpad";
import { runNotebook } from "../jupyter/execute";
import { Notebook, Output, readNotebook, tags, text } from "../jupyter/notebook";

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

// Hangul needs a font a bare machine lacks (it would render as boxes): the book carries the bundled NanumGothic
// in fonts/ (with its licence). The Korean file covers everything; the small Latin one only its own range.
const FONTS_SUBDIR = "fonts";
const FONT_LICENCE = "NanumGothic-OFL.txt";
const LATIN_RANGE = "U+0000-00FF,U+0131,U+0152-0153,U+02BB-02BC,U+02C6,U+02DA,U+02DC,U+0304,U+0308,U+0329,U+2000-206F,U+20AC,U+2122,U+2191,U+2193,U+2212,U+2215,U+FEFF,U+FFFD";
const [LATIN_FILE, KOREAN_FILE] = FONT_FILES;
const fontFace = (file: string, range?: string) =>
  `@font-face{font-family:"${FONT_FAMILY}";src:url("${FONTS_SUBDIR}/${file}") format("woff2");font-display:block${range ? `;unicode-range:${range}` : ""}}`;

const STYLE = `${fontFace(KOREAN_FILE)}
${fontFace(LATIN_FILE, LATIN_RANGE)}
body{font-family:"${FONT_FAMILY}",sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.6;color:#222}
pre,code{font-family:ui-monospace,"DejaVu Sans Mono",monospace,"${FONT_FAMILY}"}
pre{background:#f6f8fa;padding:.6rem .8rem;overflow-x:auto;border-radius:4px;font-size:.9rem}
.in{border-left:3px solid #4a7bd0}.out{background:#fff;border-left:3px solid #ccc}.err{background:#fff0f0;border-left:3px solid #d04a4a}
img{max-width:100%;image-rendering:pixelated}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem}
nav{margin:1rem 0;font-size:.9rem}`;

function page(title: string, body: string, style = ""): string {
  return `<!doctype html>\n<html lang="ko"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escape(title)}</title><style>${STYLE}${style ? `\n${style}` : ""}</style></head>\n<body>\n${body}\n</body></html>\n`;
}

function renderOutput(o: Output): string {
  switch (o.output_type) {
    case "stream": return `<pre class="${o.name === "stderr" ? "err" : "out"}">${escape(o.text)}</pre>`;
    case "error": return `<pre class="err">${escape(`${o.ename}: ${o.evalue}`)}</pre>`;
    default: {
      const d = o.data;
      if (d["image/png"]) return `<p><img alt="figure" src="data:image/png;base64,${text(d["image/png"]).trim()}"></p>`;
      if (d["text/html"]) return text(d["text/html"]);
      if (d["text/markdown"]) return marked.parse(text(d["text/markdown"])) as string;
      return `<pre class="out">${escape(text(d["text/plain"]))}</pre>`;
    }
  }
}

export function notebookTitle(nb: Notebook, fallback: string): string {
  const first = nb.cells.find((c) => c.cell_type === "markdown");
  return text(first?.source).match(/^#\s+(.+)$/m)?.[1].trim() ?? fallback;
}

export function renderNotebook(nb: Notebook, title: string, nav: string): string {
  const parts = nb.cells.map((c) => {
    if (c.cell_type === "markdown") return marked.parse(text(c.source)) as string;
    if (c.cell_type !== "code") return "";
    return `<pre class="in"><code>${escape(text(c.source))}</code></pre>\n${(c.outputs ?? []).map(renderOutput).join("\n")}`;
  });
  return page(title, `${nav}\n${parts.join("\n")}\n${nav}`);
}

export interface BookOptions {
  /** Re-execute each notebook through the kernel (a progress line per cell) instead of using its committed outputs. */
  execute?: boolean;
  log?: (line: string) => void;
  /** Runs a notebook; tests inject one. */
  run?: typeof runNotebook;
  /** The model of the drawing page; default the shipped one, data/lecture-cnn. */
  modelDir?: string;
  /** Told of each notebook whose re-execution failed (its page ends at the failing cell). */
  onFailed?: (name: string, why: string) => void;
}

/**
 * Replaces the notebook's outputs with a fresh run's; a failed run ends the page with a note at the failing cell.
 * Returns why the run failed, if it did.
 */
async function execute(path: string, nb: Notebook, name: string, run: typeof runNotebook, log: (line: string) => void): Promise<string | undefined> {
  const code = nb.cells.filter((c) => c.cell_type === "code" && !tags(c).includes("skip-execution")).length;
  const started = Date.now();
  let done = 0;
  const result = await run(path, nb, {
    onStart: (index) => log(`  ${name}: cell ${index + 1} (${++done} of ${code}) …`),
    onCell: (r) => { if (r.failure) log(`  cell ${r.index + 1} failed: ${r.failure}\n${r.result?.stderr ?? ""}`); },
  });
  for (const r of result.cells) if (r.result && !tags(r.cell).includes("skip-execution")) r.cell.outputs = r.result.outputs;
  const failed = result.cells.find((r) => r.failure);
  if (failed) {
    const at = nb.cells.indexOf(failed.cell);
    nb.cells.splice(at + 1, 0, { id: "failed", cell_type: "markdown", metadata: {}, source: `> **이 셀에서 실행이 멈췄습니다 (execution stopped here):** ${failed.failure}` });
    nb.cells = nb.cells.slice(0, at + 2);
    return `cell ${failed.index + 1}: ${failed.failure}`;
  }
  if (result.failures.length) return result.failures.join("; ");
  log(`  ${name}: done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return undefined;
}

const DRAW_LINK = `<a href="${DRAW_PAGE}">✎ 숫자를 그려 CNN에게 물어보기 (draw a digit)</a>`;

/** Writes the book to outDir (index.html, one page per notebook, draw.html, fonts/); returns the index path. */
export async function buildBook(paths: string[], outDir: string, opts: BookOptions = {}): Promise<string> {
  const { log = console.log, run = runNotebook } = opts;
  const nbs = paths.map((path) => ({ path, nb: readNotebook(path), name: basename(path, ".ipynb") })); // bad input fails before any work
  mkdirSync(join(outDir, FONTS_SUBDIR), { recursive: true });
  for (const file of [...FONT_FILES, FONT_LICENCE]) copyFileSync(join(FONT_DIR, file), join(outDir, FONTS_SUBDIR, file));
  const entries: { file: string; title: string }[] = [];
  for (const { path, nb, name } of nbs) {
    if (opts.execute) {
      log(`executing ${name} …`);
      const why = await execute(path, nb, name, run, log);
      if (why) opts.onFailed?.(name, why);
    }
    const title = notebookTitle(nb, name);
    entries.push({ file: `${name}.html`, title });
    const nav = `<nav><a href="index.html">← 목차 (contents)</a> · ${DRAW_LINK}</nav>`;
    writeFileAtomic(join(outDir, `${name}.html`), renderNotebook(nb, title, nav));
  }
  const draw = drawPageBody(outDir, opts.modelDir);
  if (!draw.model) log(`no shipped model in ${opts.modelDir ?? "data/lecture-cnn"}: ${DRAW_PAGE} only says how to make one`);
  writeFileAtomic(join(outDir, DRAW_PAGE), page(DRAW_TITLE, `<nav><a href="index.html">← 목차 (contents)</a></nav>\n${draw.body}`, DRAW_STYLE));
  const list = entries.map((e) => `<li><a href="${e.file}">${escape(e.title)}</a></li>`).join("\n");
  const how = opts.execute
    ? `the notebooks re-executed on ${new Date().toISOString().slice(0, 10)} (<code>npm start -- --execute</code>)`
    : "the notebooks' committed outputs (<code>npm start</code>; <code>npm start -- --execute</code> re-executes them)";
  const index = join(outDir, "index.html");
  writeFileAtomic(index, page("모두를 위한 딥러닝 시즌2 — Lab 11 CNN (TypeScript)", `<h1>모두를 위한 딥러닝 시즌2 — Lab 11: CNN 기초 (TypeScript edition)</h1>\n<ol>\n${list}\n</ol>\n<p>${DRAW_LINK}: 직접 그린 숫자를 학습된 CNN이 브라우저 안에서 읽습니다.</p>\n<p>Written from ${how}.</p>`));
  return index;
}
