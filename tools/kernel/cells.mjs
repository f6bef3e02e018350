// Runs cells: tslab's TypeScript converter (type-check + transpile against the declarations of earlier cells) and
// our own executor around it, replacing tslab 1.0.22's executor.js for three reasons (issue 20):
// - an interrupted cell keeps the declarations it reached (tslab dropped the whole cell's: "Cannot find name 'w'");
// - an interrupt of asynchronous code does not end the cell while the code goes on (tslab raced the cell's promise
//   against "Interrupted asynchronously" and reported the cell done): the cell's AbortSignal is aborted instead, and
//   the cell ends when its code does;
// - a runtime error is shown as its message and the cell's line, without Node's source arrow and library frames.
// The module-cell (`//%module`) and `require("tslab")` handling follows tslab's executor.js (Apache-2.0).
import { createRequire } from "node:module";
import Module from "node:module";
import { dirname, extname, join } from "node:path";
import vm from "node:vm";

const require = createRequire(import.meta.url);
const TSLAB = dirname(require.resolve("tslab/package.json"));
const { createConverter } = require(join(TSLAB, "dist", "converter.js"));
const { getCodeMetadata } = require(join(TSLAB, "dist", "metadata.js"));
const ts = require(require.resolve("@tslab/typescript-for-tslab", { paths: [TSLAB] }));

/** Thrown into a cell's TF.js ops by a second interrupt (see Cells.interrupt). */
export class Interrupted extends Error {
  constructor() {
    super("Interrupted (the kernel stopped the cell at a TF.js operation)");
    this.name = "Interrupted";
  }
}

/** `require` for cells: resolves from the notebook's folder, hooks "tslab" and the module cells' outputs. */
function cellRequire(base, dir, sideOutputs, sideModules) {
  const fromSide = (id) => {
    let file = join(dir, id);
    if (extname(file) === "") file += ".js";
    const cached = sideModules.get(file);
    if (cached) return cached.exports;
    if (!sideOutputs.has(file)) return null;
    const mod = new Module(file);
    mod.filename = file;
    mod.paths = Module._nodeModulePaths(dirname(file));
    mod.require = cellRequire(mod.require.bind(mod), dirname(file), sideOutputs, sideModules);
    mod._compile(sideOutputs.get(file), file);
    sideModules.set(file, mod);
    return mod.exports;
  };
  return new Proxy(base, {
    apply: (_t, self, args) => {
      if (args.length !== 1) return base.apply(self, args);
      if (args[0] === "tslab") return require(TSLAB);
      return fromSide(args[0]) ?? base.apply(self, args);
    },
  });
}

/** The top-level names a declaration statement of the .d.ts text declares (none for types and interfaces). */
function valueNames(stmt) {
  if (ts.isVariableStatement(stmt)) return stmt.declarationList.declarations.flatMap((d) => bindingNames(d.name));
  if (ts.isFunctionDeclaration(stmt) || ts.isClassDeclaration(stmt) || ts.isEnumDeclaration(stmt)) return stmt.name ? [stmt.name.text] : [];
  return [];
}
function bindingNames(name) {
  if (ts.isIdentifier(name)) return [name.text];
  return name.elements.flatMap((e) => (ts.isOmittedExpression(e) ? [] : bindingNames(e.name)));
}

const squash = (s) => s.replace(/\s+/g, "").replace(/\bexports\./g, "").replace(/;+$/, "");

/**
 * The cell's source line that compiled to JS line `jsLine` (1-based): the emitted JS keeps each statement's text
 * minus its types, so the line is found by its text (or, failing that, the expression at the error's column).
 * Undefined when no single source line matches: then no line is claimed.
 */
export function sourceLine(src, js, jsLine, column = 1) {
  const line = js.split("\n")[jsLine - 1];
  if (line === undefined) return undefined;
  const srcLines = src.split("\n").map(squash);
  const keys = [squash(line), squash(line.slice(column - 1))];
  const call = /^[\w$.]+\(/.exec(keys[1]);
  if (call) keys.push(call[0]);
  for (const key of keys) {
    if (key.length < 3) continue;
    let hits = srcLines.flatMap((s, i) => (s === key ? [i] : []));
    if (hits.length === 0) hits = srcLines.flatMap((s, i) => (s.includes(key) ? [i] : []));
    if (hits.length === 1) return { line: hits[0] + 1, text: src.split("\n")[hits[0]].trim() };
  }
  return undefined;
}

export class Cells {
  /** @param {{ stderr: (s: string) => void, stdout: (s: string) => void }} out where the cells' reports go */
  constructor(out, rootDir = process.cwd()) {
    this.out = out;
    this.convs = { node: createConverter({ isJS: false, isBrowser: false }), browser: undefined };
    this.prevDecl = "";
    this.count = 0;
    /** Each cell's source and emitted JS, by its file name in stack traces (runtime errors map back to them). */
    this.ran = new Map();
    this.sideOutputs = new Map();
    this.sideModules = new Map();
    const values = {};
    this.exports = values;
    // TypeScript's CommonJS emit defines named imports with defineProperty; store them as plain values so that a
    // later cell can redeclare them (as tslab does).
    const exportsProxy = new Proxy(values, {
      defineProperty: (_t, prop, attrs) => {
        if (prop !== "__esModule") values[prop] = attrs.get ? attrs.get() : attrs.value;
        return true;
      },
    });
    const req = cellRequire(Module.createRequire(join(rootDir, "src.js")), rootDir, this.sideOutputs, this.sideModules);
    vm.runInThisContext("(x) => { globalThis.__tslab__ = x; }")({ exports: exportsProxy, require: req });
    /** The running cell's interrupt state, or undefined between cells. */
    this.running = undefined;
  }

  browserConverter() {
    return (this.convs.browser ??= createConverter({ isJS: false, isBrowser: true }));
  }

  printDiagnostics(diags) {
    for (const d of diags) this.out.stderr(`${d.fileName ? `${d.fileName} ` : ""}${d.start.line + 1}:${d.start.character + 1} - ${d.messageText}\n`);
  }

  /**
   * Runs one cell to its end. Resolves "ok", "error" or "interrupted"; never rejects.
   * @param {string} src
   * @param {AbortController} controller aborted by the first interrupt (the library's train() listens)
   */
  async execute(src, controller) {
    const meta = getCodeMetadata(src);
    if (meta.module) {
      const conv = meta.mode === "browser" ? this.browserConverter() : this.convs.node;
      this.printDiagnostics(conv.addModule(meta.module, src, meta));
      return "ok";
    }
    if (meta.mode === "browser") return "ok";
    let conv;
    try {
      conv = this.convs.node.convert(this.prevDecl, src);
    } catch (e) {
      this.out.stderr(`the TypeScript converter failed on this cell: ${this.formatError(e)}`);
      return "error";
    }
    for (const o of conv.sideOutputs ?? []) {
      this.sideModules.delete(o.path);
      this.sideOutputs.set(o.path, o.data);
    }
    if (conv.diagnostics.length > 0) {
      this.printDiagnostics(conv.diagnostics);
      return "error";
    }
    if (!conv.output) {
      this.prevDecl = conv.declOutput || "";
      return "ok";
    }
    const file = `cell-${++this.count}.js`;
    this.ran.set(file, { src, js: conv.output, count: this.count });
    if (this.ran.size > 500) this.ran.delete(this.ran.keys().next().value);
    this.running = { controller, interrupts: 0 };
    const prefix = conv.hasToplevelAwait ? "(async function(exports, require) { " : "(function(exports, require) { ";
    try {
      // breakOnSigint: a SIGINT while this synchronous part runs terminates it (the only way to stop a busy loop);
      // displayErrors off: no "file:line / source / ^" banner in front of an error.
      const ret = vm.runInThisContext(`${prefix}${conv.output}\n})(__tslab__.exports, __tslab__.require)`, {
        filename: file, breakOnSigint: true, displayErrors: false,
      });
      if (conv.hasToplevelAwait) await ret;
    } catch (e) {
      // Like Python's kernel, what the cell assigned before it stopped stays (tslab dropped the whole cell's names).
      this.keepReachedDeclarations(conv.declOutput || "");
      if (isTermination(e) || e instanceof Interrupted || (controller.signal.aborted && isAbortLike(e))) return "interrupted";
      this.out.stderr(this.formatError(e));
      return "error";
    } finally {
      this.running = undefined;
    }
    this.prevDecl = conv.declOutput || "";
    const last = conv.lastExpressionVar;
    if (last && this.exports[last] != null) {
      const v = this.exports[last];
      delete this.exports[last];
      console.log(v);
    }
    return "ok";
  }

  /**
   * After an interrupt: the cell's declarations whose value was assigned before it stopped stay declared (types,
   * interfaces and functions too); the others are dropped, so a later cell using them gets a type error rather than
   * `undefined` at run time.
   */
  keepReachedDeclarations(declOutput) {
    const file = ts.createSourceFile("decl.d.ts", declOutput, ts.ScriptTarget.Latest, true);
    const kept = file.statements.filter((s) => {
      const names = valueNames(s);
      return names.length === 0 || names.every((n) => this.exports[n] !== undefined);
    });
    this.prevDecl = kept.map((s) => s.getFullText(file)).join("");
  }

  /** "Error: message", the cell's line that raised it, then the frames outside node_modules and Node itself. */
  formatError(e) {
    if (!(e instanceof Error)) return `Uncaught ${typeof e === "string" ? JSON.stringify(e) : String(e)}\n`;
    const head = `${e.name}: ${e.message}`;
    const frames = String(e.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l));
    const lines = [head];
    // The cells' frames first, mapped to their source lines (the innermost is where it was raised).
    let unmapped;
    for (const f of frames) {
      const m = /(cell-\d+\.js):(\d+):(\d+)/.exec(f);
      const cell = m && this.ran.get(m[1]);
      if (!cell || lines.length > 4) continue;
      const at = sourceLine(cell.src, cell.js, Number(m[2]), Number(m[3]));
      const where = cell.count === this.count ? "this cell" : `cell ${cell.count} of this kernel`;
      if (at) lines.push(`    at ${where}, line ${at.line}: ${at.text}`);
      else unmapped ??= `    in ${where}`; // the cell's wrapper, or a line whose text is not unique
    }
    if (lines.length === 1 && unmapped) lines.push(unmapped);
    // Frames of the project's own code (lib/dist) stay; TF.js, Node and this kernel are hidden.
    const hide = (f) => /node_modules|node:|\(native\)|<anonymous>|[\\/]tools[\\/]kernel[\\/]/.test(f);
    lines.push(...frames.filter((f) => !hide(f) && !/cell-\d+\.js/.test(f)).slice(0, 4));
    const hidden = frames.filter(hide).length;
    if (hidden > 0) lines.push(`    (${hidden} frame(s) in libraries, Node and the kernel hidden)`);
    return `${lines.join("\n")}\n`;
  }

  inspect(src, pos) {
    const conv = getCodeMetadata(src).mode === "browser" ? this.browserConverter() : this.convs.node;
    return conv.inspect(this.prevDecl, src, pos);
  }

  complete(src, pos) {
    const conv = getCodeMetadata(src).mode === "browser" ? this.browserConverter() : this.convs.node;
    return conv.complete(this.prevDecl, src, pos);
  }

  /**
   * An interrupt while the cell awaits (a synchronous part is stopped by the SIGINT itself): the first aborts the
   * cell's signal, which train() and trainEnsemble() obey after their current batch; a second makes the cell's next
   * TF.js operation throw, for loops that do not listen. The cell ends when its code does, never before.
   * Returns what it did, for the cell's output; undefined when no cell runs.
   */
  interrupt() {
    const r = this.running;
    if (!r) return undefined;
    if (++r.interrupts === 1) {
      r.controller.abort();
      return "Interrupt: stopping (train()/trainEnsemble() stop after the current batch; interrupt again to stop at the next TF.js operation)";
    }
    const engine = globalThis._tfengine;
    if (engine && !Object.hasOwn(engine, "runKernel")) {
      engine.runKernel = () => { throw new Interrupted(); };
    }
    return "Interrupt: the next TF.js operation throws";
  }

  /** Undoes a second interrupt's trap (called when the cell has ended). */
  static releaseTrap() {
    const engine = globalThis._tfengine;
    if (engine && Object.hasOwn(engine, "runKernel")) delete engine.runKernel;
  }

  close() {
    this.convs.node.close();
    this.convs.browser?.close();
  }
}

/** The error vm throws when breakOnSigint stopped the script. */
function isTermination(e) {
  return e instanceof Error && e.code === "ERR_SCRIPT_EXECUTION_INTERRUPTED";
}

function isAbortLike(e) {
  return e instanceof Error && (e.name === "AbortError" || e instanceof Interrupted);
}
