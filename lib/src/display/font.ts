// The one font every figure draws with. It ships with the project (lib/assets) because a bare
// machine has no CJK font and would draw Hangul as empty boxes; one family also keeps PNGs
// identical across machines, so notebook outputs can be compared byte for byte.
import { GlobalFonts } from "@napi-rs/canvas";
import { existsSync } from "node:fs";
import { join } from "node:path";

export const FONT_FAMILY = "CnnLab NanumGothic";
/** The bundled font files (with their licence, NanumGothic-OFL.txt) in FONT_DIR; the HTML book embeds them too. */
export const FONT_FILES = ["nanum-gothic-latin-400-normal.woff2", "nanum-gothic-korean-400-normal.woff2"] as const;
// lib/src (tsx) and lib/dist (compiled) both sit next to lib/assets.
export const FONT_DIR = join(__dirname, "..", "..", "assets");

let registered = false;

/** Registers the bundled font once; returns the family name to use in `ctx.font`. */
function ensureFont(): string {
  if (registered) return FONT_FAMILY;
  for (const file of FONT_FILES) {
    const path = join(FONT_DIR, file);
    if (!existsSync(path)) throw new Error(`bundled font missing: expected ${path}`);
    GlobalFonts.registerFromPath(path, FONT_FAMILY);
  }
  registered = true;
  return FONT_FAMILY;
}

/** A CSS font string in the bundled family, e.g. font(12) → `12px "CnnLab NanumGothic"`. */
export function font(px: number): string {
  return `${px}px "${ensureFont()}"`;
}
