// The static HTML book: executes each notebook through the kernel and writes index.html plus one page per
// notebook (images inline as data URLs, no scripts, readable offline).
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { marked } from "marked";
import { runNotebook } from "./jupyter/execute";
import { Notebook, Output, readNotebook, tags, text } from "./jupyter/notebook";

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

const STYLE = `body{font-family:system-ui,"Noto Sans KR","Nanum Gothic",sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.6;color:#222}
pre{background:#f6f8fa;padding:.6rem .8rem;overflow-x:auto;border-radius:4px;font-size:.9rem}
.in{border-left:3px solid #4a7bd0}.out{background:#fff;border-left:3px solid #ccc}.err{background:#fff0f0;border-left:3px solid #d04a4a}
img{max-width:100%;image-rendering:pixelated}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem}
nav{margin:1rem 0;font-size:.9rem}`;

function page(title: string, body: string): string {
  return `<!doctype html>\n<html lang="ko"><head><meta charset="utf-8"><title>${escape(title)}</title><style>${STYLE}</style></head>\n<body>\n${body}\n</body></html>\n`;
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

/** Executes the notebooks (outputs are not compared) and writes the book; returns the index path. */
export async function buildBook(paths: string[], outDir: string, log = console.log): Promise<string> {
  mkdirSync(outDir, { recursive: true });
  const entries: { file: string; title: string }[] = [];
  for (const path of paths) {
    const nb = readNotebook(path);
    const name = basename(path, ".ipynb");
    log(`executing ${name} …`);
    const run = await runNotebook(path, nb, {
      onCell: (r) => { if (r.failure) log(`  cell ${r.index + 1}: ${r.failure}\n${r.result?.stderr ?? ""}`); },
    });
    for (const r of run.cells) if (r.result && !tags(r.cell).includes("skip-execution")) r.cell.outputs = r.result.outputs;
    const failed = run.cells.find((r) => r.failure);
    if (failed) {
      const at = nb.cells.indexOf(failed.cell);
      nb.cells.splice(at + 1, 0, { id: "failed", cell_type: "markdown", metadata: {}, source: `> **이 셀에서 실행이 멈췄습니다 (execution stopped here):** ${failed.failure}` });
      nb.cells = nb.cells.slice(0, at + 2);
    }
    const title = notebookTitle(nb, name);
    entries.push({ file: `${name}.html`, title });
    const nav = `<nav><a href="index.html">← 목차 (contents)</a></nav>`;
    writeFileSync(join(outDir, `${name}.html`), renderNotebook(nb, title, nav));
  }
  const list = entries.map((e) => `<li><a href="${e.file}">${escape(e.title)}</a></li>`).join("\n");
  const index = join(outDir, "index.html");
  writeFileSync(index, page("모두를 위한 딥러닝 시즌2 — Lab 11 CNN (TypeScript)", `<h1>모두를 위한 딥러닝 시즌2 — Lab 11: CNN 기초 (TypeScript edition)</h1>\n<ol>\n${list}\n</ol>\n<p>Generated ${new Date().toISOString().slice(0, 10)} by <code>npm start</code> (Jupyter was not installed).</p>`));
  return index;
}
