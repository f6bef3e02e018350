// Notebook regression runner (npm runs it as `node --import tsx tools/jupyter/nbrun.ts …`).
//   nbrun.ts check  [notebooks…]   re-execute and compare with the stored outputs (exit 1 on any failure)
//   nbrun.ts update [notebooks…]   re-execute and store the new outputs
// Without paths: every notebooks/*.ipynb. Options: --no-leak-check (skip the leak check), --timeout S (per cell),
// --keep-ignored (update: cells tagged ignore-output keep their stored outputs, e.g. a full training run's, while
// the other cells, which check compares literally under any schedule, and new ignore-output cells take the new ones).
// check runs the full-CNN notebook's reduced training schedule (CNN_QUICK=1) unless CNN_QUICK is set;
// update runs what the environment says (the full 15 epochs by default), since stored outputs come from a full run.
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { HelpRequested, parseFlags, runCli, UsageError } from "../cli/cli";
import { compareOutputs } from "./compare";
import { CellRun, DEFAULT_CELL_TIMEOUT_S, runNotebook } from "./execute";
import { KernelStartError, PROJECT_ROOT } from "./kernel";
import { Notebook, readNotebook, tags, text, MAX_CELL_TIMEOUT_S, timeoutProblem, writeNotebook } from "./notebook";

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

async function processNotebook(path: string, nb: Notebook, mode: "check" | "update", { leakCheck, keepIgnored, timeoutS }: RunOptions): Promise<string[]> {
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

const USAGE = `usage: npm run test:notebooks -- [--no-leak-check] [--timeout S] [notebook.ipynb …]
       npm run notebooks:update -- [--keep-ignored] [--timeout S] [notebook.ipynb …]
  (node --import tsx tools/jupyter/nbrun.ts check|update …)   without notebooks: every notebooks/*.ipynb
  --no-leak-check  check: skip the leak check (tensors no variable holds, growth on a second run)
  --keep-ignored   update: ignore-output cells that have outputs keep them (a full training run's)
  --timeout S      per-cell timeout in seconds (default ${DEFAULT_CELL_TIMEOUT_S}, at most ${MAX_CELL_TIMEOUT_S} = 24 h; a
                   cell's metadata.nbrun.timeout, within the same bounds, wins)`;

async function main(argv: string[]): Promise<number> {
  const [mode, ...rest] = argv;
  if (mode === "--help" || mode === "-h") throw new HelpRequested();
  if (mode !== "check" && mode !== "update") throw new UsageError(`expected check or update, got ${mode === undefined ? "nothing" : `"${mode}"`}`);
  const { values, positionals: paths } = parseFlags(rest, {
    "no-leak-check": { type: "boolean" }, "keep-ignored": { type: "boolean" }, timeout: { type: "string" },
  }, true);
  const leakCheck = mode === "check" && !values["no-leak-check"];
  if (values["keep-ignored"] && mode !== "update") throw new UsageError("--keep-ignored applies to update only (check never writes outputs)");
  const keepIgnored = values["keep-ignored"] ?? false;
  let timeoutS: number | undefined;
  if (values.timeout !== undefined) {
    timeoutS = Number(values.timeout);
    const why = timeoutProblem(timeoutS, `"${values.timeout}"`);
    if (why) throw new UsageError(`--timeout: ${why} (default ${DEFAULT_CELL_TIMEOUT_S})`);
  }
  if (mode === "check") process.env.CNN_QUICK ??= "1";
  const notebooks = listNotebooks(paths).map((path) => ({ path, nb: readNotebook(path) })); // a malformed one fails before any run
  const all: string[] = [];
  for (const { path, nb } of notebooks) {
    try {
      all.push(...(await processNotebook(path, nb, mode, { leakCheck, keepIgnored, timeoutS })));
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

if (require.main === module) runCli(main, USAGE, { exit: true });
