// The IDX parser on small files built here byte by byte, every error path of loadMnist, and facts of the real set.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import * as tf from "@tensorflow/tfjs";
import { encodeIdx, parseIdx } from "../lib/src/data/idx";
import { MNIST_FILES, imagesTensor, labelsTensor, loadMnist, mnistDataDir } from "../lib/src/data/mnist";

tf.env().set("PROD", true); // no "install tfjs-node" banner in the test output

const tmpDirs: string[] = [];
function tmp(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "mnist-test-"));
  tmpDirs.push(dir);
  return dir;
}
after(() => tmpDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A tiny MNIST-shaped folder: `train` images of 2x3 pixels with labels, `test` likewise. */
function writeTinySet(dir: string, opts: { gz?: boolean; trainLabels?: number[]; testRows?: number } = {}) {
  const train = [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]; // two 2x3 images
  const testRows = opts.testRows ?? 2;
  const test = Array.from({ length: testRows * 3 }, (_, i) => 100 + i); // one image
  const files: Record<string, Uint8Array> = {
    [MNIST_FILES.trainImages]: encodeIdx([2, 2, 3], train),
    [MNIST_FILES.trainLabels]: encodeIdx([opts.trainLabels?.length ?? 2], opts.trainLabels ?? [5, 0]),
    [MNIST_FILES.testImages]: encodeIdx([1, testRows, 3], test),
    [MNIST_FILES.testLabels]: encodeIdx([1], [7]),
  };
  for (const [name, bytes] of Object.entries(files)) {
    if (opts.gz) writeFileSync(path.join(dir, `${name}.gz`), gzipSync(bytes));
    else writeFileSync(path.join(dir, name), bytes);
  }
  return { train, test };
}

/** A copy of the real files, so a test can damage one. */
function copyRealSet(): string {
  const dir = tmp();
  for (const name of Object.values(MNIST_FILES)) copyFileSync(path.join(mnistDataDir(), name), path.join(dir, name));
  return dir;
}

describe("parseIdx", () => {
  test("reads the big-endian header and returns the data as a view", () => {
    // Written by hand: magic 0x00000803 (unsigned byte, 3 dims), dims 2 x 1 x 300 (300 = 0x012C needs two bytes).
    const header = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0x01, 0x2c];
    const data = Array.from({ length: 600 }, (_, i) => i % 256);
    const bytes = Uint8Array.from([...header, ...data]);
    const idx = parseIdx(bytes, 3, "x.idx");
    assert.deepEqual(idx.dims, [2, 1, 300]);
    assert.deepEqual(Array.from(idx.data), data);
    assert.equal(idx.data.buffer, bytes.buffer, "no copy of the pixels");
    assert.deepEqual(encodeIdx([2, 1, 300], data), bytes);
    assert.throws(() => encodeIdx([2, 2], [1, 2, 3]), /encodeIdx: dims 2x2 need 4 values, given 3/);
  });

  test("label file: magic 2049, one dimension", () => {
    const idx = parseIdx(Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 3, 9, 0, 4]), 1, "l.idx");
    assert.deepEqual(idx.dims, [3]);
    assert.deepEqual(Array.from(idx.data), [9, 0, 4]);
  });

  test("wrong magic numbers say why", () => {
    const labels = encodeIdx([2], [1, 2]);
    assert.throws(() => parseIdx(labels, 3, "a.idx"), /^Error: a\.idx: wrong magic number 0x00000801 \(2049\), expected 0x00000803 \(2051\): 1 dimensions, expected 3$/);
    const floats = Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 0]);
    assert.throws(() => parseIdx(floats, 1, "f.idx"), /f\.idx: wrong magic number .*data type 0x0d \(float32\), expected 0x08 \(unsigned byte\)/);
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]);
    assert.throws(() => parseIdx(png, 1, "p.png"), /p\.png: wrong magic number 0x89504e47 .*: not an IDX file/);
  });

  test("truncated header, truncated data, trailing bytes", () => {
    assert.throws(() => parseIdx(Uint8Array.from([0, 0, 8, 3, 0, 0]), 3, "h.idx"), /h\.idx: truncated: 6 bytes, shorter than the 16-byte IDX header/);
    const full = encodeIdx([2, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.throws(() => parseIdx(full.subarray(0, full.length - 3), 3, "t.idx"), /t\.idx: truncated: header says 2x2x2 = 8 bytes of data, file has 5/);
    const longer = Uint8Array.from([...full, 0]);
    assert.throws(() => parseIdx(longer, 3, "t.idx"), /t\.idx: trailing bytes: header says 2x2x2 = 8 bytes of data, file has 9/);
  });
});

describe("loadMnist on small generated files", () => {
  for (const gz of [false, true]) {
    test(`reads a folder of ${gz ? "gzip-compressed" : "plain"} files`, async () => {
      const dir = tmp();
      const { train, test: testPixels } = writeTinySet(dir, { gz });
      const m = await loadMnist({ dir, verify: false });
      assert.equal(m.dir, dir);
      assert.equal(m.verified, false);
      assert.deepEqual([m.rows, m.cols, m.train.count, m.test.count], [2, 3, 2, 1]);
      assert.deepEqual(Array.from(m.train.images), train);
      assert.deepEqual(Array.from(m.train.labels), [5, 0]);
      assert.deepEqual(Array.from(m.test.images), testPixels);
      assert.deepEqual(Array.from(m.test.labels), [7]);
    });
  }

  test("missing file", async () => {
    const dir = tmp();
    writeTinySet(dir);
    rmSync(path.join(dir, MNIST_FILES.testLabels));
    await assert.rejects(loadMnist({ dir, verify: false }), {
      message: `${path.join(dir, "t10k-labels-idx1-ubyte")}: missing file: expected t10k-labels-idx1-ubyte or t10k-labels-idx1-ubyte.gz in ${dir}`,
    });
  });

  test("missing folder", async () => {
    const dir = path.join(tmp(), "nope");
    await assert.rejects(loadMnist({ dir }), /nope[/\\]train-images-idx3-ubyte: missing file/);
  });

  test("mismatched image and label counts", async () => {
    const dir = tmp();
    writeTinySet(dir, { trainLabels: [5, 0, 4] });
    await assert.rejects(loadMnist({ dir, verify: false }), /train-labels-idx1-ubyte: mismatched counts: 3 labels, but .*train-images-idx3-ubyte has 2 images/);
  });

  test("a label that is not a digit", async () => {
    const dir = tmp();
    writeTinySet(dir, { trainLabels: [5, 12] });
    await assert.rejects(loadMnist({ dir, verify: false }), /train-labels-idx1-ubyte: label 12 at index 1, expected a digit 0\.\.9/);
  });

  test("train and test images of different sizes", async () => {
    const dir = tmp();
    writeTinySet(dir, { testRows: 4 });
    await assert.rejects(loadMnist({ dir, verify: false }), /t10k-images-idx3-ubyte: images are 4x3, but .*train-images-idx3-ubyte has 2x3/);
  });

  test("a .gz that is not gzip", async () => {
    const dir = tmp();
    writeTinySet(dir, { gz: true });
    writeFileSync(path.join(dir, `${MNIST_FILES.trainLabels}.gz`), encodeIdx([2], [5, 0]));
    await assert.rejects(loadMnist({ dir, verify: false }), /train-labels-idx1-ubyte\.gz: not a valid gzip file/);
  });

  test("verification refuses files that are not the canonical MNIST", async () => {
    const dir = tmp();
    writeTinySet(dir);
    await assert.rejects(loadMnist({ dir }), /train-images-idx3-ubyte: 28 bytes \(uncompressed\), expected 47040016 as in the canonical train-images-idx3-ubyte/);
  });

  test("a folder where a file is expected is named, with what was expected", async () => {
    const dir = tmp();
    writeTinySet(dir);
    rmSync(path.join(dir, MNIST_FILES.trainLabels));
    mkdirSync(path.join(dir, MNIST_FILES.trainLabels));
    await assert.rejects(loadMnist({ dir, verify: false }), {
      message: `${path.join(dir, MNIST_FILES.trainLabels)}: is a folder, expected the IDX file train-labels-idx1-ubyte (or train-labels-idx1-ubyte.gz)`,
    });
  });

  test("a FIFO where a file is expected is named as one, and nothing waits for a writer", async () => {
    const dir = tmp();
    writeTinySet(dir);
    const fifo = path.join(dir, MNIST_FILES.testImages);
    rmSync(fifo);
    execFileSync("mkfifo", [fifo]);
    await assert.rejects(loadMnist({ dir, verify: false }), {
      message: `${fifo}: is a FIFO (named pipe), expected the IDX file t10k-images-idx3-ubyte (or t10k-images-idx3-ubyte.gz)`,
    });
  });

  test("a loop of symbolic links is called one, not a missing file", async () => {
    const dir = tmp();
    writeTinySet(dir);
    const file = path.join(dir, MNIST_FILES.trainImages);
    rmSync(file);
    symlinkSync("loop", file);
    symlinkSync(MNIST_FILES.trainImages, path.join(dir, "loop"));
    await assert.rejects(loadMnist({ dir, verify: false }), {
      message: `${file}: cannot read the IDX file train-images-idx3-ubyte (or train-images-idx3-ubyte.gz): it is a loop of symbolic links (ELOOP)`,
    });
  });

  test("a .gz that expands beyond what its IDX header promises is stopped there (a gzip bomb)", async () => {
    const dir = tmp();
    writeTinySet(dir, { gz: true });
    // The header promises 2 images of 2x3 pixels (28 bytes in all); the data goes on for 64 MB of zeros.
    const bomb = Buffer.concat([encodeIdx([2, 2, 3], new Uint8Array(12)), Buffer.alloc(64 * 2 ** 20)]);
    writeFileSync(path.join(dir, `${MNIST_FILES.trainImages}.gz`), gzipSync(bomb));
    await assert.rejects(loadMnist({ dir, verify: false }), {
      message: `${path.join(dir, `${MNIST_FILES.trainImages}.gz`)}: decompresses to more than the 28 bytes its IDX header promises: stopped (corrupt, or not MNIST)`,
    });
  });
});

describe("loadMnist on damaged copies of the real files", () => {
  test("a corrupted pixel fails the checksum", async () => {
    const dir = copyRealSet();
    const file = path.join(dir, MNIST_FILES.trainImages);
    const bytes = readFileSync(file);
    bytes[16 + 784 * 100 + 400] ^= 0xff; // one pixel of image 100; header and size stay valid
    writeFileSync(file, bytes);
    await assert.rejects(
      loadMnist({ dir }),
      new RegExp(`^Error: ${escape(file)}: checksum mismatch: SHA-256 [0-9a-f]{64}, expected ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db \\(canonical train-images-idx3-ubyte\\)`),
    );
    // Without verification the same file parses: the checksum is the only thing that can catch it.
    const m = await loadMnist({ dir, verify: false });
    assert.equal(m.train.count, 60000);
  });

  test("a file corrupted after it was verified is checked again", async () => {
    const dir = copyRealSet();
    await loadMnist({ dir });
    const file = path.join(dir, MNIST_FILES.testLabels);
    const bytes = readFileSync(file);
    bytes[8] = bytes[8] === 0 ? 1 : 0;
    writeFileSync(file, bytes);
    await assert.rejects(loadMnist({ dir }), /t10k-labels-idx1-ubyte: checksum mismatch/);
  });

  test("a truncated file", async () => {
    const dir = copyRealSet();
    const file = path.join(dir, MNIST_FILES.testImages);
    writeFileSync(file, readFileSync(file).subarray(0, 5_000_000));
    await assert.rejects(loadMnist({ dir }), {
      message: `${file}: truncated: header says 10000x28x28 = 7840000 bytes of data, file has 4999984`,
    });
  });

  test("a wrong magic number", async () => {
    const dir = copyRealSet();
    const file = path.join(dir, MNIST_FILES.trainLabels);
    const bytes = readFileSync(file);
    bytes[3] = 3; // claims 3 dimensions
    writeFileSync(file, bytes);
    await assert.rejects(loadMnist({ dir }), /train-labels-idx1-ubyte: wrong magic number 0x00000803 \(2051\), expected 0x00000801 \(2049\)/);
  });
});

describe("the real MNIST", () => {
  // Class frequencies of the canonical set (the counts commonly quoted for MNIST: e.g. 5923 zeros in training).
  const TRAIN_PER_CLASS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
  const TEST_PER_CLASS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];
  const perClass = (labels: Uint8Array) => {
    const counts = new Array(10).fill(0);
    for (const d of labels) counts[d]++;
    return counts;
  };

  test("counts, shapes, first labels, per-class counts, pixel range", async () => {
    const m = await loadMnist();
    assert.equal(m.verified, true);
    assert.deepEqual([m.train.count, m.test.count, m.rows, m.cols], [60000, 10000, 28, 28]);
    assert.equal(m.train.images.length, 60000 * 28 * 28);
    assert.equal(m.test.images.length, 10000 * 28 * 28);
    assert.equal(m.train.labels[0], 5, "the lecture's train_images[0] is a 5");
    assert.equal(m.test.labels[0], 7);
    assert.deepEqual(perClass(m.train.labels), TRAIN_PER_CLASS);
    assert.deepEqual(perClass(m.test.labels), TEST_PER_CLASS);
    assert.equal(Math.min(...m.train.images.subarray(0, 784)), 0);
    assert.equal(Math.max(...m.train.images.subarray(0, 784)), 255);
  });

  test("the same set gzip-compressed by anyone loads verified and identical", async () => {
    const dir = tmp();
    for (const name of Object.values(MNIST_FILES)) {
      writeFileSync(path.join(dir, `${name}.gz`), gzipSync(readFileSync(path.join(mnistDataDir(), name)), { level: 1 }));
    }
    const [gz, plain] = await Promise.all([loadMnist({ dir }), loadMnist()]);
    assert.deepEqual(gz.train.labels, plain.train.labels);
    assert.ok(Buffer.compare(gz.train.images, plain.train.images) === 0);
    assert.ok(Buffer.compare(gz.test.images, plain.test.images) === 0);
  });

  test("imagesTensor / labelsTensor: raw int32 values, no leaked tensors", async () => {
    const m = await loadMnist();
    const before = tf.memory().numTensors;
    const images = imagesTensor(m.train, 0, 25);
    const labels = labelsTensor(m.train, 0, 25);
    assert.deepEqual(images.shape, [25, 28, 28]);
    assert.equal(images.dtype, "int32");
    assert.deepEqual(Array.from(images.dataSync()), Array.from(m.train.images.subarray(0, 25 * 784)));
    assert.deepEqual(Array.from(labels.dataSync()), Array.from(m.train.labels.subarray(0, 25)));
    const last = imagesTensor(m.test, 9999);
    assert.deepEqual(last.shape, [1, 28, 28]);
    assert.deepEqual(Array.from(last.dataSync()), Array.from(m.test.images.subarray(9999 * 784)));
    tf.dispose([images, labels, last]);
    assert.equal(tf.memory().numTensors, before);
    assert.throws(() => imagesTensor(m.test, 5, 10001), /image range \[5, 10001\) is not within 0\.\.10000/);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
