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

/** A readable line diff (LCS), "-" for stored lines, "+" for new ones. */
export function lineDiff(expected: string, actual: string): string {
  const a = expected.split("\n");
  const b = actual.split("\n");
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) { out.push(`  ${a[i]}`); i++; j++; }
    else if (i < a.length && (j === b.length || lcs[i + 1][j] >= lcs[i][j + 1])) out.push(`- ${a[i++]}`);
    else out.push(`+ ${b[j++]}`);
  }
  return out.join("\n");
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
      problems.push(e ? `output ${i + 1} (${describe(e)}) is missing` : `unexpected new output ${i + 1} (${describe(a)}):\n${a.output_type === "stream" ? a.text : ""}`);
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
