// The VALID/SAME output-size rule, checked against counting filter positions by hand and against tf.layers.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { outputSize, paddingMode, samePadding, setupBackend, tf } from "cnn-lab";

before(async () => {
  await setupBackend({ quiet: true });
});

// VALID: filter positions that stay inside the input, every `stride` steps from the first.
function countValid(n: number, k: number, s: number): number {
  let count = 0;
  for (let start = 0; start + k <= n; start += s) count++;
  return count;
}

test("paddingMode accepts the lecture's spelling and rejects unknown padding", () => {
  assert.equal(paddingMode("VALID"), "valid");
  assert.equal(paddingMode("same"), "same");
  assert.throws(() => paddingMode("FULL"), { message: 'unknown padding "FULL": expected "VALID" or "SAME" (any case)' });
  assert.throws(() => outputSize(3, 2, 1, "half"), /unknown padding "half"/);
});

test("outputSize: the lecture's 3x3 image with a 2x2 filter", () => {
  assert.equal(outputSize(3, 2, 1, "VALID"), 2);
  assert.equal(outputSize(3, 2, 1, "SAME"), 3);
  assert.equal(outputSize(28, 3, 2, "SAME"), 14); // MNIST conv, strides 2
  assert.equal(outputSize(14, 2, 2, "SAME"), 7); // then max pooling
  assert.equal(outputSize(7, 2, 2, "SAME"), 4); // 7 -> 4 in the full CNN
  assert.throws(() => outputSize(3, 0, 1, "VALID"), { message: "kernelSize must be a positive integer, got 0" });
});

test("outputSize matches counting by hand and conv2d / maxPooling2d layers for many sizes and strides", () => {
  for (let n = 1; n <= 9; n++) {
    for (let k = 1; k <= 4; k++) {
      for (let s = 1; s <= 3; s++) {
        assert.equal(outputSize(n, k, s, "VALID"), countValid(n, k, s), `VALID n=${n} k=${k} s=${s}`);
        // SAME pads so that every stride-th position starts a window: ceil(n / s) of them.
        assert.equal(outputSize(n, k, s, "SAME"), Math.floor((n - 1) / s) + 1, `SAME n=${n} k=${k} s=${s}`);
      }
    }
  }
  for (const [n, k, s] of [[3, 2, 1], [5, 3, 2], [7, 2, 2], [8, 3, 3], [6, 4, 1]]) {
    for (const p of ["VALID", "SAME"]) {
      const x = tf.zeros([1, n, n, 1]);
      const conv = tf.layers.conv2d({ filters: 1, kernelSize: k, strides: s, padding: paddingMode(p) }).apply(x) as tf.Tensor;
      const pool = tf.layers.maxPooling2d({ poolSize: k, strides: s, padding: paddingMode(p) }).apply(x) as tf.Tensor;
      const m = outputSize(n, k, s, p);
      assert.deepEqual(conv.shape, [1, m, m, 1], `conv2d ${p} n=${n} k=${k} s=${s}`);
      assert.deepEqual(pool.shape, [1, m, m, 1], `maxPooling2d ${p} n=${n} k=${k} s=${s}`);
      tf.dispose([x, conv, pool]);
    }
  }
});

test("samePadding puts the odd padding cell after (bottom / right)", () => {
  assert.deepEqual(samePadding(3, 2, 1), { before: 0, after: 1 }); // the lecture's SAME case
  assert.deepEqual(samePadding(3, 3, 1), { before: 1, after: 1 });
  assert.deepEqual(samePadding(28, 3, 2), { before: 0, after: 1 });
  assert.deepEqual(samePadding(6, 2, 2), { before: 0, after: 0 });
  // SAME output of a 2x2 all-ones filter equals VALID on the input padded 0 before, 1 after.
  const image = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
  const filter = tf.ones([2, 2, 1, 1]) as tf.Tensor4D;
  const same = tf.conv2d(image, filter, 1, "same");
  const padded = tf.conv2d(tf.pad(image, [[0, 0], [0, 1], [0, 1], [0, 0]]) as tf.Tensor4D, filter, 1, "valid");
  assert.deepEqual(same.arraySync(), padded.arraySync());
});
