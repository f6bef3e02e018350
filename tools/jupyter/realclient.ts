// The real-client check (CI): executes every notebook with Jupyter's own `jupyter nbconvert --execute` and the
// project's kernelspec, fails on any cell error, and compares the outputs with the stored ones like nbrun does.
// A cell that comes back with no output where outputs are stored fails too: tslab aborts a request sent right
// after an error, which nbconvert does not report.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import { parseFlags, runCli } from "../cli/cli";
import { coalesce, compareOutputs } from "./compare";
import { JUPYTER_PATH, PROJECT_ROOT } from "./kernel";
import { Output, readNotebook, tags } from "./notebook";
import { listNotebooks } from "./nbrun";
import { runChild } from "../run-child.mjs";

async function check(path: string, outDir: string): Promise<string[]> {
  let r;
  try {
    // Stopping this check (Ctrl-C, kill) stops nbconvert and its kernel too.
    r = await runChild("jupyter", ["nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.timeout=3600", "--output-dir", outDir, path], {
      capture: true, env: { ...process.env, JUPYTER_PATH },
    });
  } catch (e) {
    return [`could not run jupyter nbconvert: ${(e as Error).message}`];
  }
  if (r.status !== 0) return [`jupyter nbconvert failed (exit ${r.status}):\n${r.stderr.split("\n").slice(-25).join("\n")}`];
  const stored = readNotebook(path);
  const fresh = readNotebook(join(outDir, basename(path)));
  const problems: string[] = [];
  stored.cells.forEach((cell, i) => {
    const t = tags(cell);
    if (cell.cell_type !== "code" || t.includes("skip-execution")) return;
    const got = coalesce(fresh.cells[i].outputs ?? []);
    if ((cell.outputs ?? []).length && !got.length) problems.push(`cell ${i + 1}: no output (was the request aborted?)`);
    else if (!t.includes("ignore-output")) {
      for (const p of compareOutputs(cell.outputs ?? [], got, PROJECT_ROOT)) problems.push(`cell ${i + 1}: ${p}`);
    }
  });
  return problems;
}

const USAGE = `usage: npm run test:realclient -- [notebook.ipynb …]   (default: every notebooks/*.ipynb; needs Jupyter's nbconvert)`;

async function main(argv: string[]): Promise<number> {
  const { positionals } = parseFlags(argv, {}, true);
  process.env.CNN_QUICK ??= "1"; // the full-CNN notebook's reduced training schedule, as in `npm test`
  const outDir = mkdtempSync(join(tmpdir(), "realclient-"));
  let failed = 0;
  try {
    for (const path of listNotebooks(positionals)) {
      const t = Date.now();
      const problems = await check(path, outDir);
      const name = relative(process.cwd(), path);
      if (problems.length) {
        failed++;
        console.error(`✗ ${name} (jupyter nbconvert)\n${problems.map((p) => `  ${p.replace(/\n/g, "\n  ")}`).join("\n")}`);
      } else {
        console.log(`✓ ${name} (jupyter nbconvert, ${((Date.now() - t) / 1000).toFixed(1)} s)`);
      }
    }
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
  return failed ? 1 : 0;
}

runCli(main, USAGE, { exit: true });
