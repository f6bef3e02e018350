// nbformat 4 notebooks: read, and write back the way Jupyter does (1-space indent, multi-line strings as line lists).
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { writeFileAtomic } from "cnn-lab/dist/checkpoints/atomic-write";

export type MimeBundle = Record<string, string | string[]>;
export type Output =
  | { output_type: "stream"; name: string; text: string }
  | { output_type: "display_data"; data: MimeBundle; metadata: object }
  | { output_type: "execute_result"; data: MimeBundle; metadata: object; execution_count: number | null }
  | { output_type: "error"; ename: string; evalue: string; traceback: string[] };

export interface Cell {
  id: string;
  cell_type: "code" | "markdown" | "raw";
  source: string | string[];
  metadata: { tags?: string[]; nbrun?: { timeout?: number }; [k: string]: unknown };
  outputs?: Output[];
  execution_count?: number | null;
}

export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: { nbrun?: { leakCheck?: boolean }; [k: string]: unknown };
  cells: Cell[];
}

export const text = (s: string | string[] | undefined): string => (Array.isArray(s) ? s.join("") : s ?? "");
const lines = (s: string): string[] => s.split(/(?<=\n)/);

export function tags(cell: Cell): string[] {
  return cell.metadata?.tags ?? [];
}

/** The longest a cell may be given (metadata.nbrun.timeout or --timeout): 24 h; notebook 10's full schedule takes ~10. */
export const MAX_CELL_TIMEOUT_S = 24 * 3600;

/** Why `v` is not a cell timeout in seconds, or undefined when it is one. */
export function timeoutProblem(v: unknown, shown: string = JSON.stringify(v) ?? String(v)): string | undefined {
  const ok = typeof v === "number" && v > 0 && v <= MAX_CELL_TIMEOUT_S; // NaN and Infinity fail too
  if (!ok) return `expected a number of seconds > 0 and at most ${MAX_CELL_TIMEOUT_S} (24 h), got ${shown}`;
  return undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const isText = (v: unknown): v is string | string[] => typeof v === "string" || (Array.isArray(v) && v.every((s) => typeof s === "string"));
const shown = (v: unknown) => (JSON.stringify(v) ?? String(v)).slice(0, 80);
const OUTPUT_TYPES = ["stream", "display_data", "execute_result", "error"];

/** Why output `o` is not an nbformat 4 output, or undefined. */
function outputProblem(o: unknown): string | undefined {
  if (!isObject(o) || !OUTPUT_TYPES.includes(o.output_type as string)) return `expected an object with output_type ${OUTPUT_TYPES.join(" / ")}, got ${shown(isObject(o) ? o.output_type : o)}`;
  switch (o.output_type) {
    case "stream": return typeof o.name === "string" && isText(o.text) ? undefined : "a stream output needs a name and text (a string or a list of strings)";
    case "error": return typeof o.ename === "string" && typeof o.evalue === "string" ? undefined : "an error output needs ename and evalue strings";
    default: return isObject(o.data) && Object.values(o.data).every(isText) ? undefined : `a ${o.output_type} output needs data: { mime type: text }`;
  }
}

/** Why cell `c` is not a cell this runner can read (its metadata.nbrun.timeout included), or undefined. */
function cellProblem(c: unknown): string | undefined {
  if (!isObject(c)) return `expected an object with cell_type, source and metadata, got ${shown(c)}`;
  if (!["code", "markdown", "raw"].includes(c.cell_type as string)) return `expected cell_type code, markdown or raw, got ${shown(c.cell_type)}`;
  if (!isText(c.source)) return `expected source to be a string or a list of strings, got ${shown(c.source)}`;
  if (c.metadata !== undefined && !isObject(c.metadata)) return `expected metadata to be an object, got ${shown(c.metadata)}`;
  const m = (c.metadata ?? {}) as Record<string, unknown>;
  if (m.tags !== undefined && !(Array.isArray(m.tags) && m.tags.every((t) => typeof t === "string"))) return `expected metadata.tags to be a list of strings, got ${shown(m.tags)}`;
  if (m.nbrun !== undefined && !isObject(m.nbrun)) return `expected metadata.nbrun to be an object, got ${shown(m.nbrun)}`;
  if (isObject(m.nbrun) && m.nbrun.timeout !== undefined) {
    const why = timeoutProblem(m.nbrun.timeout);
    if (why) return `metadata.nbrun.timeout: ${why}`;
  }
  if (c.outputs !== undefined && !Array.isArray(c.outputs)) return `expected outputs to be a list, got ${shown(c.outputs)}`;
  for (const [j, o] of ((c.outputs ?? []) as unknown[]).entries()) {
    const why = outputProblem(o);
    if (why) return `output ${j + 1}: ${why}`;
  }
  return undefined;
}

/** A notebook, checked before any work: a malformed one is an error naming the file, the cell and what was expected. */
export function readNotebook(path: string): Notebook {
  let nb: Notebook;
  try {
    nb = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`${path}: not a readable notebook (${(e as Error).message})`);
  }
  if (!isObject(nb) || nb.nbformat !== 4 || !Array.isArray(nb.cells)) throw new Error(`${path}: expected nbformat 4 with a cells list`);
  if (nb.metadata === undefined) nb.metadata = {};
  if (!isObject(nb.metadata)) throw new Error(`${path}: expected metadata to be an object, got ${shown(nb.metadata)}`);
  const { nbrun } = nb.metadata as Record<string, unknown>;
  if (nbrun !== undefined && !(isObject(nbrun) && ["boolean", "undefined"].includes(typeof nbrun.leakCheck))) {
    throw new Error(`${path}: expected metadata.nbrun to be an object with an optional leakCheck true/false, got ${shown(nbrun)}`);
  }
  nb.cells.forEach((c, i) => {
    const why = cellProblem(c);
    if (why) throw new Error(`${path}: cell ${i + 1}: ${why}`);
    for (const o of c.outputs ?? []) {
      if (o.output_type === "stream") o.text = text(o.text as string | string[]);
    }
  });
  return nb;
}

/** Text-like mime data is stored as a list of lines; base64 images as one string, as Jupyter writes them. */
function storeBundle(data: MimeBundle): MimeBundle {
  const out: MimeBundle = {};
  for (const [mime, v] of Object.entries(data)) out[mime] = mime.startsWith("image/") && mime !== "image/svg+xml" ? text(v) : lines(text(v));
  return out;
}

export function writeNotebook(path: string, nb: Notebook): void {
  const cells = nb.cells.map((c) => {
    const cell: Cell = { ...c, id: c.id || randomBytes(4).toString("hex"), source: lines(text(c.source)) };
    if (c.cell_type === "code") {
      cell.outputs = (c.outputs ?? []).map((o) => {
        switch (o.output_type) {
          case "stream": return { ...o, text: lines(text(o.text as string | string[])) } as unknown as Output;
          case "display_data": case "execute_result": return { ...o, data: storeBundle(o.data) };
          default: return o;
        }
      });
    }
    return cell;
  });
  // Whole or not at all: a full disk must not leave the notebook as a truncated, invalid JSON file.
  writeFileAtomic(path, JSON.stringify({ ...nb, nbformat: 4, nbformat_minor: Math.max(nb.nbformat_minor, 5), cells }, null, 1) + "\n");
}
