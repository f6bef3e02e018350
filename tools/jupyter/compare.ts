// Compares a cell's new outputs with its stored ones.
// Text is compared exactly after these sanitizers (and only these), each for output that legitimately varies:
//   1. durations        "812 ms", "1.5s", "3 min"            -> "<time>"
//   2. memory addresses  "0x7f3a2c001234"                     -> "0x<addr>"
//   3. stack frames      "    at foo (/path/x.js:1:2)" lines  -> dropped (paths and line numbers differ by machine)
//   4. the project folder's absolute path                    -> "<project>"
//   5. the backend line  "backend: wasm (...)"                -> "backend: <backend>" (depends on what installed)
// Images (image/png) are compared decoded: same width and height, and a mean absolute difference of at most
// IMAGE_MEAN_TOLERANCE per channel (0..255), so font rasterisation and float rounding do not fail a run.
import { Image, createCanvas } from "@napi-rs/canvas";
import type { MimeBundle, Output } from "./notebook";
import { text } from "./notebook";

export const IMAGE_MEAN_TOLERANCE = 2;

export function sanitize(s: string, projectRoot: string): string {
  return s
    .split(projectRoot).join("<project>")
    .replace(/^\s+at .*\n?/gm, "")
    .replace(/\b\d+(\.\d+)?\s?(ms|µs|us|s|sec|secs|seconds|min|minutes)\b/g, "<time>")
    .replace(/0x[0-9a-fA-F]{6,}/g, "0x<addr>")
    .replace(/^backend: .*$/gm, "backend: <backend>");
}

/** A PNG (bytes, or base64 as notebooks store it) as RGBA pixels. */
export function decodePng(png: string | Buffer): { width: number; height: number; pixels: Uint8ClampedArray } {
  const img = new Image();
  img.src = typeof png === "string" ? Buffer.from(png, "base64") : png;
  const canvas = createCanvas(img.width, img.height);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0);
  return { width: img.width, height: img.height, pixels: ctx.getImageData(0, 0, img.width, img.height).data };
}

/** Why two PNGs differ, or undefined when they match within tolerance. */
export function compareImages(expected: string, actual: string): string | undefined {
  const a = decodePng(expected);
  const b = decodePng(actual);
  if (a.width !== b.width || a.height !== b.height) {
    return `image size changed: expected ${a.width}x${a.height}, got ${b.width}x${b.height}`;
  }
  let sum = 0;
  for (let i = 0; i < a.pixels.length; i++) sum += Math.abs(a.pixels[i] - b.pixels[i]);
  const mean = sum / a.pixels.length;
  return mean > IMAGE_MEAN_TOLERANCE
    ? `image pixels changed: mean absolute difference ${mean.toFixed(2)} > ${IMAGE_MEAN_TOLERANCE} (of 255)`
    : undefined;
}

/** The LCS table's size limit (lines × lines of the part that differs): 4M cells of 4 bytes, 16 MB. */
export const MAX_LCS_CELLS = 4_000_000;
/** Changed lines shown at most; the rest are counted. */
export const MAX_DIFF_LINES = 200;
/** Equal lines shown around a change; longer equal runs are summarised. */
const CONTEXT = 3;

type Op = [" " | "-" | "+", string];

/** A shortest edit of a into b by their longest common subsequence; memory a.length × b.length (kept within MAX_LCS_CELLS). */
function lcsOps(a: string[], b: string[]): Op[] {
  const w = b.length + 1;
  const lcs = new Uint32Array((a.length + 1) * w);
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i * w + j] = a[i] === b[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) { ops.push([" ", a[i++]]); j++; }
    else if (i < a.length && (j === b.length || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1])) ops.push(["-", a[i++]]);
    else ops.push(["+", b[j++]]);
  }
  return ops;
}

/** Too large for an LCS table: line i of a against line i of b, which still shows the first lines that differ. */
function pairedOps(a: string[], b: string[]): Op[] {
  const ops: Op[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < a.length && i < b.length && a[i] === b[i]) { ops.push([" ", a[i]]); continue; }
    if (i < a.length) ops.push(["-", a[i]]);
    if (i < b.length) ops.push(["+", b[i]]);
  }
  return ops;
}

/**
 * A readable line diff, "-" for stored lines, "+" for new ones, a few equal lines of context around each change.
 * Bounded: the equal head and tail are set aside first, the LCS table is used only up to MAX_LCS_CELLS (a pairing
 * by position beyond: 10,000 changed lines took 901 MB as a full table), and at most MAX_DIFF_LINES changed lines
 * are listed.
 */
export function lineDiff(expected: string, actual: string): string {
  const a = expected.split("\n");
  const b = actual.split("\n");
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const x = a.slice(head, a.length - tail);
  const y = b.slice(head, b.length - tail);
  const middle = (x.length + 1) * (y.length + 1) <= MAX_LCS_CELLS ? lcsOps(x, y) : pairedOps(x, y);
  const ops: Op[] = [...a.slice(0, head).map((l): Op => [" ", l]), ...middle, ...a.slice(a.length - tail).map((l): Op => [" ", l])];
  const out: string[] = [];
  let changed = 0;
  for (let k = 0; k < ops.length; ) {
    if (ops[k][0] !== " ") {
      if (++changed > MAX_DIFF_LINES) {
        const rest = ops.slice(k).filter((o) => o[0] !== " ").length;
        out.push(`… and ${rest} more changed lines (stored: ${a.length} lines, new: ${b.length} lines)`);
        break;
      }
      out.push(`${ops[k][0]} ${ops[k][1]}`);
      k++;
      continue;
    }
    let end = k;
    while (end < ops.length && ops[end][0] === " ") end++;
    const before = k === 0 ? 0 : CONTEXT; // context after the previous change
    const after = end === ops.length ? 0 : CONTEXT; // context before the next one
    if (end - k > before + after + 1) {
      for (let i = k; i < k + before; i++) out.push(`  ${ops[i][1]}`);
      out.push(`  … ${end - k - before - after} equal lines …`);
      for (let i = end - after; i < end; i++) out.push(`  ${ops[i][1]}`);
    } else {
      for (let i = k; i < end; i++) out.push(`  ${ops[i][1]}`);
    }
    k = end;
  }
  return out.join("\n");
}

/** At most MAX_DIFF_LINES lines of `s`, the rest counted. */
function firstLines(s: string): string {
  const lines = s.split("\n");
  return lines.length <= MAX_DIFF_LINES ? s : `${lines.slice(0, MAX_DIFF_LINES).join("\n")}\n… and ${lines.length - MAX_DIFF_LINES} more lines`;
}

function describe(o: Output): string {
  return o.output_type === "stream" ? `${o.name} text` : o.output_type === "error" ? "error" : `${o.output_type} [${Object.keys(o.data).join(", ")}]`;
}

function compareBundles(e: MimeBundle, a: MimeBundle, root: string): string | undefined {
  const ek = Object.keys(e).sort().join(", ");
  const ak = Object.keys(a).sort().join(", ");
  if (ek !== ak) return `display types changed: expected [${ek}], got [${ak}]`;
  for (const mime of Object.keys(e)) {
    if (mime === "image/png") {
      const why = compareImages(text(e[mime]), text(a[mime]));
      if (why) return why;
    } else {
      const x = sanitize(text(e[mime]), root);
      const y = sanitize(text(a[mime]), root);
      if (x !== y) return `${mime} changed:\n${lineDiff(x, y)}`;
    }
  }
  return undefined;
}

/** Differences between stored and new outputs of one cell, as readable messages (empty when they match). */
export function compareOutputs(expected: Output[], actual: Output[], root: string): string[] {
  const problems: string[] = [];
  const n = Math.max(expected.length, actual.length);
  for (let i = 0; i < n; i++) {
    const e = expected[i];
    const a = actual[i];
    if (!e || !a) {
      problems.push(e ? `output ${i + 1} (${describe(e)}) is missing` : `unexpected new output ${i + 1} (${describe(a)}):\n${a.output_type === "stream" ? firstLines(a.text) : ""}`);
      continue;
    }
    if (describe(e) !== describe(a)) {
      problems.push(`output ${i + 1}: expected ${describe(e)}, got ${describe(a)}`);
      continue;
    }
    if (e.output_type === "stream" && a.output_type === "stream") {
      const x = sanitize(e.text, root);
      const y = sanitize(a.text, root);
      if (x !== y) problems.push(`output ${i + 1} (${e.name}) changed:\n${lineDiff(x, y)}`);
    } else if (e.output_type === "error" && a.output_type === "error") {
      if (e.ename !== a.ename || sanitize(e.evalue, root) !== sanitize(a.evalue, root)) problems.push(`error changed: expected ${e.ename}: ${e.evalue}, got ${a.ename}: ${a.evalue}`);
    } else if ("data" in e && "data" in a) {
      const why = compareBundles(e.data, a.data, root);
      if (why) problems.push(`output ${i + 1}: ${why}`);
    }
  }
  return problems;
}

/** Joins consecutive stream outputs of the same name, as the runner stores them (a front end may keep them apart). */
export function coalesce(outputs: Output[]): Output[] {
  const out: Output[] = [];
  for (const o of outputs) {
    const last = out[out.length - 1];
    if (o.output_type === "stream" && last?.output_type === "stream" && last.name === o.name) last.text += o.text;
    else out.push({ ...o });
  }
  return out;
}
