// Kernel > Interrupt for the library's long calls (train, trainEnsemble). The project's kernel (tools/kernel/main.mjs)
// publishes the running cell's AbortSignal under a global symbol and aborts it when the learner interrupts; a call
// given no `signal` of its own obeys it: it stops after the current batch, keeps the last complete checkpoint, says
// where it stopped, ends its worker threads, and only then returns, so the cell ends when training has stopped.
// Outside the kernel (the CLI, tests) there is no cell signal; the CLI passes its own Ctrl-C signal (stopOnCtrlC).

const CELL_SIGNAL = Symbol.for("cnn-basics-ts.cellSignal");

/** The running notebook cell's interrupt signal, or undefined outside the project's kernel. */
export function cellInterruptSignal(): AbortSignal | undefined {
  const s = (globalThis as Record<symbol, unknown>)[CELL_SIGNAL];
  return s instanceof AbortSignal ? s : undefined;
}

/** The line a call stopped by the cell's interrupt prints: where it stopped and what is kept. */
export function interruptedMessage(where: string, kept: string | undefined): string {
  return `Interrupted: ${where}. ${kept ?? "No epoch completed: no checkpoint was written."}`;
}
