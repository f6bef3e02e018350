// After an interrupted cell, put TF.js's engine back to "no op running". An interrupt of synchronous code is V8's
// TerminateExecution: it unwinds the stack WITHOUT running catch/finally blocks, so the engine's own clean-up
// (scopedRun's end(), tidy's endScope) never runs. Left behind (tfjs-core 4.22 engine.ts):
// - state.kernelDepth > 0: isTapeOn() is then false, no op is recorded for gradients, and every later
//   variableGrads / optimizer.minimize fails with "Cannot find a connection between any variable and the result
//   of the loss function" (issue 20);
// - state.gradientDepth > 0 and state.activeTape: the next gradient would not start a fresh tape;
// - state.scopeStack / activeScope: tidy scopes never ended, so later tensors are tracked by a dead scope;
// - state.numDataMovesStack: a kernel's leak-check counter never popped.
// The engine is TF.js's process-wide singleton (globalThis._tfengine), so this needs no import of TF.js.

/** Unwinds the engine if TF.js is loaded; returns what it found unbalanced (empty: nothing was). */
export function unwindTfjsEngine(engine = globalThis._tfengine) {
  const state = engine?.state;
  if (!state || !Array.isArray(state.scopeStack)) return [];
  const found = [];
  if (state.kernelDepth) found.push(`kernelDepth ${state.kernelDepth}`);
  if (state.gradientDepth) found.push(`gradientDepth ${state.gradientDepth}`);
  if (state.scopeStack.length) found.push(`${state.scopeStack.length} open scope(s)`);
  state.kernelDepth = 0;
  state.gradientDepth = 0;
  // The tape's saved tensors are kept (never tracked by a scope): dispose them as gradients() would have.
  for (const node of state.activeTape ?? []) for (const t of node.saved ?? []) t.dispose();
  state.activeTape = null;
  state.numDataMovesStack = [];
  // End the open scopes innermost first, as the interrupted tidy() calls would have: their intermediate tensors
  // are disposed (a tidy that never returned has no result to keep).
  while (state.scopeStack.length > 0) {
    try {
      engine.endScope(undefined);
    } catch {
      state.scopeStack.pop(); // a scope with a half-made tensor: drop it rather than stay stuck
      state.activeScope = state.scopeStack[state.scopeStack.length - 1] ?? null;
    }
  }
  state.activeScope = null;
  return found;
}
