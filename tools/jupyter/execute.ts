// Executes a notebook cell by cell in the real tslab kernel, started in the notebook's folder.
// Cell tags: "skip-execution" (not run, stored outputs kept), "raises-exception" (must fail),
// "ignore-output" (run, outputs not compared). metadata.nbrun.timeout sets a cell's timeout in seconds.
import { dirname, resolve } from "node:path";
import { CellTimeout, ExecuteResult, Kernel, KernelDied } from "./kernel";
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
  /** After the run, run every cell again and fail if tf.memory().numTensors grew. */
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

const NUM_TENSORS = `import * as nbrunTf from "@tensorflow/tfjs";\nnbrunTf.memory().numTensors`;

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
    if (e instanceof CellTimeout || e instanceof KernelDied) return { index, cell, failure: e.message };
    throw e;
  }
}

async function numTensors(kernel: Kernel): Promise<number> {
  const r = await kernel.execute(NUM_TENSORS, 30_000);
  const out = r.outputs.find((o): o is Extract<Output, { output_type: "stream" }> => o.output_type === "stream" && o.name === "stdout");
  const n = Number(out?.text.trim());
  if (r.status !== "ok" || !Number.isFinite(n)) throw new Error(`could not read tf.memory().numTensors: ${r.stderr}`);
  return n;
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
      const before = await numTensors(kernel);
      for (const { cell, index } of code) {
        const run = await runCell(kernel, index, cell);
        if (run.failure) {
          failures.push(`re-running the notebook failed at cell ${index + 1}: ${run.failure}\n${run.result?.stderr ?? ""}`);
          break;
        }
      }
      const after = await numTensors(kernel);
      if (!failures.length && after > before) {
        failures.push(`re-running the notebook grew tf.memory().numTensors from ${before} to ${after}: tensors leak (use tf.tidy/dispose)`);
      }
    }
    return { cells: runs, failures, kernelLog: kernel.log };
  } finally {
    await kernel.shutdown();
  }
}
