// Grayscale colormaps as matplotlib builds them: a 256-entry lookup table, values scaled
// between vmin and vmax (default: the image's own min and max), out-of-range values clipped.

const CMAPS = ["gray", "Greys"] as const;
export type Cmap = (typeof CMAPS)[number];

// matplotlib's control points (0..1 → gray level 0..255). "gray": low = black, high = white.
// "Greys" (colorbrewer): low = white, high = black, so ink on paper, the lecture's toy image style.
const CONTROL: Record<Cmap, number[]> = {
  gray: [0, 255],
  Greys: [255, 240, 217, 189, 150, 115, 82, 37, 0],
};

const LUT_SIZE = 256;
const luts: Partial<Record<Cmap, Uint8Array>> = {};

function lut(cmap: Cmap): Uint8Array {
  const cached = luts[cmap];
  if (cached) return cached;
  const points = CONTROL[cmap];
  const segments = points.length - 1;
  const table = new Uint8Array(LUT_SIZE);
  for (let i = 0; i < LUT_SIZE; i++) {
    const t = (i / (LUT_SIZE - 1)) * segments;
    const k = Math.min(Math.floor(t), segments - 1);
    const level = points[k] + (t - k) * (points[k + 1] - points[k]);
    table[i] = Math.floor(level + 1e-9);
  }
  luts[cmap] = table;
  return table;
}

/** Throws a clear error unless `cmap` is one of the supported names. */
export function checkCmap(cmap: string): Cmap {
  if (!(CMAPS as readonly string[]).includes(cmap)) {
    throw new Error(`unknown cmap "${cmap}": expected one of ${CMAPS.map((c) => `"${c}"`).join(", ")}`);
  }
  return cmap as Cmap;
}

/** Gray level 0..255 of value `v` under `cmap`, scaled between vmin and vmax. */
export function grayLevel(v: number, cmap: Cmap, vmin: number, vmax: number): number {
  // matplotlib maps everything to the low end when vmin == vmax.
  const x = vmax > vmin ? (v - vmin) / (vmax - vmin) : 0;
  const index = Math.max(0, Math.min(LUT_SIZE - 1, Math.floor(x * LUT_SIZE)));
  return lut(cmap)[index];
}
