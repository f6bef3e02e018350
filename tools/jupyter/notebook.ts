// nbformat 4 notebooks: read, and write back the way Jupyter does (1-space indent, multi-line strings as line lists).
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { writeFileAtomic } from "cnn-lab/dist/atomic-write";

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

export function readNotebook(path: string): Notebook {
  let nb: Notebook;
  try {
    nb = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`${path}: not a readable notebook (${(e as Error).message})`);
  }
  if (nb.nbformat !== 4 || !Array.isArray(nb.cells)) throw new Error(`${path}: expected nbformat 4 with a cells list`);
  for (const c of nb.cells) {
    for (const o of c.outputs ?? []) {
      if (o.output_type === "stream") o.text = text(o.text as string | string[]);
    }
  }
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
