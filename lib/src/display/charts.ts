// The two charts the full-CNN notebook needs besides images: training curves (a line chart, like
// plt.plot) and the confusion matrix (an annotated heatmap). Same figure base (figure.ts) and font as plot.ts.
import type { SKRSContext2D } from "@napi-rs/canvas";
import { grayLevel } from "./colormap";
import { Figure, finish, liveDisplay, whiteCanvas, type LiveDisplay, type ShowOptions } from "./figure";
import type { EpochLog } from "../checkpoints/checkpoint";
import type { BatchProgress } from "../training/train";
import { font } from "./font";

export interface Series {
  label: string;
  /** y values, at x = 1, 2, ... (epochs) unless `x` is given. */
  values: number[];
  /** x of each value (e.g. fractional epochs for points within an epoch); default 1..n. */
  x?: number[];
  /** "line" (default) or "markers": points alone, e.g. one test accuracy per epoch. */
  style?: "line" | "markers";
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

function checkSeries(series: Series[], who: string): void {
  if (!Array.isArray(series) || series.length === 0 || series.some((s) => !s.values?.length)) {
    throw new Error(`${who}: expected at least one series with at least one value`);
  }
  if (series.some((s) => s.values.some((v) => !Number.isFinite(v)))) throw new Error(`${who}: values must be finite numbers`);
  const bad = series.find((s) => s.x && (s.x.length !== s.values.length || s.x.some((v) => !Number.isFinite(v))));
  if (bad) throw new Error(`${who}: series "${bad.label}" needs one finite x per value: ${bad.x!.length} x for ${bad.values.length} values`);
}

/** Draws a line chart into the W x H box at (left, top) of ctx: axes, ticks, labels, lines and a legend. */
function drawLineChart(ctx: SKRSContext2D, left: number, top: number, W: number, H: number, series: Series[], opts: LineChartOptions): void {
  const pad = { left: 58, right: 14, top: opts.title ? 30 : 14, bottom: 42 };
  const xs = (s: Series) => s.x ?? s.values.map((_, i) => i + 1);
  const allX = series.flatMap(xs);
  const values = series.flatMap((s) => s.values);
  // From epoch 1 (or 0, the start, when points lie within the first epoch) to the last point.
  const [x0, x1] = [Math.min(1, Math.floor(Math.min(...allX))), Math.max(...allX)];
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  const margin = (hi - lo) * 0.05 || Math.abs(hi) * 0.05 || 1;
  lo -= margin;
  hi += margin;
  const pw = W - pad.left - pad.right;
  const ph = H - pad.top - pad.bottom;
  const X = (x: number) => left + pad.left + (x1 === x0 ? pw / 2 : ((x - x0) / (x1 - x0)) * pw);
  const Y = (v: number) => top + pad.top + (1 - (v - lo) / (hi - lo)) * ph;

  ctx.strokeStyle = "#404040";
  ctx.lineWidth = 1;
  ctx.strokeRect(left + pad.left - 0.5, top + pad.top - 0.5, pw + 1, ph + 1);
  for (const v of ticks(lo, hi)) {
    text(ctx, String(v), left + pad.left - 6, Y(v), 11, "right");
    ctx.beginPath();
    ctx.moveTo(left + pad.left - 3, Y(v));
    ctx.lineTo(left + pad.left, Y(v));
    ctx.stroke();
  }
  // Whole x values (epochs) only.
  const xstep = Math.max(1, Math.ceil((Math.floor(x1) - Math.ceil(x0) + 1) / 8));
  for (let i = Math.ceil(x0); i <= x1; i += xstep) text(ctx, String(i), X(i), top + pad.top + ph + 12, 11);
  if (opts.title) text(ctx, opts.title, left + W / 2, top + 15, 14);
  if (opts.xlabel) text(ctx, opts.xlabel, left + pad.left + pw / 2, top + H - 10, 12);
  if (opts.ylabel) {
    ctx.save();
    ctx.translate(left + 12, top + pad.top + ph / 2);
    ctx.rotate(-Math.PI / 2);
    text(ctx, opts.ylabel, 0, 0, 12);
    ctx.restore();
  }
  ctx.font = font(11);
  const legendX = left + pad.left + pw - 8 - 22 - Math.max(...series.map((s) => ctx.measureText(s.label).width));
  series.forEach((s, k) => {
    const sx = xs(s);
    ctx.strokeStyle = ctx.fillStyle = COLORS[k % COLORS.length];
    ctx.lineWidth = 2;
    if (s.style !== "markers") {
      ctx.beginPath();
      s.values.forEach((v, i) => (i ? ctx.lineTo(X(sx[i]), Y(v)) : ctx.moveTo(X(sx[i]), Y(v))));
      ctx.stroke();
    }
    const r = s.style === "markers" ? 3 : 2;
    s.values.forEach((v, i) => ctx.fillRect(X(sx[i]) - r, Y(v) - r, 2 * r, 2 * r));
    // Legend, inside the axes.
    const ly = opts.legend === "lower right" ? top + pad.top + ph - 12 - (series.length - 1 - k) * 16 : top + pad.top + 12 + k * 16;
    ctx.fillRect(legendX, ly - 1, 16, 3);
    text(ctx, s.label, legendX + 22, ly, 11, "left");
  });
}

/** Line chart of one or more series against epoch 1..n (or their own x), with a legend: `plt.plot(history[...])`. */
export function lineChart(series: Series[], opts: LineChartOptions = {}): Figure {
  checkSeries(series, "lineChart");
  const W = opts.width ?? 420;
  const H = opts.height ?? 280;
  const { canvas, ctx } = whiteCanvas(W, H);
  drawLineChart(ctx, 0, 0, W, H, series, opts);
  return finish(new Figure(canvas, 1), opts);
}

/** What a training run has shown so far: running means within epochs, and one test accuracy per finished epoch. */
export interface TrainingCurves {
  /** x in epochs (2.5 = half-way through epoch 3) of each running-mean point. */
  x: number[];
  loss: number[];
  accuracy: number[];
  /** Test accuracy after epoch 1, 2, ... */
  testAccuracy: number[];
}

/**
 * Loss and accuracy side by side, as they stand during training (for a live display: liveDisplay() in figure.ts
 * redraws it in place a few times an epoch). Not shown by itself: pass `show: true` to display it.
 */
export function trainingCurves(c: TrainingCurves, opts: ShowOptions & { width?: number; height?: number } = { show: false }): Figure {
  const W = opts.width ?? 420;
  const H = opts.height ?? 280;
  if (!c.x.length) throw new Error("trainingCurves: no points yet (expected at least one running-mean point)");
  const train = (label: string, values: number[]): Series => ({ label, values, x: c.x });
  const acc = [train("train accuracy (running mean)", c.accuracy)];
  if (c.testAccuracy.length) acc.push({ label: "test accuracy", values: c.testAccuracy, style: "markers" });
  checkSeries(acc, "trainingCurves");
  const { canvas, ctx } = whiteCanvas(2 * W, H);
  drawLineChart(ctx, 0, 0, W, H, [train("train loss (running mean)", c.loss)], { title: "loss", xlabel: "epoch" });
  drawLineChart(ctx, W, 0, W, H, acc, { title: "accuracy", xlabel: "epoch", legend: "lower right" });
  return finish(new Figure(canvas, 2), { show: opts.show ?? false, file: opts.file });
}

/**
 * Training curves that draw themselves while train() runs: pass onBatch/onEpoch to train()'s callbacks and the
 * chart is redrawn in place `perEpoch` times an epoch (one display entry, the last drawing stays). After a
 * resumed run, finish(history) adds the epochs restored from checkpoints (one point each).
 */
export function liveTrainingCurves(perEpoch = 4, display: LiveDisplay = liveDisplay()) {
  const live: TrainingCurves = { x: [], loss: [], accuracy: [], testAccuracy: [] };
  const seenEpochs = new Set<number>();
  const draw = (c: TrainingCurves) => display.show(trainingCurves(c));
  return {
    display,
    onBatch(p: BatchProgress): void {
      const every = Math.max(1, Math.ceil(p.batches / perEpoch));
      // The first batch draws too, so the chart stands above the progress text from the start.
      if (p.batch % every !== 0 && p.batch !== p.batches && live.x.length > 0) return;
      live.x.push(p.epoch - 1 + p.batch / p.batches);
      live.loss.push(p.loss);
      live.accuracy.push(p.accuracy);
      seenEpochs.add(p.epoch);
      if (p.batch !== p.batches) draw(live); // the epoch's last point is drawn with its test accuracy
    },
    onEpoch(log: EpochLog): void {
      live.testAccuracy.push(log.testAccuracy ?? NaN);
      draw({ ...live, testAccuracy: live.testAccuracy.filter(Number.isFinite) });
    },
    /** Redraws with every epoch of `history`: epochs not trained live (restored by resume) as one point each. */
    finish(history: EpochLog[]): void {
      const restored = history.filter((h) => !seenEpochs.has(h.epoch));
      if (!restored.length) return;
      const c: TrainingCurves = {
        x: [...restored.map((h) => h.epoch), ...live.x],
        loss: [...restored.map((h) => h.loss), ...live.loss],
        accuracy: [...restored.map((h) => h.trainAccuracy), ...live.accuracy],
        testAccuracy: history.map((h) => h.testAccuracy).filter((a): a is number => a !== undefined),
      };
      draw(c);
    },
  };
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
