// Executes a notebook cell by cell in the real tslab kernel, started in the notebook's folder.
// Cell tags: "skip-execution" (not run, stored outputs kept), "raises-exception" (must fail),
// "ignore-output" (run, outputs not compared). metadata.nbrun.timeout sets a cell's timeout in seconds.
import { dirname, join, resolve } from "node:path";
import { CellOutputTooLarge, CellTimeout, ExecuteResult, Kernel, KernelDied, PROJECT_ROOT } from "./kernel";
import { Cell, Notebook, Output, tags, text } from "./notebook";

export const DEFAULT_CELL_TIMEOUT_S = 120;

export interface CellRun {
  index: number; // position among all cells, 0-based
  cell: Cell;
  result?: ExecuteResult;
  /** Why the run failed regardless of stored outputs: an error, a timeout, a dead kernel. */
  failure?: string;
}

export interface RunOptions {
  /**
   * After the run, fail if a live tensor is held by no top-level variable (the learner cannot dispose it); then run
   * every cell again and fail if tf.memory().numTensors grew or such a tensor exists (tf.keep outlives setupBackend).
   */
  leakCheck?: boolean;
  /** Before each code cell of the first run (index among all cells): progress for long runs. */
  onStart?: (index: number) => void;
  onCell?: (run: CellRun) => void;
}

export interface NotebookRun {
  cells: CellRun[];
  /** Failures not tied to one cell (the re-run leak check). */
  failures: string[];
  kernelLog: string;
}

// In a block: the probe adds no top-level variable. tslab keeps the notebook's variables in __tslab__.exports.
const PROBE = `{
  const { unheldTensors } = require(${JSON.stringify(join(PROJECT_ROOT, "lib", "dist", "engine", "leaks.js"))});
  console.log(JSON.stringify(unheldTensors(Object.values((globalThis as any).__tslab__.exports))));
}`;
interface Probe { live: number; unheld: number; shapes: string[] }

async function runCell(kernel: Kernel, index: number, cell: Cell): Promise<CellRun> {
  const t = tags(cell);
  const timeoutS = cell.metadata?.nbrun?.timeout ?? DEFAULT_CELL_TIMEOUT_S;
  try {
    const result = await kernel.execute(text(cell.source), timeoutS * 1000);
    let failure: string | undefined;
    if (result.status !== "ok" && !t.includes("raises-exception")) failure = `cell raised an error (status ${result.status})`;
    if (result.status === "ok" && t.includes("raises-exception")) failure = "cell is tagged raises-exception but ran without error";
    return { index, cell, result, failure };
  } catch (e) {
    if (e instanceof CellTimeout || e instanceof KernelDied || e instanceof CellOutputTooLarge) return { index, cell, failure: e.message };
    throw e;
  }
}

async function probe(kernel: Kernel): Promise<Probe> {
  const r = await kernel.execute(PROBE, 30_000);
  const out = r.outputs.find((o): o is Extract<Output, { output_type: "stream" }> => o.output_type === "stream" && o.name === "stdout");
  try {
    if (r.status !== "ok") throw new Error();
    return JSON.parse(out?.text ?? "") as Probe;
  } catch {
    throw new Error(`could not count the kernel's tensors: ${r.stderr}`);
  }
}

function unheld(p: Probe, when: string): string | undefined {
  if (!p.unheld) return undefined;
  const listed = p.shapes.length ? `: ${p.shapes.slice(0, 8).join(", ")}${p.shapes.length > 8 ? ", …" : ""}` : "";
  return `${when}, ${p.unheld} tensor(s) are alive that no notebook variable holds${listed}: they leak (made outside tf.tidy and not disposed, or saved by tf.keep)`;
}

export async function runNotebook(path: string, nb: Notebook, opts: RunOptions = {}): Promise<NotebookRun> {
  const kernel = await Kernel.start(dirname(resolve(path)));
  const runs: CellRun[] = [];
  const failures: string[] = [];
  try {
    const code = nb.cells.map((cell, index) => ({ cell, index })).filter(({ cell }) => cell.cell_type === "code" && !tags(cell).includes("skip-execution"));
    for (const { cell, index } of code) {
      opts.onStart?.(index);
      const run = await runCell(kernel, index, cell);
      runs.push(run);
      opts.onCell?.(run);
      if (run.failure) return { cells: runs, failures, kernelLog: kernel.log };
    }
    if (opts.leakCheck && code.length) {
      const first = await probe(kernel);
      const afterRun = unheld(first, "after the run");
      if (afterRun) {
        failures.push(afterRun);
        return { cells: runs, failures, kernelLog: kernel.log };
      }
      for (const { cell, index } of code) {
        const run = await runCell(kernel, index, cell);
        if (run.failure) {
          failures.push(`re-running the notebook failed at cell ${index + 1}: ${run.failure}\n${run.result?.stderr ?? ""}`);
          return { cells: runs, failures, kernelLog: kernel.log };
        }
      }
      const second = await probe(kernel);
      if (second.live > first.live) {
        failures.push(`re-running the notebook grew tf.memory().numTensors from ${first.live} to ${second.live}: tensors leak (use tf.tidy/dispose)`);
      }
      const afterRerun = unheld(second, "after re-running the notebook");
      if (afterRerun) failures.push(afterRerun);
    }
    return { cells: runs, failures, kernelLog: kernel.log };
  } finally {
    await kernel.shutdown();
  }
}
