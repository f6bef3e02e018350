// npm run predict -- IMAGE [--model DIR] [--backend X]
// Classifies your own digit image with a trained checkpoint and prints the top-3 probabilities.
// Any size, light or dark background: it is made MNIST-like first (see lib/src/data/digit-image.ts):
// inverted to white-on-black if the background is light, cropped to the ink, scaled to 20 px on the
// longer side and centred by centre of mass in 28x28.
import * as fs from "node:fs";
import * as path from "node:path";
import { parseFlags, runCli, UsageError } from "./cli";
import { userPath } from "./user-path";
import { imageHeader } from "./image-file";
import { loadImage, createCanvas } from "@napi-rs/canvas";
import {
  tf, BACKENDS, BackendName, setupBackend, loadCheckpoint, latestCheckpoint, preprocessDigit, rgbaToGray, MAX_SIDE,
  assertLogitsModel, assertFiniteWeights, assertFiniteOutputs, SHIPPED_MODEL_DIR, readProvenance, regularFile, statIfExists, kindOf,
} from "cnn-lab";

const USAGE = `usage: npm run predict -- IMAGE [--model DIR] [--backend ${BACKENDS.join("|")}]
  IMAGE         a picture of one digit (PNG, JPEG, WebP, GIF, BMP), any size, light or dark background
  --model DIR   a checkpoint folder, or a training --out folder (its last epoch is used); default: the shipped
                lecture model in data/lecture-cnn (see its provenance.json)
  --backend X   force a TensorFlow.js backend`;


function parse(argv: string[]): { image: string; model: string; backend?: BackendName } {
  const { values, positionals } = parseFlags(argv, { model: { type: "string" }, backend: { type: "string" } }, true);
  if (positionals.length !== 1) throw new UsageError(`expected one image file, got ${positionals.length}`);
  if (values.backend !== undefined && !(BACKENDS as readonly string[]).includes(values.backend)) {
    throw new UsageError(`--backend must be one of ${BACKENDS.join(", ")}, got "${values.backend}"`);
  }
  return {
    image: userPath(positionals[0]),
    model: values.model === undefined ? SHIPPED_MODEL_DIR : userPath(values.model),
    backend: values.backend as BackendName | undefined,
  };
}

const MAX_FILE_BYTES = 2 ** 30;

/** Decodes the file to gray pixels; refuses what is not a whole image or is too large to decode safely. */
async function readGray(file: string): Promise<{ gray: Float32Array; width: number; height: number }> {
  const formats = "PNG, JPEG, WebP, GIF or BMP";
  let st;
  try {
    st = regularFile(file, `a picture of a digit (${formats})`);
  } catch (e) {
    throw new UsageError(`image ${(e as Error).message}`);
  }
  if (!st) throw new UsageError(`image ${file} does not exist`);
  // The largest picture allowed, MAX_SIDE² pixels of 4 bytes uncompressed, is 256 MiB.
  if (st.size > MAX_FILE_BYTES) throw new UsageError(`${file} is ${st.size} bytes, too large: expected at most ${MAX_FILE_BYTES} bytes (${MAX_FILE_BYTES / 2 ** 20} MiB)`);
  const bytes = fs.readFileSync(file);
  let header;
  try {
    header = imageHeader(bytes);
  } catch (e) {
    throw new UsageError(`${file}: ${(e as Error).message}; expected a whole image file`);
  }
  const unreadable = `${file} is not an image this tool can read (expected ${formats})`;
  if (!header) throw new UsageError(unreadable);
  // From the header, before decoding: the decoder itself calls a very large image "Unsupported image type".
  const checkSize = (w: number, h: number) => {
    if (w > MAX_SIDE || h > MAX_SIDE) throw new UsageError(`${file} is ${w}x${h} pixels, too large: expected at most ${MAX_SIDE}x${MAX_SIDE}`);
  };
  checkSize(header.width, header.height);
  let img;
  try {
    img = await loadImage(bytes);
  } catch (e) {
    throw new UsageError(`${unreadable}: ${(e as Error).message}`);
  }
  const { width, height } = img;
  if (!(width > 0 && height > 0)) throw new UsageError(`${file} is not an image this tool can read (it decodes to ${width}x${height})`);
  checkSize(width, height);
  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0);
  return { gray: rgbaToGray(ctx.getImageData(0, 0, width, height).data, width, height), width, height };
}

/** Which model answered: the shipped one with its provenance, or the folder given. */
function describeModel(dir: string): string {
  if (dir !== SHIPPED_MODEL_DIR) return dir;
  const p = readProvenance(dir);
  return `${path.relative(process.cwd(), dir) || dir} (the shipped lecture model: seed ${p.seed}, ${p.schedule.epochs} epochs, test accuracy ${p.testAccuracy.toFixed(4)})`;
}

/** What the model answered for one image: the ten softmax probabilities, and how the image was prepared. */
export interface Prediction {
  probs: Float32Array;
  digit: ReturnType<typeof preprocessDigit>;
  width: number;
  height: number;
  /** The checkpoint folder that answered. */
  dir: string;
}

/** The CLI's whole path from image file to probabilities (the book's drawing page is tested against it). */
export async function predictFile(image: string, modelDir: string = SHIPPED_MODEL_DIR, backend?: BackendName): Promise<Prediction> {
  let modelStat;
  try {
    modelStat = statIfExists(modelDir, `--model ${modelDir}: cannot read the model folder`);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (!modelStat) {
    throw new UsageError(modelDir === SHIPPED_MODEL_DIR
      ? `the shipped model ${modelDir} is missing (restore it with git, or pass --model DIR)`
      : `model folder ${modelDir} does not exist: train one with \`npm run train -- --out ${modelDir}\` or pass --model DIR`);
  }
  if (!modelStat.isDirectory()) {
    throw new UsageError(`--model ${modelDir} is ${kindOf(modelStat)}: expected a checkpoint folder (with model.json) or a training --out folder`);
  }
  const dir = latestCheckpoint(modelDir);
  if (!dir) throw new UsageError(`${modelDir} holds no checkpoint (expected model.json, or epoch-NNN/ folders from npm run train)`);
  const { gray, width, height } = await readGray(image);
  let digit: ReturnType<typeof preprocessDigit>;
  try {
    digit = preprocessDigit(gray, width, height);
  } catch (e) {
    throw new UsageError(`${image}: ${(e as Error).message}`);
  }
  await setupBackend({ force: backend, quiet: true });
  const { model, optimizerWeights } = await loadCheckpoint(dir);
  tf.dispose(optimizerWeights.map((w) => w.tensor));
  try {
    // Probabilities are softmax(logits): only for a model that outputs finite logits.
    const where = `model ${dir}`;
    assertLogitsModel(model, where);
    assertFiniteWeights(model, where);
    const logits = tf.tidy(() => (model.predict(tf.tensor4d(digit.pixels, [1, 28, 28, 1])) as tf.Tensor).dataSync());
    assertFiniteOutputs(logits, where);
    const probs = tf.tidy(() => tf.softmax(tf.tensor1d(logits)).dataSync() as Float32Array);
    return { probs, digit, width, height, dir };
  } finally {
    model.dispose();
  }
}

async function main(argv: string[]): Promise<number> {
  const args = parse(argv);
  const { probs, digit, width, height, dir } = await predictFile(args.image, args.model, args.backend);
  const top = Array.from(probs, (p, d) => ({ d, p })).sort((a, b) => b.p - a.p).slice(0, 3);
  console.log(`${args.image}: ${width}x${height}, ${digit.inverted ? "light background (inverted)" : "dark background"}, ` +
    `digit box ${digit.box.width}x${digit.box.height} at (${digit.box.x}, ${digit.box.y}) → 28x28`);
  console.log(`model: ${describeModel(dir)}`);
  for (const { d, p } of top) console.log(`  ${d}: ${(p * 100).toFixed(2)}%`);
  return 0;
}

if (require.main === module) runCli(main, USAGE);
