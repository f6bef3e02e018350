import { before, test } from "node:test";
import assert from "node:assert/strict";
import { loadMnist, preprocessDigit, rgbaToGray, Mnist } from "cnn-lab";

let mnist: Mnist;
before(async () => {
  mnist = await loadMnist();
});

/** A test digit drawn big: each pixel a scale x scale block, inside a margin, optionally dark ink on light paper. */
function drawn(i: number, scale: number, lightPaper: boolean, margin = [30, 5]): { gray: Float32Array; width: number; height: number } {
  const width = 28 * scale + 2 * margin[0];
  const height = 28 * scale + 2 * margin[1];
  const gray = new Float32Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const sx = Math.floor((x - margin[0]) / scale), sy = Math.floor((y - margin[1]) / scale);
    const v = sx >= 0 && sx < 28 && sy >= 0 && sy < 28 ? mnist.test.images[i * 784 + sy * 28 + sx] : 0;
    gray[y * width + x] = lightPaper ? 250 - v * 0.9 : 10 + v * 0.9;
  }
  return { gray, width, height };
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  const ma = Array.from(a).reduce((s, v) => s + v, 0) / n, mb = Array.from(b).reduce((s, v) => s + v, 0) / n;
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < n; i++) { ab += (a[i] - ma) * (b[i] - mb); aa += (a[i] - ma) ** 2; bb += (b[i] - mb) ** 2; }
  return ab / Math.sqrt(aa * bb);
}

test("a big, off-centre, dark-on-light drawing of a test digit comes back close to the MNIST original", () => {
  for (const [i, scale, light] of [[0, 8, true], [1, 3, false], [2, 11, true], [3, 1, false]] as [number, number, boolean][]) {
    const { gray, width, height } = drawn(i, scale, light);
    const d = preprocessDigit(gray, width, height);
    assert.equal(d.inverted, light);
    const original = Array.from(mnist.test.images.subarray(i * 784, (i + 1) * 784), (v) => v / 255);
    const r = correlation(d.pixels, original);
    assert.ok(r > 0.8, `digit ${i} at scale ${scale}: correlation ${r.toFixed(3)} with the original`);
    assert.ok(Math.max(...d.pixels) <= 1 && Math.min(...d.pixels) >= 0);
  }
});

test("transparent pixels are paper (white); luminance weights are the usual 0.299/0.587/0.114", () => {
  const rgba = new Uint8Array([0, 0, 0, 0, 255, 0, 0, 255, 0, 0, 255, 255, 100, 100, 100, 255]);
  const g = rgbaToGray(rgba, 2, 2);
  assert.deepEqual(Array.from(g, (v) => Math.round(v * 1000) / 1000), [255, 76.245, 29.07, 100]);
  assert.throws(() => rgbaToGray(rgba, 3, 2), /expected 24 RGBA bytes for 3x2, got 16/);
});

test("images that cannot hold a digit are refused with the reason", () => {
  assert.throws(() => preprocessDigit(new Float32Array(25), 5, 5), /image is 5x5 pixels: expected at least 8x8 to hold a digit/);
  assert.throws(() => preprocessDigit(new Float32Array(100).fill(200), 10, 10), /no digit found: the image is \(almost\) one uniform colour/);
  assert.throws(() => preprocessDigit(new Float32Array(10), 10, 10), /expected 100 gray values for 10x10, got 10/);
  assert.throws(() => preprocessDigit(new Float32Array(0), 9000, 10), /image is 9000x10 pixels: expected at most 8192x8192/);
});
