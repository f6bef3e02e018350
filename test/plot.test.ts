// imshow / subplots: rendered size and pixel values for known inputs, and clear errors for bad input.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, test } from "node:test";
import { inspect } from "node:util";
import { createCanvas, loadImage } from "@napi-rs/canvas";
import { Figure, grayLevel, imshow, setupBackend, subplots, tf } from "cnn-lab";

before(async () => {
  await setupBackend({ quiet: true });
});

interface Pixels {
  width: number;
  height: number;
  at(x: number, y: number): [number, number, number, number];
}

async function decode(fig: Figure): Promise<Pixels> {
  const img = await loadImage(fig.png());
  const canvas = createCanvas(img.width, img.height);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, img.width, img.height).data;
  return {
    width: img.width,
    height: img.height,
    at: (x, y) => {
      const i = (y * img.width + x) * 4;
      return [data[i], data[i + 1], data[i + 2], data[i + 3]];
    },
  };
}

const toy = [[1, 2, 3], [4, 5, 6], [7, 8, 9]];
const MARGIN = 8; // white border around the image (lib/src/display/plot.ts)

test("imshow draws the toy image as 3x3 crisp squares: Greys low = white, high = black", async () => {
  const fig = imshow(toy, { cmap: "Greys", size: 240, show: false });
  const px = await decode(fig);
  // 240 px / 3 cells = 80 px a cell, plus the margin on both sides.
  assert.equal(px.width, 240 + 2 * MARGIN);
  assert.equal(px.height, 240 + 2 * MARGIN);
  const cell = (r: number, c: number, dx = 40, dy = 40) => px.at(MARGIN + c * 80 + dx, MARGIN + r * 80 + dy);
  assert.deepEqual(cell(0, 0), [255, 255, 255, 255]); // 1 = vmin -> white
  assert.deepEqual(cell(2, 2), [0, 0, 0, 255]); // 9 = vmax -> black
  // 5 is halfway: LUT index floor(0.5 * 256) = 128, position 128/255 between Greys points
  // 150 (at 4/8) and 115 (at 5/8): 150 - 35 * (128/255 - 0.5) * 8 = 149.45 -> 149.
  assert.deepEqual(cell(1, 1), [149, 149, 149, 255]);
  // Nearest neighbour: a cell is one flat colour right up to its edges.
  assert.deepEqual(cell(1, 1, 0, 0), cell(1, 1, 79, 79));
  assert.notDeepEqual(cell(1, 1, 79, 79), cell(1, 2, 0, 0));
});

test("imshow with gray: low = black, high = white; vmin/vmax clip", async () => {
  const px = await decode(imshow(tf.tensor2d(toy), { cmap: "gray", size: 30, show: false }));
  assert.equal(px.width, 30 + 2 * MARGIN);
  const cell = (r: number, c: number) => px.at(MARGIN + c * 10 + 5, MARGIN + r * 10 + 5);
  assert.deepEqual(cell(0, 0), [0, 0, 0, 255]);
  assert.deepEqual(cell(2, 2), [255, 255, 255, 255]);
  assert.deepEqual(cell(1, 1), [128, 128, 128, 255]); // gray is linear: index 128
  const clipped = await decode(imshow(toy, { cmap: "gray", vmin: 3, vmax: 5, size: 30, show: false }));
  const c2 = (r: number, c: number) => clipped.at(MARGIN + c * 10 + 5, MARGIN + r * 10 + 5);
  assert.deepEqual(c2(0, 0), [0, 0, 0, 255]); // 1 < vmin
  assert.deepEqual(c2(0, 2), [0, 0, 0, 255]); // 3 = vmin
  assert.deepEqual(c2(1, 0), [128, 128, 128, 255]); // 4 halfway
  assert.deepEqual(c2(2, 2), [255, 255, 255, 255]); // 9 > vmax
  assert.equal(grayLevel(7, "gray", 7, 7), 0); // flat image: matplotlib maps all to the low end
});

test("imshow keeps cells square for non-square images and whole-pixel cells", async () => {
  const fig = imshow([[0, 1, 2, 3]], { size: 100, show: false });
  // 100 / 4 = 25 px cells: 100 x 25 image area.
  assert.equal(fig.width, 100 + 2 * MARGIN);
  assert.equal(fig.height, 25 + 2 * MARGIN);
  assert.equal(inspect(fig), `<Figure size ${fig.width}x${fig.height} with 1 Axes>`);
});

test("annotate writes values into cells, in the contrasting colour; a Hangul title renders", async () => {
  const plain = await decode(imshow([[0, 100]], { size: 200, show: false }));
  const noted = await decode(imshow([[0, 100]], { size: 200, annotate: true, show: false }));
  const differing = (x0: number) => {
    let n = 0;
    for (let y = MARGIN; y < MARGIN + 100; y++) for (let x = x0; x < x0 + 100; x++) if (plain.at(x, y)[0] !== noted.at(x, y)[0]) n++;
    return n;
  };
  assert.ok(differing(MARGIN) > 20, "label drawn in the black cell");
  assert.ok(differing(MARGIN + 100) > 20, "label drawn in the white cell");
  // White text on the black cell: some pixel there is bright.
  let brightest = 0;
  for (let y = MARGIN; y < MARGIN + 100; y++) for (let x = MARGIN; x < MARGIN + 100; x++) brightest = Math.max(brightest, noted.at(x, y)[0]);
  assert.ok(brightest > 200);

  const titled = await decode(imshow([[0]], { size: 20, title: "특성맵", show: false }));
  let ink = 0;
  for (let y = 0; y < 22; y++) for (let x = 0; x < titled.width; x++) if (titled.at(x, y)[0] < 128) ink++;
  assert.ok(ink > 15, `title glyphs drawn (${ink} dark pixels)`);
});

test("subplots lays images out in a row with titles, each scaled to its own min and max", async () => {
  const maps = [toy, toy.map((r) => r.map((v) => v * 10)), toy.map((r) => r.map((v) => -v))];
  const fig = subplots(maps, { titles: ["1", "10", "-1"], size: 60, show: false });
  assert.equal(fig.axes, 3);
  const slotW = 60 + 2 * MARGIN;
  const titleRow = 22;
  assert.equal(fig.width, 3 * slotW);
  assert.equal(fig.height, 60 + 2 * MARGIN + titleRow);
  const px = await decode(fig);
  const cell = (i: number, r: number, c: number) => px.at(i * slotW + MARGIN + c * 20 + 10, MARGIN + titleRow + r * 20 + 10);
  // gray: the smallest value is black in every panel, so weight -1 flips the picture.
  assert.deepEqual(cell(0, 0, 0), [0, 0, 0, 255]);
  assert.deepEqual(cell(1, 0, 0), [0, 0, 0, 255]);
  assert.deepEqual(cell(2, 0, 0), [255, 255, 255, 255]);
  assert.deepEqual(cell(2, 2, 2), [0, 0, 0, 255]);
  // cols wraps into a grid.
  const grid = subplots([toy, toy, toy, toy], { cols: 2, size: 30, show: false });
  assert.equal(grid.width, 2 * (30 + 2 * MARGIN));
  assert.equal(grid.height, 2 * (30 + 2 * MARGIN));
});

test("show() outside tslab writes the PNG file and prints its path", () => {
  const dir = mkdtempSync(join(tmpdir(), "plot-"));
  try {
    const file = join(dir, "toy.png");
    const fig = imshow(toy, { cmap: "Greys", file, size: 30 });
    assert.deepEqual(readFileSync(file), fig.png());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bad input gets errors naming what was expected and what was given", () => {
  const x = tf.zeros([1, 3, 3, 1]);
  assert.throws(() => imshow(x, { show: false }), {
    message: "imshow: expected a 2-D image [height, width], got a tensor of shape [1,3,3,1] (rank 4); reshape it first, e.g. x.reshape([3, 3])",
  });
  assert.throws(() => imshow([[1, 2], [3]], { show: false }), { message: "imshow: image rows must have equal length: row 0 has 2, row 1 has 1" });
  assert.throws(() => imshow([1, 2, 3] as unknown as number[][], { show: false }), { message: "imshow: expected a 2-D image (rows of numbers, number[][]), got a 1-level nested array" });
  assert.throws(() => imshow(toy, { cmap: "viridis" as "gray", show: false }), { message: 'unknown cmap "viridis": expected one of "gray", "Greys"' });
  assert.throws(() => subplots([toy, toy], { titles: ["a"], show: false }), { message: "subplots: expected 2 titles (one per image), got 1" });
  assert.throws(() => subplots([toy, x], { show: false }), /subplots: image 1: expected a 2-D image \[height, width\], got a tensor of shape \[1,3,3,1\]/);
  assert.throws(() => subplots([], { show: false }), { message: "subplots: expected a non-empty array of 2-D images, got an empty array" });
  x.dispose();
});

test("imshow of a tensor does not leak tensors", () => {
  const t = tf.tensor2d(toy);
  const before = tf.memory().numTensors;
  imshow(t, { show: false });
  subplots([t, t], { show: false });
  assert.equal(tf.memory().numTensors, before);
  t.dispose();
});
