// matplotlib's imshow and subplot grid, drawn with @napi-rs/canvas into a PNG. In tslab the
// figure shows inline (like %matplotlib inline); from a plain script it is written to a file.
import * as tf from "@tensorflow/tfjs";
import type { SKRSContext2D } from "@napi-rs/canvas";
import { checkCmap, grayLevel, type Cmap } from "./colormap";
import { Figure, finish, whiteCanvas, type ShowOptions } from "./figure";
import { font } from "./font";

/** A 2-D image: a rank-2 tensor or rows of numbers. */
export type Image2D = tf.Tensor | number[][];

export interface ImageOptions {
  /** "gray" (low = black) or "Greys" (low = white); matplotlib's names. Default "gray". */
  cmap?: Cmap;
  /** Value drawn as the low end of the colormap; default the image's minimum. */
  vmin?: number;
  /** Value drawn as the high end; default the image's maximum. */
  vmax?: number;
  /** Write each value into its cell (for small matrices such as feature maps). */
  annotate?: boolean;
}

export interface ImshowOptions extends ImageOptions, ShowOptions {
  title?: string;
  /** Pixels of the image's longer side (cells stay square, whole pixels); default 240. */
  size?: number;
}

export interface SubplotsOptions extends ImageOptions, ShowOptions {
  /** One title per image. */
  titles?: string[];
  /** A title over the whole grid. */
  title?: string;
  /** Images per row; default all in one row, like the lecture's plt.subplot(1, n, i + 1). */
  cols?: number;
  /** Pixels of each image's longer side; default 160. */
  size?: number;
}

const MARGIN = 8;
const TITLE_PX = 14;
const TITLE_ROW = 22;
const AXES_COLOR = "#404040";

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

/** Rows of the image; a clear error for anything that is not 2-D. */
function toRows(image: Image2D, who: string): number[][] {
  if (image instanceof tf.Tensor) {
    if (image.rank !== 2) {
      throw new Error(
        `${who}: expected a 2-D image [height, width], got a tensor of shape ${fmtShape(image.shape)} ` +
          `(rank ${image.rank}); reshape it first, e.g. x.reshape([${image.shape.slice(1, 3).join(", ") || "h, w"}])`,
      );
    }
    return image.arraySync() as number[][];
  }
  if (!Array.isArray(image) || image.length === 0 || !image.every((r) => Array.isArray(r) && r.length > 0 && r.every((v) => typeof v === "number"))) {
    throw new Error(`${who}: expected a 2-D image (rows of numbers, number[][]), got ${describe(image)}`);
  }
  const width = image[0].length;
  const bad = image.findIndex((r) => r.length !== width);
  if (bad >= 0) throw new Error(`${who}: image rows must have equal length: row 0 has ${width}, row ${bad} has ${image[bad].length}`);
  return image;
}

function describe(v: unknown): string {
  if (!Array.isArray(v)) return typeof v;
  let depth = 0;
  for (let x: unknown = v; Array.isArray(x); x = x[0]) depth++;
  return `a ${depth}-level nested array`;
}

/** Value label for a cell: whole numbers as is, otherwise two decimals. */
function label(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(2).replace(/\.?0+$/, "");
}

interface Placed {
  rows: number[][];
  x: number;
  y: number;
  cell: number;
  title?: string;
}

/** Draws one image at (x, y) with square cells of `cell` px, nearest neighbour, plus a frame. */
function drawImage(ctx: SKRSContext2D, p: Placed, opts: ImageOptions): void {
  const cmap = checkCmap(opts.cmap ?? "gray");
  const flat = p.rows.flat();
  const vmin = opts.vmin ?? Math.min(...flat);
  const vmax = opts.vmax ?? Math.max(...flat);
  const h = p.rows.length;
  const w = p.rows[0].length;
  const labelPx = Math.max(10, Math.min(22, Math.floor(p.cell * 0.36)));
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const g = grayLevel(p.rows[r][c], cmap, vmin, vmax);
      ctx.fillStyle = `rgb(${g},${g},${g})`;
      ctx.fillRect(p.x + c * p.cell, p.y + r * p.cell, p.cell, p.cell);
      if (opts.annotate) {
        ctx.fillStyle = g < 128 ? "#ffffff" : "#000000";
        ctx.font = font(labelPx);
        ctx.textAlign = "center";
        ctx.textBaseline = "middle";
        ctx.fillText(label(p.rows[r][c]), p.x + (c + 0.5) * p.cell, p.y + (r + 0.5) * p.cell);
      }
    }
  }
  // The frame sits just outside the image so every image pixel keeps its exact colormap value.
  ctx.strokeStyle = AXES_COLOR;
  ctx.lineWidth = 1;
  ctx.strokeRect(p.x - 0.5, p.y - 0.5, w * p.cell + 1, h * p.cell + 1);
}

/** A centred title, shrunk (down to 9 px) until it fits `maxWidth` so neighbours never overlap. */
function drawTitle(ctx: SKRSContext2D, text: string, centerX: number, y: number, maxWidth: number): void {
  ctx.fillStyle = "#000000";
  let px = TITLE_PX;
  ctx.font = font(px);
  while (px > 9 && ctx.measureText(text).width > maxWidth) ctx.font = font(--px);
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillText(text, centerX, y);
}

function checkSize(size: number, who: string): number {
  if (!Number.isFinite(size) || size < 1) throw new Error(`${who}: size must be a positive number of pixels, got ${size}`);
  return size;
}

function cellFor(rows: number[][], size: number): number {
  return Math.max(1, Math.floor(size / Math.max(rows.length, rows[0].length)));
}

/**
 * matplotlib's `plt.imshow(image, cmap=...)` + `plt.show()`: draws a 2-D image with square
 * nearest-neighbour cells (a 3x3 image stays 9 crisp squares) and displays it.
 */
export function imshow(image: Image2D, opts: ImshowOptions = {}): Figure {
  const rows = toRows(image, "imshow");
  checkCmap(opts.cmap ?? "gray");
  const cell = cellFor(rows, checkSize(opts.size ?? 240, "imshow"));
  const top = opts.title ? TITLE_ROW : 0;
  const w = rows[0].length * cell;
  const h = rows.length * cell;
  const { canvas, ctx } = whiteCanvas(w + 2 * MARGIN, h + 2 * MARGIN + top);
  if (opts.title) drawTitle(ctx, opts.title, canvas.width / 2, MARGIN + TITLE_ROW / 2 - 2, canvas.width - 4);
  drawImage(ctx, { rows, x: MARGIN, y: MARGIN + top, cell }, opts);
  return finish(new Figure(canvas, 1), opts);
}

/**
 * matplotlib's `plt.subplot(rows, cols, i + 1)` loop: several images side by side, each scaled
 * to its own min and max like the lecture's feature maps (pass vmin/vmax to share one scale).
 */
export function subplots(images: Image2D[], opts: SubplotsOptions = {}): Figure {
  if (!Array.isArray(images) || images.length === 0) {
    throw new Error(`subplots: expected a non-empty array of 2-D images, got ${Array.isArray(images) ? "an empty array" : typeof images}`);
  }
  const all = images.map((img, i) => toRows(img, `subplots: image ${i}`));
  checkCmap(opts.cmap ?? "gray");
  if (opts.titles && opts.titles.length !== all.length) {
    throw new Error(`subplots: expected ${all.length} titles (one per image), got ${opts.titles.length}`);
  }
  const cols = opts.cols ?? all.length;
  if (!Number.isInteger(cols) || cols < 1) throw new Error(`subplots: cols must be a positive integer, got ${cols}`);
  const size = checkSize(opts.size ?? 160, "subplots");
  const gridRows = Math.ceil(all.length / cols);
  const titleRow = opts.titles ? TITLE_ROW : 0;
  const top = opts.title ? TITLE_ROW : 0;
  const slotW = size + 2 * MARGIN;
  const slotH = size + 2 * MARGIN + titleRow;
  const { canvas, ctx } = whiteCanvas(Math.min(cols, all.length) * slotW, gridRows * slotH + top);
  if (opts.title) drawTitle(ctx, opts.title, canvas.width / 2, MARGIN + TITLE_ROW / 2 - 2, canvas.width - 4);
  all.forEach((rows, i) => {
    const slotX = (i % cols) * slotW;
    const slotY = top + Math.floor(i / cols) * slotH;
    const cell = cellFor(rows, size);
    // Centre each image in its square slot.
    const x = slotX + MARGIN + Math.floor((size - rows[0].length * cell) / 2);
    const y = slotY + MARGIN + titleRow + Math.floor((size - rows.length * cell) / 2);
    if (opts.titles) drawTitle(ctx, opts.titles[i], slotX + slotW / 2, slotY + MARGIN + TITLE_ROW / 2 - 2, slotW - 4);
    drawImage(ctx, { rows, x, y, cell }, opts);
  });
  return finish(new Figure(canvas, all.length), opts);
}
