// What the project adds to tfjs-node: the util functions Node 23 removed (checked on any Node), and the Transform
// kernel (checked where tfjs-node is installed: CI provisions it), bit-equal to wasm's on lab-11-5's augmentation of
// real digits and for both interpolations. Not compared with cpu: tfjs-backend-cpu 4.22's Transform reads only the
// first image of a batch right (the next ones come out 0), where wasm and TensorFlow agree.
import assert from "node:assert/strict";
import { test } from "node:test";
import { tf, setupBackend, restoreRemovedUtil, defaultWorkers, loadMnist, mnistForTraining, augmentBatch } from "cnn-lab";

let tfjsNode = true;
try { require.resolve("@tensorflow/tfjs-node"); } catch { tfjsNode = false; }
const noTfjsNode = !tfjsNode && "tfjs-node is not installed here (npm run tfjs-node:from-wheel)";

test("restoreRemovedUtil adds isNullOrUndefined and isArray where missing, and leaves them where present", () => {
  const removed: Record<string, unknown> = {};
  assert.deepEqual(restoreRemovedUtil(removed), ["isNullOrUndefined", "isArray"]);
  const isNull = removed.isNullOrUndefined as (v: unknown) => boolean;
  assert.deepEqual([isNull(null), isNull(undefined), isNull(0), isNull(""), isNull(false)], [true, true, false, false, false]);
  assert.equal(removed.isArray, Array.isArray);
  const own = () => true;
  const present: Record<string, unknown> = { isNullOrUndefined: own, isArray: own };
  assert.deepEqual(restoreRemovedUtil(present), []);
  assert.equal(present.isNullOrUndefined, own);
  // The real module: after the call (setupBackend makes it before tfjs-node loads) both exist on every Node.
  restoreRemovedUtil();
  const util = require("node:util");
  assert.equal(typeof util.isNullOrUndefined, "function");
  assert.equal(typeof util.isArray, "function");
});

/** Runs f on each backend (activated through setupBackend, which installs the project's kernels) and returns its values. */
async function on(backends: ("tensorflow" | "wasm" | "cpu")[], f: () => tf.Tensor): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const b of backends) {
    await setupBackend({ force: b, quiet: true });
    const t = f();
    out.push(t.dataSync() as Float32Array);
    t.dispose();
  }
  return out;
}

test("tensorflow's Transform equals wasm's bit for bit on lab-11-5's augmentation (200 MNIST digits, 5 copies each)", { skip: noTfjsNode }, async () => {
  const data = mnistForTraining((await loadMnist()).train, 200);
  const indices = Array.from({ length: 1000 }, (_, j) => j);
  const [tfOut, wasmOut] = await on(["tensorflow", "wasm"], () => augmentBatch(tf.tensor4d(data.images.dataSync(), data.images.shape as [number, number, number, number]), indices, 777));
  assert.equal(tfOut.length, 1000 * 784);
  assert.ok(tfOut.some((v, i) => v !== 0 && v !== data.images.dataSync()[i % (200 * 784)]), "the augmentation moved nothing");
  assert.deepEqual(tfOut, wasmOut);
});

// "reflect" is left out: there TensorFlow's and tfjs-wasm's edge rules differ (each backend keeps its own).
test("tensorflow's Transform equals wasm's for nearest and bilinear, fill modes constant/wrap/nearest, a fill value, a projective matrix, one shared matrix and another output size", { skip: noTfjsNode }, async () => {
  const cases: [string, string, number, number[][], [number, number] | undefined][] = [];
  const m = [[0.9, -0.3, 2.2, 0.35, 1.1, -1.7, 0.01, -0.02], [1, 0, -3.25, 0, 1, 2.25, 0, 0]];
  for (const interp of ["nearest", "bilinear"]) {
    for (const fill of ["constant", "wrap", "nearest"]) cases.push([interp, fill, fill === "constant" ? 0.5 : 0, m, undefined]);
  }
  cases.push(["bilinear", "constant", 0, [m[0]], [7, 9]]);
  for (const [interp, fill, value, mats, shape] of cases) {
    const run = () => tf.image.transform(tf.tensor4d(Array.from({ length: 2 * 6 * 5 * 2 }, (_, i) => Math.fround(Math.sin(i) * 3)), [2, 6, 5, 2]),
      tf.tensor2d(mats), interp as "bilinear", fill as "constant", value, shape);
    const [a, b] = await on(["tensorflow", "wasm"], run);
    assert.deepEqual(Array.from(a), Array.from(b), `${interp} ${fill} ${shape ?? ""}`);
  }
});

test("default worker threads (npm run train and npm run bench): cores - 1 on wasm only; TensorFlow runs its own threads", () => {
  assert.equal(defaultWorkers("wasm", 2), 1);
  assert.equal(defaultWorkers("wasm", 8), 7);
  assert.equal(defaultWorkers("wasm", 1), 0);
  assert.equal(defaultWorkers("tensorflow", 8), 0);
  assert.equal(defaultWorkers("cpu", 8), 0);
});
