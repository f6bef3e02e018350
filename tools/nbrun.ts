// Notebook regression runner.
//   tsx tools/nbrun.ts check  [notebooks…]   re-execute and compare with the stored outputs (exit 1 on any failure)
//   tsx tools/nbrun.ts update [notebooks…]   re-execute and store the new outputs
// Without paths: every notebooks/*.ipynb. Options: --no-leak-check (skip the leak check), --timeout S (per cell),
// --keep-ignored (update: cells tagged ignore-output keep their stored outputs, e.g. a full training run's, while
// the other cells, which check compares literally under any schedule, and new ignore-output cells take the new ones).
// check runs the full-CNN notebook's reduced training schedule (CNN_QUICK=1) unless CNN_QUICK is set;
// update runs what the environment says (the full 15 epochs by default), since stored outputs come from a full run.
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { compareOutputs } from "./jupyter/compare";
import { CellRun, DEFAULT_CELL_TIMEOUT_S, runNotebook } from "./jupyter/execute";
import { KernelStartError, PROJECT_ROOT } from "./jupyter/kernel";
import { Notebook, readNotebook, tags, text, writeNotebook } from "./jupyter/notebook";

/** The longest delay setTimeout honours (a signed 32-bit number of milliseconds). */
const MAX_TIMER_MS = 2 ** 31 - 1;

const indent = (s: string, p = "    ") => s.replace(/\n$/, "").split("\n").map((l) => p + l).join("\n");

function report(path: string, run: CellRun, problems: string[]): string {
  const head = `✗ ${relative(process.cwd(), path)}, cell ${run.index + 1}`;
  const parts = [head, "  source:", indent(text(run.cell.source)), ...problems.map((p) => indent(p, "  "))];
  if (run.result?.stderr) parts.push("  kernel stderr:", indent(run.result.stderr));
  return parts.join("\n");
}

export function listNotebooks(args: string[]): string[] {
  if (args.length) return args;
  const dir = join(PROJECT_ROOT, "notebooks");
  return readdirSync(dir).filter((f) => f.endsWith(".ipynb")).sort().map((f) => join(dir, f));
}

interface RunOptions { leakCheck: boolean; keepIgnored: boolean; timeoutS?: number }

async function processNotebook(path: string, mode: "check" | "update", { leakCheck, keepIgnored, timeoutS }: RunOptions): Promise<string[]> {
  const nb: Notebook = readNotebook(path);
  if (timeoutS) for (const c of nb.cells) c.metadata = { ...c.metadata, nbrun: { ...c.metadata?.nbrun, timeout: c.metadata?.nbrun?.timeout ?? timeoutS } };
  const started = Date.now();
  const run = await runNotebook(path, nb, { leakCheck: leakCheck && nb.metadata.nbrun?.leakCheck !== false });
  const errors: string[] = [];
  let count = 0;
  for (const r of run.cells) {
    const problems = r.failure ? [r.failure] : [];
    if (!r.failure && mode === "check" && r.result && !tags(r.cell).includes("ignore-output")) {
      problems.push(...compareOutputs(r.cell.outputs ?? [], r.result.outputs, PROJECT_ROOT));
    }
    if (problems.length) errors.push(report(path, r, problems));
    if (mode === "update" && r.result) {
      // A new ignore-output cell has nothing to keep: it takes this run's outputs.
      const keep = keepIgnored && tags(r.cell).includes("ignore-output") && (r.cell.outputs ?? []).length > 0;
      if (!keep) r.cell.outputs = r.result.outputs;
      r.cell.execution_count = ++count;
    }
  }
  if (run.cells.some((r) => r.failure) && run.kernelLog.trim()) errors.push(`  kernel process output:\n${indent(run.kernelLog)}`);
  errors.push(...run.failures.map((f) => `✗ ${relative(process.cwd(), path)}: ${f}`));
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (mode === "update" && !errors.length) {
    writeNotebook(path, nb);
    console.log(`✓ ${relative(process.cwd(), path)}: outputs updated (${secs} s)`);
  } else if (!errors.length) {
    console.log(`✓ ${relative(process.cwd(), path)} (${run.cells.length} cells, ${secs} s)`);
  }
  return errors;
}

async function main(argv: string[]): Promise<number> {
  const [mode, ...rest] = argv;
  if (mode !== "check" && mode !== "update") {
    console.error("usage: nbrun check|update [--no-leak-check] [--keep-ignored] [--timeout S] [notebook.ipynb …]");
    return 2;
  }
  let leakCheck = mode === "check";
  let keepIgnored = false;
  let timeoutS: number | undefined;
  const paths: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === "--no-leak-check") leakCheck = false;
    else if (a === "--keep-ignored") {
      if (mode !== "update") { console.error("--keep-ignored applies to update only (check never writes outputs)"); return 2; }
      keepIgnored = true;
    }
    else if (a === "--timeout") {
      timeoutS = Number(rest[++i]);
      if (!(timeoutS > 0)) { console.error(`--timeout needs a number of seconds > 0 (default ${DEFAULT_CELL_TIMEOUT_S})`); return 2; }
      // setTimeout fires at once for delays above 2^31-1 ms, which would fail every cell immediately.
      if (timeoutS * 1000 > MAX_TIMER_MS) {
        console.error(`--timeout must be at most ${Math.floor(MAX_TIMER_MS / 1000)} seconds (about 24.8 days, the longest a timer can wait), got ${rest[i]}`);
        return 2;
      }
    } else if (a.startsWith("--")) { console.error(`unknown option ${a}`); return 2; }
    else paths.push(a);
  }
  if (mode === "check") process.env.CNN_QUICK ??= "1";
  const all: string[] = [];
  for (const path of listNotebooks(paths)) {
    try {
      all.push(...(await processNotebook(path, mode, { leakCheck, keepIgnored, timeoutS })));
    } catch (e) {
      if (e instanceof KernelStartError) { console.error(`error: ${e.message}`); return 1; } // the same for every notebook
      all.push(`✗ ${path}: ${(e as Error).message}`);
    }
  }
  if (all.length) {
    console.error(`\n${all.join("\n\n")}\n`);
    console.error(mode === "update" ? "outputs not updated for the failing notebooks" : `notebook check failed (${all.length} problem${all.length > 1 ? "s" : ""})`);
    return 1;
  }
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e) => { console.error(e); process.exit(1); });
}
