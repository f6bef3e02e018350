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

/** How many scopes are open now: the depth to unwind back to after the next cell (see unwindTfjsEngine). */
export function openScopes(engine = globalThis._tfengine) {
  return Array.isArray(engine?.state?.scopeStack) ? engine.state.scopeStack.length : 0;
}

/**
 * Unwinds the engine if TF.js is loaded; returns what it found unbalanced (empty: nothing was). Only the scopes the
 * interrupted cell opened are ended (`keepScopes`: those open before it, see openScopes): the notebook's own scope
 * (setupBackend's freshTensorScope, open across cells) holds the tensors of earlier cells, the training data among
 * them, and ending it would dispose them.
 */
export function unwindTfjsEngine(engine = globalThis._tfengine, keepScopes = 0) {
  const state = engine?.state;
  if (!state || !Array.isArray(state.scopeStack)) return [];
  const found = [];
  if (state.kernelDepth) found.push(`kernelDepth ${state.kernelDepth}`);
  if (state.gradientDepth) found.push(`gradientDepth ${state.gradientDepth}`);
  if (state.scopeStack.length > keepScopes) found.push(`${state.scopeStack.length - keepScopes} open scope(s)`);
  state.kernelDepth = 0;
  state.gradientDepth = 0;
  // The tape's saved tensors are kept (never tracked by a scope): dispose them as gradients() would have.
  for (const node of state.activeTape ?? []) for (const t of node.saved ?? []) t.dispose();
  state.activeTape = null;
  state.numDataMovesStack = [];
  // End the open scopes innermost first, as the interrupted tidy() calls would have: their intermediate tensors
  // are disposed (a tidy that never returned has no result to keep).
  while (state.scopeStack.length > keepScopes) {
    try {
      engine.endScope(undefined);
    } catch {
      state.scopeStack.pop(); // a scope with a half-made tensor: drop it rather than stay stuck
    }
  }
  state.activeScope = state.scopeStack[state.scopeStack.length - 1] ?? null;
  return found;
}
