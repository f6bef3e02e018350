// The two charts the full-CNN notebook needs besides images: training curves (a line chart, like
// plt.plot) and the confusion matrix (an annotated heatmap). Same figure base (figure.ts) and font as plot.ts.
import type { SKRSContext2D } from "@napi-rs/canvas";
import { grayLevel } from "./colormap";
import { Figure, finish, whiteCanvas, type ShowOptions } from "./figure";
import { font } from "./font";

export interface Series {
  label: string;
  /** y values at x = 1, 2, ... (epochs). */
  values: number[];
}

export interface LineChartOptions extends ShowOptions {
  title?: string;
  xlabel?: string;
  ylabel?: string;
  width?: number;
  height?: number;
  /** Where the legend goes, matplotlib's names; default "upper right". */
  legend?: "upper right" | "lower right";
}

// matplotlib's default colour cycle (tab:blue, tab:orange, tab:green, tab:red).
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"];

function text(ctx: SKRSContext2D, s: string, x: number, y: number, px: number, align: CanvasTextAlign = "center", color = "#000000"): void {
  ctx.font = font(px);
  ctx.fillStyle = color;
  ctx.textAlign = align;
  ctx.textBaseline = "middle";
  ctx.fillText(s, x, y);
}

type CanvasTextAlign = "left" | "right" | "center";

/** Round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number, count = 5): number[] {
  const raw = (hi - lo) / count || 1;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Line chart of one or more series against epoch 1..n, with a legend: `plt.plot(history[...])`. */
export function lineChart(series: Series[], opts: LineChartOptions = {}): Figure {
  if (!Array.isArray(series) || series.length === 0 || series.some((s) => !s.values?.length)) {
    throw new Error("lineChart: expected at least one series with at least one value");
  }
  const values = series.flatMap((s) => s.values);
  if (values.some((v) => !Number.isFinite(v))) throw new Error("lineChart: values must be finite numbers");
  const W = opts.width ?? 420;
  const H = opts.height ?? 280;
  const pad = { left: 58, right: 14, top: opts.title ? 30 : 14, bottom: 42 };
  const { canvas, ctx } = whiteCanvas(W, H);
  const n = Math.max(...series.map((s) => s.values.length));
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  const margin = (hi - lo) * 0.05 || Math.abs(hi) * 0.05 || 1;
  lo -= margin;
  hi += margin;
  const pw = W - pad.left - pad.right;
  const ph = H - pad.top - pad.bottom;
  const X = (i: number) => pad.left + (n === 1 ? pw / 2 : ((i - 1) / (n - 1)) * pw);
  const Y = (v: number) => pad.top + (1 - (v - lo) / (hi - lo)) * ph;

  ctx.strokeStyle = "#404040";
  ctx.lineWidth = 1;
  ctx.strokeRect(pad.left - 0.5, pad.top - 0.5, pw + 1, ph + 1);
  for (const v of ticks(lo, hi)) {
    text(ctx, String(v), pad.left - 6, Y(v), 11, "right");
    ctx.beginPath();
    ctx.moveTo(pad.left - 3, Y(v));
    ctx.lineTo(pad.left, Y(v));
    ctx.stroke();
  }
  const xstep = Math.max(1, Math.ceil(n / 8));
  for (let i = 1; i <= n; i += xstep) text(ctx, String(i), X(i), pad.top + ph + 12, 11);
  if (opts.title) text(ctx, opts.title, W / 2, 15, 14);
  if (opts.xlabel) text(ctx, opts.xlabel, pad.left + pw / 2, H - 10, 12);
  if (opts.ylabel) {
    ctx.save();
    ctx.translate(12, pad.top + ph / 2);
    ctx.rotate(-Math.PI / 2);
    text(ctx, opts.ylabel, 0, 0, 12);
    ctx.restore();
  }
  series.forEach((s, k) => {
    ctx.strokeStyle = ctx.fillStyle = COLORS[k % COLORS.length];
    ctx.lineWidth = 2;
    ctx.beginPath();
    s.values.forEach((v, i) => (i ? ctx.lineTo(X(i + 1), Y(v)) : ctx.moveTo(X(i + 1), Y(v))));
    ctx.stroke();
    s.values.forEach((v, i) => ctx.fillRect(X(i + 1) - 2, Y(v) - 2, 4, 4));
    // Legend, top right inside the axes.
    const ly = opts.legend === "lower right" ? pad.top + ph - 12 - (series.length - 1 - k) * 16 : pad.top + 12 + k * 16;
    ctx.fillRect(pad.left + pw - 120, ly - 1, 16, 3);
    text(ctx, s.label, pad.left + pw - 98, ly, 11, "left");
  });
  return finish(new Figure(canvas, 1), opts);
}

export interface HeatmapOptions extends ShowOptions {
  title?: string;
  /** Tick labels for rows and columns (default 0..n-1). */
  labels?: string[];
  xlabel?: string;
  ylabel?: string;
  /** Pixels per cell; default 34. */
  cell?: number;
}

/** An annotated heatmap of a matrix (the confusion matrix: rows = true class, columns = predicted). */
export function heatmap(matrix: number[][], opts: HeatmapOptions = {}): Figure {
  const rows = matrix.length;
  const cols = matrix[0]?.length ?? 0;
  if (!rows || !cols || matrix.some((r) => r.length !== cols || r.some((v) => !Number.isFinite(v)))) {
    throw new Error("heatmap: expected a non-empty matrix (rows of equal length) of finite numbers");
  }
  const labels = opts.labels;
  if (labels && (labels.length !== rows || labels.length !== cols)) {
    throw new Error(`heatmap: expected ${rows} labels (one per row and column), got ${labels.length}`);
  }
  const cell = opts.cell ?? 34;
  const pad = { left: 52, top: opts.title ? 30 : 10, bottom: 44, right: 10 };
  const W = pad.left + cols * cell + pad.right;
  const H = pad.top + rows * cell + pad.bottom;
  const { canvas, ctx } = whiteCanvas(W, H);
  const flat = matrix.flat();
  // sqrt scale: a few confusions next to ~1000 correct ones still show as light grey, not white.
  const vmax = Math.sqrt(Math.max(...flat));
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = matrix[r][c];
      const g = grayLevel(Math.sqrt(Math.max(0, v)), "Greys", 0, vmax);
      ctx.fillStyle = `rgb(${g},${g},${g})`;
      ctx.fillRect(pad.left + c * cell, pad.top + r * cell, cell, cell);
      if (v !== 0) text(ctx, String(v), pad.left + (c + 0.5) * cell, pad.top + (r + 0.5) * cell, 10, "center", g < 128 ? "#ffffff" : "#000000");
    }
  }
  ctx.strokeStyle = "#404040";
  ctx.strokeRect(pad.left - 0.5, pad.top - 0.5, cols * cell + 1, rows * cell + 1);
  for (let i = 0; i < Math.max(rows, cols); i++) {
    const name = labels?.[i] ?? String(i);
    if (i < rows) text(ctx, name, pad.left - 8, pad.top + (i + 0.5) * cell, 11, "right");
    if (i < cols) text(ctx, name, pad.left + (i + 0.5) * cell, pad.top + rows * cell + 10, 11);
  }
  if (opts.title) text(ctx, opts.title, W / 2, 15, 14);
  text(ctx, opts.xlabel ?? "predicted", pad.left + (cols * cell) / 2, H - 12, 12);
  ctx.save();
  ctx.translate(12, pad.top + (rows * cell) / 2);
  ctx.rotate(-Math.PI / 2);
  text(ctx, opts.ylabel ?? "true", 0, 0, 12);
  ctx.restore();
  return finish(new Figure(canvas, 1), opts);
}
