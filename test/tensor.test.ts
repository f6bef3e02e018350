// Tensor helpers: values checked against the lecture's printed numpy output and hand computation.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { constant, constantInitializer, featureMaps, formatArray, setupBackend, shapeOf, tf } from "cnn-lab";

before(async () => {
  await setupBackend({ quiet: true });
});

const toy = [[[[1], [2], [3]], [[4], [5], [6]], [[7], [8], [9]]]];
const ones = [[[[1]], [[1]]], [[[1]], [[1]]]];
const three = [[[[1, 10, -1]], [[1, 10, -1]]], [[[1, 10, -1]], [[1, 10, -1]]]];

test("shapeOf reads nested arrays and names the ragged row", () => {
  assert.deepEqual(shapeOf(toy), [1, 3, 3, 1]);
  assert.deepEqual(shapeOf(7), []);
  assert.throws(() => shapeOf([[1, 2], [3]]), { message: "values is ragged: [1] has length 1, expected 2 like its siblings (shape [2,2])" });
  assert.throws(() => shapeOf([[1, 2], 3]), /values is ragged: \[1\] should be an array of length 2, got 3/);
  assert.throws(() => shapeOf([1, [2]]), /values is ragged: \[1\] should be a number \(shape \[2\]\), got an array/);
});

test("constant builds a float32 tensor and checks the expected shape", () => {
  const image = constant(toy, [1, 3, 3, 1]);
  assert.equal(image.dtype, "float32");
  assert.deepEqual(image.shape, [1, 3, 3, 1]);
  assert.deepEqual(Array.from(image.dataSync()), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  image.dispose();
  assert.throws(() => constant(toy, [3, 3, 1]), { message: "constant: expected shape [3,3,1], got [1,3,3,1]" });
  assert.throws(() => constant([[1, 2], [3]]), /ragged/);
});

// Convolution by hand: multiply the same positions, sum to one number (the lecture's definition).
function convByHand(img: number[][], filter: number[][], pad: { top: number; left: number; bottom: number; right: number }): number[][] {
  const kh = filter.length, kw = filter[0].length;
  const h = img.length + pad.top + pad.bottom, w = img[0].length + pad.left + pad.right;
  const at = (r: number, c: number) => img[r - pad.top]?.[c - pad.left] ?? 0;
  const out: number[][] = [];
  for (let r = 0; r + kh <= h; r++) {
    const row: number[] = [];
    for (let c = 0; c + kw <= w; c++) {
      let s = 0;
      for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) s += at(r + i, c + j) * filter[i][j];
      row.push(s);
    }
    out.push(row);
  }
  return out;
}

test("constantInitializer gives a conv2d layer the lecture's filter (VALID and SAME numbers)", () => {
  const image = constant(toy);
  const valid = tf.layers.conv2d({ filters: 1, kernelSize: 2, padding: "valid", kernelInitializer: constantInitializer(ones) }).apply(image) as tf.Tensor;
  assert.deepEqual(valid.shape, [1, 2, 2, 1]);
  const grid = [[1, 2, 3], [4, 5, 6], [7, 8, 9]];
  const f = [[1, 1], [1, 1]];
  assert.deepEqual(valid.reshape([2, 2]).arraySync(), convByHand(grid, f, { top: 0, left: 0, bottom: 0, right: 0 }));
  assert.deepEqual(valid.reshape([2, 2]).arraySync(), [[12, 16], [24, 28]]);
  const same = tf.layers.conv2d({ filters: 1, kernelSize: 2, padding: "same", kernelInitializer: constantInitializer(ones) }).apply(image) as tf.Tensor;
  assert.deepEqual(same.shape, [1, 3, 3, 1]);
  assert.deepEqual(same.reshape([3, 3]).arraySync(), convByHand(grid, f, { top: 0, left: 0, bottom: 1, right: 1 }));
  assert.deepEqual(same.reshape([3, 3]).arraySync(), [[12, 16, 9], [24, 28, 15], [15, 17, 9]]);
});

test("constantInitializer accepts a tensor and rejects a weight that does not fit the layer", () => {
  const image = constant(toy);
  const w = tf.tensor4d(three.flat(3) as number[], [2, 2, 1, 3]);
  const out = tf.layers.conv2d({ filters: 3, kernelSize: 2, padding: "same", kernelInitializer: constantInitializer(w) }).apply(image) as tf.Tensor;
  assert.deepEqual(out.shape, [1, 3, 3, 3]);
  assert.throws(
    () => tf.layers.conv2d({ filters: 3, kernelSize: 2, padding: "same", kernelInitializer: constantInitializer(ones) }).apply(image),
    { message: "constantInitializer: the layer's kernel has shape [2,2,1,3] ([kernelHeight, kernelWidth, inChannels, filters]) but the weight has shape [2,2,1,1]" },
  );
  assert.throws(() => constantInitializer([[[[1]], [[1]]], [[[1]]]]), /weight is ragged: \[1\] has length 1, expected 2/);
});

test("featureMaps splits [1,h,w,c] into c maps (np.swapaxes(x, 0, 3)) without leaking tensors", () => {
  const image = constant(toy);
  const conv = tf.layers.conv2d({ filters: 3, kernelSize: 2, padding: "same", kernelInitializer: constantInitializer(three) }).apply(image) as tf.Tensor;
  const before = tf.memory().numTensors;
  const maps = featureMaps(conv);
  assert.equal(tf.memory().numTensors, before);
  const base = [[12, 16, 9], [24, 28, 15], [15, 17, 9]];
  assert.deepEqual(maps, [1, 10, -1].map((k) => base.map((row) => row.map((v) => v * k + 0))));
  // A non-square map keeps rows and columns apart.
  const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [1, 2, 3, 2]);
  assert.deepEqual(featureMaps(x), [[[1, 3, 5], [7, 9, 11]], [[2, 4, 6], [8, 10, 12]]]);
  assert.throws(() => featureMaps(tf.zeros([2, 3, 3, 1])), { message: "featureMaps: expected a batch-1 output of shape [1, height, width, channels], got [2,3,3,1]" });
  assert.throws(() => featureMaps(tf.zeros([3, 3])), /got \[3,3\]/);
});

test("formatArray prints like numpy (the lecture's float32 outputs)", () => {
  // numpy: print(np.array([[12,16],[24,28]], dtype=np.float32))
  assert.equal(formatArray([[12, 16], [24, 28]]), "[[12. 16.]\n [24. 28.]]");
  assert.equal(formatArray([[12, 16, 9], [24, 28, 15], [15, 17, 9]]), "[[12. 16.  9.]\n [24. 28. 15.]\n [15. 17.  9.]]");
  assert.equal(formatArray([[-12, -16, -9], [-24, -28, -15], [-15, -17, -9]]), "[[-12. -16.  -9.]\n [-24. -28. -15.]\n [-15. -17.  -9.]]");
  const t = tf.tensor4d([4], [1, 1, 1, 1]);
  assert.equal(formatArray(t), "[[[[4.]]]]");
  assert.equal(formatArray(tf.tensor4d([4, 3, 2, 1], [1, 2, 2, 1])), "[[[[4.]\n   [3.]]\n\n  [[2.]\n   [1.]]]]");
  assert.equal(formatArray([2.5, 2, 1.5, 1]), "[2.5 2.  1.5 1. ]");
  assert.equal(formatArray(tf.scalar(0.1)), "0.1"); // float32 0.1 is 0.10000000149; numpy shows 0.1
  assert.equal(formatArray(3), "3.");
  assert.throws(() => formatArray([[1], [2, 3]]), /ragged/);
});
