// Charts: line charts at given x (points within an epoch), the two-panel training curves, and a live display that
// redraws one entry in place (outside tslab: one PNG file rewritten).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createCanvas, loadImage } from "@napi-rs/canvas";
import { Figure, lineChart, liveDisplay, liveTrainingCurves, trainingCurves, type EpochLog } from "cnn-lab";

/** Columns (x) of the chart where the colour `rgb` appears. */
async function columnsWith(fig: Figure, rgb: [number, number, number]): Promise<number[]> {
  const img = await loadImage(fig.png());
  const ctx = createCanvas(img.width, img.height).getContext("2d");
  ctx.drawImage(img, 0, 0);
  const d = ctx.getImageData(0, 0, img.width, img.height).data;
  const cols = new Set<number>();
  for (let i = 0; i < d.length; i += 4) if (d[i] === rgb[0] && d[i + 1] === rgb[1] && d[i + 2] === rgb[2]) cols.add((i / 4) % img.width);
  return [...cols].sort((a, b) => a - b);
}
const BLUE: [number, number, number] = [0x1f, 0x77, 0xb4];

test("lineChart places values at their own x; without x at 1..n", async () => {
  const at = (x?: number[]) => lineChart([{ label: "a", values: [1, 2, 3], ...(x ? { x } : {}) }], { show: false, width: 400, height: 200 });
  const even = await columnsWith(at(), BLUE);
  const bunched = await columnsWith(at([1, 1.1, 3]), BLUE);
  // The middle point moves left when its x does: fewer blue columns between the first two markers' region.
  assert.ok(even.length > 0 && bunched.length > 0);
  const span = (cols: number[]) => cols[cols.length - 1] - cols[0];
  assert.ok(Math.abs(span(even) - span(bunched)) < 30, "same first and last x");
  const middle = (cols: number[]) => cols.filter((c) => c > cols[0] + 10 && c < cols[cols.length - 1] - 30).length;
  assert.notEqual(middle(even), middle(bunched));
  assert.throws(() => lineChart([{ label: "bad", values: [1, 2], x: [1] }], { show: false }), /series "bad" needs one finite x per value: 1 x for 2 values/);
  assert.throws(() => lineChart([{ label: "nan", values: [NaN] }], { show: false }), /values must be finite numbers/);
});

test("trainingCurves: loss and accuracy side by side, test accuracy as markers once an epoch ends", () => {
  const fig = trainingCurves({ x: [0.25, 0.5, 0.75, 1], loss: [1, 0.5, 0.3, 0.2], accuracy: [0.7, 0.8, 0.9, 0.92], testAccuracy: [0.95] }, { width: 300, height: 200 });
  assert.equal(fig.width, 600);
  assert.equal(fig.height, 200);
  assert.equal(fig.axes, 2);
  assert.throws(() => trainingCurves({ x: [], loss: [], accuracy: [], testAccuracy: [] }), /no points yet/);
});

test("liveDisplay outside tslab rewrites one file and counts its updates", () => {
  const dir = mkdtempSync(join(tmpdir(), "live-"));
  try {
    const file = join(dir, "live.png");
    const live = liveDisplay(file);
    const first = lineChart([{ label: "a", values: [1, 2] }], { show: false });
    const second = lineChart([{ label: "a", values: [2, 1, 3] }], { show: false });
    live.show(first);
    assert.deepEqual(readFileSync(file), first.png());
    live.show(second);
    assert.deepEqual(readFileSync(file), second.png());
    assert.equal(live.updates, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("liveTrainingCurves redraws a few times an epoch, and finish() adds epochs restored by resume", () => {
  const figures: Figure[] = [];
  const display = { show: (f: Figure) => { figures.push(f); }, get updates() { return figures.length; } };
  const log = (epoch: number): EpochLog => ({ epoch, loss: 1 / epoch, trainAccuracy: 0.9, testAccuracy: 0.95, seconds: 1 });
  const run = (epochs: number[]) => {
    figures.length = 0;
    const curves = liveTrainingCurves(4, display);
    for (const epoch of epochs) {
      for (let batch = 1; batch <= 10; batch++) curves.onBatch({ epoch, epochs: 2, batch, batches: 10, loss: 1 / batch, accuracy: batch / 10 });
      curves.onEpoch(log(epoch));
    }
    return curves;
  };
  const full = run([1, 2]);
  assert.equal(figures.length, 9, "the first batch, then batches 3, 6, 9 and the epoch's end in each of two epochs");
  full.finish([log(1), log(2)]);
  assert.equal(figures.length, 9, "nothing restored: no extra drawing");
  const resumed = run([2]);
  assert.equal(figures.length, 5);
  resumed.finish([log(1), log(2)]);
  assert.equal(figures.length, 6, "epoch 1 came from a checkpoint: one more drawing with it");
});
