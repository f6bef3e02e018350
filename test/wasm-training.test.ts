// The wasm training kernels against the cpu backend (TF's reference kernels) on seeded random inputs.
// Values move between backends as plain arrays; every comparison is wasm (our kernels) vs cpu (stock).
import assert from "node:assert/strict";
import { before, test } from "node:test";
import { conv2dBackpropFilter, conv2dBackpropInput, flipFilter, createModel, DataParallelTrainer, installWasmTrainingKernels, installBatchNormGrad, batchNormGrad, setupBackend, tf } from "cnn-lab";

before(async () => {
  await setupBackend({ force: "wasm", quiet: true });
});

/** Seeded uniform values in [-1, 1), or small integers when `levels` is given (to force ties). */
function random(n: number, seed: number, levels?: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32;
    out[i] = levels ? Math.floor(u * levels) : 2 * u - 1;
  }
  return out;
}

interface Input { shape: number[]; values: Float32Array }
const input = (shape: number[], seed: number, levels?: number): Input =>
  ({ shape, values: random(shape.reduce((a, b) => a * b, 1), seed, levels) });

/** Runs f on the named backend with fresh tensors of the inputs; returns the outputs as arrays. */
async function on(backend: "wasm" | "cpu", inputs: Input[], f: (...t: tf.Tensor[]) => tf.Tensor | tf.Tensor[]): Promise<{ shape: number[]; values: Float32Array }[]> {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const out = tf.tidy(() => {
    const r = f(...inputs.map((i) => tf.tensor(i.values, i.shape)));
    return (Array.isArray(r) ? r : [r]).map((t) => ({ shape: t.shape, values: t.dataSync() as Float32Array }));
  });
  assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
  await tf.setBackend("wasm");
  return out;
}

/** wasm result equals cpu result: same shapes, values within 1e-4 of the largest magnitude. */
async function sameOnBoth(what: string, inputs: Input[], f: (...t: tf.Tensor[]) => tf.Tensor | tf.Tensor[]) {
  const [wasm, cpu] = [await on("wasm", inputs, f), await on("cpu", inputs, f)];
  assert.equal(wasm.length, cpu.length);
  wasm.forEach((w, k) => {
    const c = cpu[k];
    assert.deepEqual(w.shape, c.shape, `${what}: output ${k} shape`);
    let scale = 0, err = 0;
    c.values.forEach((v, i) => { scale = Math.max(scale, Math.abs(v)); err = Math.max(err, Math.abs(v - w.values[i])); });
    assert.ok(scale > 0, `${what}: output ${k} is all zeros, the test proves nothing`);
    assert.ok(err <= 1e-4 * scale, `${what}: output ${k} differs from cpu by ${err} (largest |value| ${scale})`);
  });
}

test("the wasm kernels are installed by setupBackend and reinstalling is harmless", () => {
  for (const k of ["Conv2DBackpropFilter", "Conv2DBackpropInput", "MaxPoolGrad", "BatchMatMul", "Sum", "Mean"]) {
    assert.ok(tf.getKernel(k, "wasm"), k);
  }
  const before = tf.getKernel("MaxPoolGrad", "wasm")!.kernelFunc;
  installWasmTrainingKernels();
  assert.equal(tf.getKernel("MaxPoolGrad", "wasm")!.kernelFunc, before);
});

// [x shape NHWC, filter shape, strides, pad]: VALID/SAME, strides 1/2/mixed, 1x1..5x5 and non-square
// filters, odd sizes where SAME puts the extra padding bottom/right, and both Conv2DBackpropFilter paths
// (few input channels: im2col matmul; many: swapped-axes convolution).
const convCases: [number[], number[], number | [number, number], "same" | "valid" | number][] = [
  [[2, 5, 5, 1], [3, 3, 1, 4], 1, "same"],
  [[2, 5, 5, 1], [3, 3, 1, 4], 1, "valid"],
  [[3, 7, 6, 3], [2, 2, 3, 5], 2, "same"],
  [[3, 7, 6, 3], [2, 2, 3, 5], 2, "valid"],
  [[2, 8, 8, 8], [3, 3, 8, 6], 1, "same"],
  [[2, 8, 8, 8], [3, 3, 8, 6], 2, "same"],
  [[2, 9, 7, 8], [3, 3, 8, 6], 2, "valid"],
  [[2, 6, 9, 10], [3, 2, 10, 4], [2, 1], "same"],
  [[1, 9, 9, 16], [5, 5, 16, 3], 2, "same"],
  [[2, 6, 6, 12], [1, 1, 12, 7], 2, "valid"],
  [[2, 6, 6, 8], [3, 3, 8, 4], 1, 1],
  [[4, 14, 14, 32], [3, 3, 32, 64], 1, "same"],
];

for (const [xs, fs, strides, pad] of convCases) {
  const name = `x [${xs}] filter [${fs}] strides ${strides} pad ${pad}`;
  test(`conv2d gradients match cpu: ${name}`, async () => {
    // dy has the forward output's shape; compute it on cpu from a probe convolution.
    const [probe] = await on("cpu", [input(xs, 1), input(fs, 2)], (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, strides, pad));
    const dy = input(probe.shape, 3);
    await sameOnBoth(`${name} via tf.grads`, [input(xs, 1), input(fs, 2), dy], (x, w, g) =>
      tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, strides, pad))([x, w], g));
  });
}

test("conv2d gradients match cpu for NCHW (kernels called directly)", async () => {
  const attrs = { strides: [2, 1], pad: "same", dataFormat: "NCHW" };
  const x = input([2, 8, 7, 9], 4), dy = input([2, 5, 4, 9], 5), w = input([3, 3, 8, 5], 6);
  await sameOnBoth("NCHW filter gradient", [x, dy], (a, b) =>
    tf.engine().runKernel("Conv2DBackpropFilter", { x: a, dy: b }, { ...attrs, filterShape: [3, 3, 8, 5] } as unknown as tf.NamedAttrMap) as tf.Tensor);
  await sameOnBoth("NCHW input gradient", [dy, w], (a, b) =>
    tf.engine().runKernel("Conv2DBackpropInput", { dy: a, filter: b }, { ...attrs, inputShape: [2, 8, 7, 9] } as unknown as tf.NamedAttrMap) as tf.Tensor);
});

test("conv2d gradient helpers name the expected and the given shapes", () => {
  const attrs = { strides: 1, pad: "same" as const, dataFormat: "NHWC" as const };
  tf.tidy(() => {
    assert.throws(() => conv2dBackpropFilter(tf.zeros([2, 5, 5, 1]), tf.zeros([2, 4, 4, 3]), [3, 3, 1, 3], attrs), {
      message: "conv2dBackpropFilter: expected dy of shape [2,5,5,3] (the convolution's output), got x [2,5,5,1], filter [3,3,1,3], dy [2,4,4,3]",
    });
    assert.throws(() => conv2dBackpropInput(tf.zeros([2, 5, 5, 3]) as tf.Tensor4D, tf.zeros([3, 3, 1, 3]), [5, 5, 1] as never, attrs), {
      message: "conv2dBackpropInput: expected rank-4 x, filter and dy, got x [5,5,1], filter [3,3,1,3], dy [2,5,5,3]",
    });
  });
});

// [x shape, filter size, strides, pad]; x holds small integers so many windows have tied maxima.
const poolCases: [number[], number | [number, number], number | [number, number], "same" | "valid"][] = [
  [[2, 6, 6, 3], 2, 2, "same"],
  [[2, 7, 7, 3], 2, 2, "same"],
  [[2, 7, 5, 4], 2, 2, "valid"],
  [[2, 7, 7, 3], 3, 1, "same"],
  [[2, 6, 5, 3], 2, 1, "valid"],
  [[2, 7, 8, 2], 3, 2, "valid"],
  [[1, 9, 9, 5], [3, 2], [2, 3], "same"],
  [[3, 28, 28, 32], 2, 2, "same"],
];
for (const [xs, size, strides, pad] of poolCases) {
  for (const levels of [undefined, 3]) {
    const name = `x [${xs}] size ${size} strides ${strides} pad ${pad}${levels ? " with ties" : ""}`;
    test(`max pool gradient matches cpu: ${name}`, async () => {
      // Distinct weights per output pixel, so a gradient sent to the wrong cell shows.
      await sameOnBoth(name, [input(xs, 7, levels)], (x) =>
        tf.grad((a: tf.Tensor) => {
          const y = tf.maxPool(a as tf.Tensor4D, size, strides, pad);
          return tf.sum(tf.mul(y, tf.reshape(tf.range(1, y.size + 1), y.shape)));
        })(x));
    });
  }
}

test("max pool gradient sends a tied window's gradient to its first maximum", async () => {
  // One 2x2 window of equal values: TF credits the top-left cell only.
  const [dx] = await on("wasm", [{ shape: [1, 2, 2, 1], values: new Float32Array([5, 5, 5, 5]) }], (x) =>
    tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool(a as tf.Tensor4D, 2, 2, "valid")))(x));
  assert.deepEqual(Array.from(dx.values), [1, 0, 0, 0]);
  // A window of -Infinity has no maximum position in TF: no cell gets its gradient.
  const [none] = await on("wasm", [{ shape: [1, 2, 2, 1], values: new Float32Array(4).fill(-Infinity) }], (x) =>
    tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool(a as tf.Tensor4D, 2, 2, "valid")))(x));
  assert.deepEqual(Array.from(none.values), [0, 0, 0, 0]);
});

test("matMul with transposes matches cpu (rank 2 and batched)", async () => {
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
    const a2 = input(ta ? [7, 5] : [5, 7], 9), b2 = input(tb ? [3, 7] : [7, 3], 10);
    await sameOnBoth(`2D ${ta} ${tb}`, [a2, b2], (a, b) => tf.matMul(a, b, ta, tb));
    const a3 = input(ta ? [2, 7, 5] : [2, 5, 7], 11), b3 = input(tb ? [2, 3, 7] : [2, 7, 3], 12);
    await sameOnBoth(`3D ${ta} ${tb}`, [a3, b3], (a, b) => tf.matMul(a, b, ta, tb));
  }
  // a·bᵀ with b much larger than a (the Dense layer's dy·Wᵀ) is computed as (b·aᵀ)ᵀ.
  await sameOnBoth("2D a·bᵀ, large b", [input([3, 16], 13), input([40, 16], 14)], (a, b) => tf.matMul(a, b, false, true));
  await sameOnBoth("3D a·bᵀ, large b", [input([2, 3, 16], 15), input([2, 40, 16], 16)], (a, b) => tf.matMul(a, b, false, true));
});

test("a·bᵀ computed as (b·aᵀ)ᵀ gives the same bits as transposing b first (the lecture's Dense gradient shapes)", async () => {
  const dy = tf.tensor(random(50 * 256, 17), [50, 256]), w = tf.tensor(random(2048 * 256, 18), [2048, 256]);
  let swapped!: Float32Array;
  const profile = await tf.profile(() => { swapped = tf.tidy(() => tf.matMul(dy, w, false, true).dataSync() as Float32Array); });
  const direct = tf.tidy(() => tf.matMul(dy, tf.transpose(w)).dataSync());
  tf.dispose([dy, w]);
  const transposed = profile.kernels.filter((k) => k.name === "Transpose").map((k) => k.inputShapes[0]);
  assert.ok(transposed.length > 0 && !transposed.some((s) => s?.join() === "2048,256"), `the weights were transposed: ${JSON.stringify(transposed)}`);
  assert.equal(swapped.length, 50 * 2048);
  const differ = direct.filter((v, i) => v !== swapped[i]).length;
  assert.equal(differ, 0, `${differ} of ${direct.length} values differ`);
});

test("flipFilter rotates the filter 180° and swaps its channels, exactly as reverse + transpose", () => {
  tf.tidy(() => {
    const f = tf.tensor4d(random(3 * 2 * 4 * 5, 19), [3, 2, 4, 5]);
    const flipped = flipFilter(f);
    assert.deepEqual(flipped.shape, [3, 2, 5, 4]);
    assert.deepEqual(Array.from(flipped.dataSync()), Array.from(tf.transpose(tf.reverse(f, [0, 1]), [0, 1, 3, 2]).dataSync()));
    assert.notDeepEqual(Array.from(flipped.dataSync()), Array.from(tf.transpose(f, [0, 1, 3, 2]).dataSync()), "a flip that forgot the rotation");
  });
});

test("sum and mean match cpu over leading axes (bias gradient, batch-norm statistics) and elsewhere", async () => {
  const x = input([4, 5, 6, 7], 13);
  for (const [axis, keepDims] of [[[0, 1, 2], false], [[0, 1, 2], true], [0, false], [[1, 0], true], [[1, 2], false], [3, false], [null, false]] as const) {
    await sameOnBoth(`sum axis ${axis} keepDims ${keepDims}`, [x], (t) => tf.sum(t, axis as never, keepDims));
  }
  for (const [axis, keepDims] of [[[0, 1, 2], false], [[0, 1, 2], true], [[1, 2], false], [null, false]] as const) {
    await sameOnBoth(`mean axis ${axis} keepDims ${keepDims}`, [x], (t) => tf.mean(t, axis as never, keepDims));
  }
  const ints = await on("wasm", [input([3, 4], 14, 5)], (t) => tf.sum(tf.cast(t, "int32"), 0));
  assert.deepEqual(ints[0].shape, [4]);
});

test("lecture CNN: every weight gradient on wasm matches cpu", async () => {
  const x = input([4, 28, 28, 1], 15), labels = input([4, 10], 16);
  labels.values = labels.values.map((_, i) => (i % 10 === (Math.floor(i / 10) * 3) % 10 ? 1 : 0));
  const grads = async (backend: "wasm" | "cpu") => {
    await tf.setBackend(backend);
    const model = createModel(7); // built on this backend: same seed, same weights
    const out = await on(backend, [x, labels], (xs, ys) => {
      const { grads } = tf.variableGrads(() =>
        tf.losses.softmaxCrossEntropy(ys, model.apply(xs, { training: false }) as tf.Tensor) as tf.Scalar,
        model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val));
      return Object.values(grads);
    });
    model.dispose();
    return out;
  };
  const [wasm, cpu] = [await grads("wasm"), await grads("cpu")];
  assert.equal(wasm.length, 10);
  wasm.forEach((w, k) => {
    let scale = 0, err = 0;
    cpu[k].values.forEach((v, i) => { scale = Math.max(scale, Math.abs(v)); err = Math.max(err, Math.abs(v - w.values[i])); });
    assert.ok(scale > 0 && err <= 1e-4 * scale, `weight ${k} [${w.shape}]: differs by ${err} (scale ${scale})`);
  });
});

test("clone and same-dtype cast share memory safely; other casts convert", async () => {
  await tf.setBackend("wasm");
  const before = tf.memory().numTensors;
  const x = tf.tensor([1.5, -2, 3]);
  const copy = tf.clone(x), same = tf.cast(x, "float32"), ints = tf.cast(x, "int32");
  x.dispose(); // the shared memory must outlive x
  assert.deepEqual(Array.from(copy.dataSync()), [1.5, -2, 3]);
  assert.deepEqual(Array.from(same.dataSync()), [1.5, -2, 3]);
  assert.equal(ints.dtype, "int32");
  assert.deepEqual(Array.from(ints.dataSync()), [1, -2, 3]);
  tf.dispose([copy, same, ints]);
  assert.equal(tf.memory().numTensors, before);
});

test("a training step on wasm leaves the tensor count unchanged", () => {
  const model = createModel(1);
  const optimizer = tf.train.adam(0.001);
  const x = tf.randomUniform([8, 28, 28, 1]), y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], "int32"), 10);
  const step = () => tf.tidy(() => {
    optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar);
  });
  step(); // the first step creates Adam's moment variables
  const before = tf.memory().numTensors;
  step(); step();
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
});

test("a data-parallel step equals a single-threaded step on the whole batch", async () => {
  // No dropout, so both runs see the same function; 9 examples split 5/4 checks the shard weighting.
  const build = () => {
    const m = tf.sequential();
    m.add(tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, padding: "same", activation: "relu", kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
    m.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: "same" }));
    m.add(tf.layers.flatten());
    m.add(tf.layers.dense({ units: 10, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
    return m;
  };
  const x = tf.tensor(random(9 * 64, 17), [9, 8, 8, 1]);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7, 8], "int32"), 10);
  const single = build(), parallel = build();
  const optSingle = tf.train.adam(0.01), optParallel = tf.train.adam(0.01);
  const trainer = await DataParallelTrainer.create(parallel, optParallel, { workers: 1 });
  try {
    for (let step = 0; step < 3; step++) {
      let expectedAccuracy = 0;
      const expected = tf.tidy(() => optSingle.minimize(() => {
        const logits = single.apply(x) as tf.Tensor;
        expectedAccuracy = tf.mean(tf.cast(tf.equal(tf.argMax(logits, -1), tf.argMax(y, -1)), "float32")).dataSync()[0];
        return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
      }, true)!.dataSync()[0]);
      const before = tf.memory().numTensors;
      const { loss, accuracy } = await trainer.step(x, y);
      if (step > 0) assert.equal(tf.memory().numTensors, before, "data-parallel step leaked tensors");
      assert.ok(Math.abs(loss - expected) < 1e-5, `step ${step}: loss ${loss}, single-threaded ${expected}`);
      assert.ok(Math.abs(accuracy - expectedAccuracy) < 1e-6, `step ${step}: accuracy ${accuracy}, single-threaded ${expectedAccuracy}`);
      // The timing bench reports: one shard per thread, the parts within the whole.
      const t = trainer.lastTiming!;
      assert.equal(t.shards.length, 2);
      assert.ok(t.shards.every((ms) => ms > 0) && [t.send, t.wait, t.update].every((ms) => ms >= 0), JSON.stringify(t));
      assert.ok(t.send + t.shards[0] + t.wait + t.update <= t.total + 1e-6 && t.shards[1] <= t.total, JSON.stringify(t));
    }
    single.getWeights().forEach((w, i) => {
      const a = w.dataSync(), b = parallel.getWeights()[i].dataSync();
      const err = Math.max(...Array.from(a, (v, k) => Math.abs(v - b[k])));
      assert.ok(err < 1e-5, `weight ${i} differs by ${err}`);
    });
    await assert.rejects(trainer.step(x, tf.zeros([8, 10])), { message: "step: x has 9 examples but y has 8" });
    await assert.rejects(trainer.step(x.slice(0, 1), y.slice(0, 1)), { message: "step: a batch of 1 cannot be split across 2 threads" });
  } finally {
    await trainer.dispose();
    tf.dispose([x, y]);
  }
});

test("batch norm's gradient without Tile: the same numbers as tfjs-core's own, and no Tile kernel runs", async () => {
  const stock = installBatchNormGrad();
  assert.ok(stock && stock !== batchNormGrad, "the stock gradient was replaced (and kept for this comparison)");
  const x = tf.randomNormal([8, 5, 5, 6], 0, 1, "float32", 3);
  const gamma = tf.randomUniform([6], 0.5, 1.5, "float32", 4), beta = tf.randomUniform([6], -1, 1, "float32", 5);
  const w = tf.randomNormal([8, 5, 5, 6], 0, 1, "float32", 6);
  // Batch statistics, as a BatchNormalization layer in training mode: gradients flow through the moments too.
  const f = (xs: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const { mean, variance } = tf.moments(xs, [0, 1, 2]);
    return tf.sum(tf.mul(tf.batchNorm(xs, mean, variance, b, g, 0.001), w));
  };
  const run = async () => {
    let grads: tf.Tensor[] = [];
    const prof = await tf.profile(() => { grads = tf.grads(f)([x, gamma, beta]); });
    return { grads: grads.map((t) => t.dataSync()), kernels: new Set(prof.kernels.map((k) => k.name)) };
  };
  const ours = await run();
  tf.registerGradient(stock!);
  let theirs: Awaited<ReturnType<typeof run>>;
  try {
    theirs = await run();
  } finally {
    tf.registerGradient(batchNormGrad);
  }
  assert.ok(theirs.kernels.has("Tile"), "tfjs-core's gradient tiles (what this replacement avoids)");
  assert.ok(!ours.kernels.has("Tile"), `no Tile in ours: ${[...ours.kernels].join(", ")}`);
  ours.grads.forEach((g, i) => assert.deepEqual(g, theirs.grads[i], `gradient ${["x", "gamma", "beta"][i]} differs`));
  tf.dispose([x, gamma, beta, w]);
});
