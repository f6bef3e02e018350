// What every figure shares (plot.ts's images, charts.ts's line chart and heatmap): a white canvas, a Figure
// that holds the PNG, and showing it: inline in a tslab notebook (like %matplotlib inline), else a PNG file.
import { createCanvas, type Canvas, type SKRSContext2D } from "@napi-rs/canvas";
import { writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { inspect } from "node:util";
import { makeDirs } from "../checkpoints/make-dirs";

export interface ShowOptions {
  /** Display (inline in tslab, else write a PNG file) right away; default true. */
  show?: boolean;
  /** Where to write the PNG outside tslab; default ./figures/figure-<n>.png. */
  file?: string;
}

let figureCount = 0;

/** What a Figure needs from its canvas (structural, so no canvas or DOM types leak into the API). */
export interface PngSource {
  readonly width: number;
  readonly height: number;
  toBuffer(mime: "image/png"): Buffer;
}

/** A rendered figure: `png()` for the bytes, `show()` to display it or write it to a file. */
export class Figure {
  private readonly canvas: PngSource;
  readonly axes: number;
  constructor(canvas: PngSource, axes: number) {
    this.canvas = canvas;
    this.axes = axes;
  }
  get width(): number {
    return this.canvas.width;
  }
  get height(): number {
    return this.canvas.height;
  }
  /** The PNG bytes. */
  png(): Buffer {
    return this.canvas.toBuffer("image/png");
  }
  /** Writes the PNG to `file` (folders created) and returns its absolute path. */
  save(file: string): string {
    const path = resolve(file);
    makeDirs(dirname(path), `the folder of figure ${path}`);
    writeFileSync(path, this.png());
    return path;
  }
  /**
   * Inline in a tslab notebook; elsewhere writes a PNG (to `file`, default
   * ./figures/figure-<n>.png) and prints its path. Returns the path, or undefined when inline.
   */
  show(file?: string): string | undefined {
    if (displayInline(this.png())) return undefined;
    const path = this.save(file ?? join("figures", `figure-${++figureCount}.png`));
    console.log(`figure saved: ${path}`);
    return path;
  }
  [inspect.custom](): string {
    return `<Figure size ${this.width}x${this.height} with ${this.axes} Axes>`;
  }
}

/** tslab's display when this runs inside its kernel; outside, tslab throws "Not ready". */
function displayInline(png: Buffer): boolean {
  let display: { png(b: Uint8Array): void } | undefined;
  try {
    // The kernel's own tslab instance: the kernel runs from this same node_modules.
    display = require("tslab").display;
  } catch {
    return false;
  }
  try {
    display!.png(png);
    return true;
  } catch (e) {
    if (e instanceof Error && e.message === "Not ready") return false;
    throw e;
  }
}

/** A canvas of w x h pixels filled white, and its 2-D context: where every figure starts. */
export function whiteCanvas(w: number, h: number): { canvas: Canvas; ctx: SKRSContext2D } {
  const canvas = createCanvas(w, h);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, w, h);
  return { canvas, ctx };
}

/** Shows the figure unless `show: false`, and returns it. */
export function finish(fig: Figure, opts: ShowOptions): Figure {
  if (opts.show ?? true) fig.show(opts.file);
  return fig;
}

/** One display entry redrawn in place: in a tslab notebook, the first show() adds it, later ones replace it. */
export interface LiveDisplay {
  /** Shows `fig` in this entry's place (outside tslab: rewrites one PNG file, `file`). */
  show(fig: Figure): void;
  /** How many times it was drawn. */
  readonly updates: number;
}

/**
 * A display entry that updates in place, for charts that change while a cell runs (training curves): tslab's
 * newDisplay() sends display_data once and update_display_data after, so the notebook keeps one chart, the last.
 * Outside tslab it rewrites `file` (default ./figures/live-<n>.png) and prints its path once.
 */
export function liveDisplay(file?: string): LiveDisplay {
  let entry: { png(b: Uint8Array): void } | undefined;
  try {
    entry = require("tslab").newDisplay();
  } catch {
    entry = undefined;
  }
  const target = file ?? join("figures", `live-${++figureCount}.png`);
  let updates = 0;
  let inline = entry !== undefined;
  return {
    show(fig: Figure) {
      if (inline) {
        try {
          entry!.png(fig.png());
        } catch (e) {
          if (!(e instanceof Error && e.message === "Not ready")) throw e;
          inline = false; // tslab is installed but this is not its kernel
        }
      }
      if (!inline) {
        const path = fig.save(target);
        if (updates === 0) console.log(`live figure: ${path}`);
      }
      updates++;
    },
    get updates() {
      return updates;
    },
  };
}
