// Checkpoints in the standard TF.js layers format, written with plain node fs (no tfjs-node needed):
// a folder with model.json + weights.bin, the same files tfjs-node's `file://` handler writes and reads,
// so `tf.loadLayersModel("file://DIR/model.json")` under tfjs-node loads them too.
// Saving is atomic (temp folder, then rename) and loading checks the weight bytes against the manifest,
// so a half-written or truncated checkpoint is refused instead of loaded half-way.
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { fsError, readJson, regularFile } from "./fs-errors";
import { makeDirs } from "./make-dirs";

export const MODEL_JSON = "model.json";
const WEIGHTS_BIN = "weights.bin";

/** Bytes per element of each dtype a layers checkpoint may hold. */
const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

/** Any metadata stored next to the weights (model.json → userDefinedMetadata). */
export interface CheckpointMeta {
  [key: string]: unknown;
}

/** The settings that make a training run one schedule: resume refuses to change them unless told to. */
export const SCHEDULE_KEYS = ["seed", "batchSize", "learningRate", "trainImages"] as const;
export type ScheduleKey = (typeof SCHEDULE_KEYS)[number];

/** A setting changed on resume (allowed explicitly): the run after `epoch` used `to` instead of `from`. */
export interface ScheduleChange { epoch: number; setting: ScheduleKey | "workers"; from: number; to: number }

/** What the training loop logs after each epoch; TrainingMeta's history holds one per epoch finished. */
export interface EpochLog {
  epoch: number;
  /** Mean training loss and accuracy over the epoch's batches (dropout on, measured before each update). */
  loss: number;
  trainAccuracy: number;
  /** Accuracy on the test set after the epoch (dropout off); undefined without a test set. */
  testAccuracy?: number;
  seconds: number;
}

/**
 * What train() writes with every epoch's checkpoint, and what --resume and `npm run runs` read back
 * (through readTrainingMeta, which checks every field): the one metadata schema of a training run.
 */
export interface TrainingMeta {
  /** Epochs finished; history has one entry per epoch. */
  epoch: number;
  history: EpochLog[];
  seed: number;
  batchSize: number;
  learningRate: number;
  /** Training images per epoch (absent in checkpoints written before it was recorded). */
  trainImages?: number;
  /**
   * Extra worker threads of the run (each draws its own dropout masks): a resume keeps them, or records the change
   * in `changes`; absent in early checkpoints.
   */
  workers?: number;
  /** Settings changed by a resume with allowScheduleChange: such a run is not one schedule. */
  changes?: ScheduleChange[];
}

const isInt = (v: unknown): v is number => Number.isInteger(v);
const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** Checks metadata read from a checkpoint against TrainingMeta; `where` names the checkpoint in every error. */
export function checkTrainingMeta(meta: unknown, where: string): TrainingMeta {
  const bad = (what: string): never => {
    throw new Error(`${where}: training metadata ${what} (expected a checkpoint written by train())`);
  };
  if (meta == null || typeof meta !== "object") bad("is missing");
  const m = meta as Record<string, unknown>;
  if (!isInt(m.epoch) || m.epoch < 1) bad(`has no finished epoch count (epoch: ${JSON.stringify(m.epoch)})`);
  for (const key of ["seed", "batchSize"] as const) if (!isInt(m[key])) bad(`has no whole-number ${key}`);
  if (!isNum(m.learningRate)) bad("has no learningRate");
  for (const key of ["trainImages", "workers"] as const) if (m[key] !== undefined && !isInt(m[key])) bad(`has a ${key} that is not a whole number`);
  if (!Array.isArray(m.history) || m.history.length !== m.epoch) bad(`has no history of its ${m.epoch} epoch(s)`);
  (m.history as Record<string, unknown>[]).forEach((h, i) => {
    const ok = h != null && h.epoch === i + 1 && isNum(h.loss) && isNum(h.trainAccuracy) && isNum(h.seconds) &&
      (h.testAccuracy === undefined || isNum(h.testAccuracy));
    if (!ok) bad(`history entry ${i + 1} is not {epoch: ${i + 1}, loss, trainAccuracy, testAccuracy?, seconds}`);
  });
  if (m.changes !== undefined && !Array.isArray(m.changes)) bad("has changes that are not a list");
  return m as unknown as TrainingMeta;
}

/** The training metadata of a checkpoint folder, read from its model.json alone (no weights loaded). */
export function readTrainingMeta(dir: string): TrainingMeta {
  const json = readJson(path.join(dir, MODEL_JSON), "a checkpoint's model.json") as { userDefinedMetadata?: unknown } | null;
  const meta = checkTrainingMeta(json?.userDefinedMetadata, `checkpoint ${dir}`);
  checkEpochName(dir, meta.epoch);
  return meta;
}

/**
 * A folder named epoch-NNN must hold epoch NNN: one renamed or copied by hand (epoch-009 holding epoch 2) would be
 * taken as the newest checkpoint, resumed as epoch 9 (re-training epoch 3 forever) or predicted with.
 */
function checkEpochName(dir: string, epoch: unknown): void {
  const m = /^epoch-(\d+)$/.exec(path.basename(path.resolve(dir)));
  if (m === null || typeof epoch !== "number" || Number(m[1]) === epoch) return;
  throw new Error(
    `checkpoint ${dir}: its folder name says epoch ${Number(m[1])} but its metadata says epoch ${epoch} (renamed or copied by hand?): ` +
      `move it out of ${path.dirname(dir)} (or rename it to ${epochDirName(epoch)} if there is none)`,
  );
}

/** The epoch a checkpoint's metadata states, or undefined (no or unreadable metadata: the loader says what is wrong). */
function statedEpoch(dir: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, MODEL_JSON), "utf8"))?.userDefinedMetadata?.epoch;
  } catch {
    return undefined;
  }
}

export interface LoadedCheckpoint {
  model: tf.LayersModel;
  /** Optimizer state (Adam's iterations and moments), empty when none was saved. Caller disposes. */
  optimizerWeights: { name: string; tensor: tf.Tensor }[];
  meta: CheckpointMeta;
  dir: string;
}

function writeFileSynced(file: string, data: string | Uint8Array): void {
  const fd = fs.openSync(file, "w");
  try {
    if (typeof data === "string") fs.writeSync(fd, data);
    else fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Bytes the weights `specs` describe; a spec without a shape or with another dtype is refused, naming `where`. */
function weightBytes(specs: tf.io.WeightsManifestEntry[], where = "checkpoint"): number {
  let total = 0;
  for (const s of specs) {
    const name = JSON.stringify((s as { name?: unknown } | null)?.name);
    if (s == null || typeof s !== "object") throw new Error(`${where}: a weight entry is ${JSON.stringify(s)} (expected {name, shape, dtype})`);
    if (!Array.isArray(s.shape) || !s.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`${where}: weight ${name} has no shape (expected a list of sizes), got ${JSON.stringify(s.shape)}`);
    }
    const dtype = s.quantization?.dtype ?? s.dtype;
    const bytes = DTYPE_BYTES[dtype];
    if (bytes === undefined) throw new Error(`${where}: weight ${name} has unsupported dtype ${JSON.stringify(dtype)} (expected ${Object.keys(DTYPE_BYTES).join(", ").replace(/, (\w+)$/, " or $1")})`);
    total += s.shape.reduce((a, b) => a * b, 1) * bytes;
  }
  return total;
}

/** Writes model artifacts to `dir` atomically: a sibling temp folder is filled, then renamed into place. */
export function writeArtifacts(dir: string, artifacts: tf.io.ModelArtifacts): void {
  if (artifacts.modelTopology instanceof ArrayBuffer || artifacts.modelTopology == null) {
    throw new Error("only layers models with JSON topology can be saved as a checkpoint");
  }
  const specs = artifacts.weightSpecs ?? [];
  const data = artifacts.weightData == null ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
  if (data.byteLength !== weightBytes(specs)) {
    throw new Error(`weights are ${data.byteLength} bytes but their specs describe ${weightBytes(specs)} bytes`);
  }
  const modelJSON: tf.io.ModelJSON = {
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: specs }],
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
  };
  if (artifacts.trainingConfig != null) modelJSON.trainingConfig = artifacts.trainingConfig;
  if (artifacts.userDefinedMetadata != null) modelJSON.userDefinedMetadata = artifacts.userDefinedMetadata;

  const target = path.resolve(dir);
  const tmp = `${target}.tmp-${process.pid}-${Date.now()}`;
  try {
    makeDirs(path.dirname(target), `the folder of checkpoint ${target}`);
    fs.mkdirSync(tmp);
  } catch (e) {
    throw fsError(e, `cannot write checkpoint ${target}`);
  }
  try {
    writeFileSynced(path.join(tmp, WEIGHTS_BIN), new Uint8Array(data));
    // model.json last: a folder with model.json has all its weights.
    writeFileSynced(path.join(tmp, MODEL_JSON), JSON.stringify(modelJSON));
    // rename() cannot replace a non-empty folder, so the old one is moved aside first.
    const old = `${target}.old-${process.pid}-${Date.now()}`;
    const existed = fs.existsSync(target);
    if (existed) fs.renameSync(target, old);
    fs.renameSync(tmp, target);
    if (existed) fs.rmSync(old, { recursive: true, force: true });
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw fsError(e, `cannot write checkpoint ${target}`);
  }
}

/**
 * The file a manifest path names, confined to the checkpoint folder: a model.json from elsewhere must not
 * make us read "../../../../etc/passwd" or "/etc/shadow" (symlinks pointing out are refused too).
 */
function weightFile(dir: string, p: unknown, where: string): string {
  const refuse = (why: string) => {
    throw new Error(`${where}: weight path ${JSON.stringify(p)} ${why}: expected a file name inside the checkpoint folder`);
  };
  if (typeof p !== "string" || p === "") return refuse("is not a file name");
  if (path.isAbsolute(p) || path.win32.isAbsolute(p)) return refuse("is absolute");
  const inside = (root: string, file: string) => {
    const rel = path.relative(root, file);
    return rel !== "" && rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
  };
  const file = path.resolve(dir, p);
  if (!inside(path.resolve(dir), file)) return refuse("points outside the checkpoint folder");
  if (fs.existsSync(file) && !inside(fs.realpathSync(dir), fs.realpathSync(file))) return refuse("is a link to a file outside the checkpoint folder");
  return file;
}

/** Reads and verifies model artifacts from a checkpoint folder (or its model.json); throws on anything partial. */
export function readArtifacts(dirOrJson: string): tf.io.ModelArtifacts {
  const dir = path.basename(dirOrJson) === MODEL_JSON ? path.dirname(dirOrJson) : dirOrJson;
  const where = `checkpoint ${dir}`;
  if (!fs.existsSync(dir)) throw new Error(`${where} does not exist`);
  if (!fs.statSync(dir).isDirectory()) throw new Error(`${where} is not a folder (expected a folder with ${MODEL_JSON})`);
  const jsonPath = path.join(dir, MODEL_JSON);
  if (!regularFile(jsonPath, `the ${MODEL_JSON} of ${where}`)) throw new Error(`${where} has no ${MODEL_JSON} (incomplete or not a checkpoint)`);
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(fs.readFileSync(jsonPath, "utf8"));
  } catch (e) {
    throw new Error(`${where}: ${MODEL_JSON} is not valid JSON (corrupt or truncated): ${(e as Error).message}`);
  }
  if (json == null || typeof json !== "object" || json.modelTopology == null || !Array.isArray(json.weightsManifest)) {
    throw new Error(`${where}: ${MODEL_JSON} lacks modelTopology or weightsManifest (not a layers model)`);
  }
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  for (const [i, group] of (json.weightsManifest as unknown[]).entries()) {
    const g = group as { paths?: unknown; weights?: unknown } | null;
    if (g == null || typeof g !== "object" || !Array.isArray(g.paths) || !Array.isArray(g.weights)) {
      throw new Error(`${where}: ${MODEL_JSON}'s weightsManifest[${i}] is not {paths: [...], weights: [...]} (corrupt, or not a layers model): ${JSON.stringify(group)?.slice(0, 80)}`);
    }
    specs.push(...(g.weights as tf.io.WeightsManifestEntry[]));
    for (const p of g.paths) {
      const file = weightFile(dir, p, where);
      if (!regularFile(file, `a weight file of ${where}`)) throw new Error(`${where}: weight file ${p} is missing`);
      buffers.push(fs.readFileSync(file));
    }
  }
  const expected = weightBytes(specs, where);
  const actual = buffers.reduce((n, b) => n + b.byteLength, 0);
  if (actual !== expected) {
    throw new Error(
      `${where}: weight files hold ${actual} bytes but the manifest expects ${expected} bytes (corrupt or partial checkpoint)`,
    );
  }
  const joined = Buffer.concat(buffers);
  return {
    modelTopology: json.modelTopology,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    trainingConfig: json.trainingConfig,
    userDefinedMetadata: json.userDefinedMetadata,
    weightSpecs: specs,
    weightData: joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength),
  };
}

/** A tf.io IOHandler on a folder: `model.save(fileSystem(dir))`, `tf.loadLayersModel(fileSystem(dir))`. */
export function fileSystem(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts) {
      writeArtifacts(dir, artifacts);
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load() {
      return readArtifacts(dir);
    },
  };
}

async function modelArtifacts(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(a) };
    }),
  );
  return saved!;
}

/**
 * Saves model weights, optional optimizer state (weight group "optimizer", the group Keras-style loaders
 * skip when they have no optimizer) and training metadata to `dir`.
 */
export async function saveCheckpoint(
  dir: string,
  model: tf.LayersModel,
  opts: { optimizer?: tf.Optimizer; meta?: CheckpointMeta } = {},
): Promise<void> {
  const artifacts = await modelArtifacts(model);
  if (opts.optimizer) {
    const state = await opts.optimizer.getWeights();
    const { data, specs } = await tf.io.encodeWeights(state, "optimizer");
    artifacts.weightSpecs = [...(artifacts.weightSpecs ?? []), ...specs];
    artifacts.weightData = tf.io.concatenateArrayBuffers([tf.io.CompositeArrayBuffer.join(artifacts.weightData!), data]);
    // getWeights() returns Adam's iteration count as a fresh tensor; the moments are its own variables.
    state.forEach((w) => {
      if (!(w.tensor instanceof tf.Variable)) w.tensor.dispose();
    });
  }
  if (opts.meta) artifacts.userDefinedMetadata = opts.meta as Record<string, {}>;
  writeArtifacts(dir, artifacts);
}

/** Loads a checkpoint folder written by saveCheckpoint (or by tfjs-node's file:// handler). */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const artifacts = readArtifacts(dir);
  let model: tf.LayersModel;
  try {
    // The layers loader itself skips the "optimizer" weight group.
    model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (e) {
    throw new Error(`checkpoint ${dir}: cannot build the model from it: ${(e as Error).message}`);
  }
  const specs = artifacts.weightSpecs!;
  const isOptimizer = (s: tf.io.WeightsManifestEntry) => s.group === "optimizer";
  let optimizerWeights: { name: string; tensor: tf.Tensor }[] = [];
  if (specs.some(isOptimizer)) {
    const all = tf.io.decodeWeights(artifacts.weightData!, specs);
    optimizerWeights = specs.filter(isOptimizer).map((s) => ({ name: s.name, tensor: all[s.name] }));
    tf.dispose(specs.filter((s) => !isOptimizer(s)).map((s) => all[s.name]));
  }
  return { model, optimizerWeights, meta: (artifacts.userDefinedMetadata ?? {}) as CheckpointMeta, dir };
}

/**
 * Restores an optimizer's saved state (loadCheckpoint's optimizerWeights) exactly. tf.AdamOptimizer.setWeights
 * recomputes Adam's running powers of beta1/beta2 as pow(beta, t + 1), which can differ in the last bit from
 * the product its applyGradients builds, one float32 multiplication per step; this rebuilds that product.
 */
export async function restoreOptimizer(optimizer: tf.Optimizer, weights: { name: string; tensor: tf.Tensor }[]): Promise<void> {
  await optimizer.setWeights(weights);
  const adam = optimizer as unknown as { beta1: number; beta2: number; iterations: number; accBeta1?: tf.Variable; accBeta2?: tf.Variable };
  if (!(optimizer instanceof tf.AdamOptimizer) || !adam.accBeta1 || !adam.accBeta2) return;
  const power = (beta: number) => {
    let acc = Math.fround(beta);
    for (let t = 0; t < adam.iterations; t++) acc = Math.fround(acc * Math.fround(beta));
    return acc;
  };
  tf.tidy(() => {
    adam.accBeta1!.assign(tf.scalar(power(adam.beta1)));
    adam.accBeta2!.assign(tf.scalar(power(adam.beta2)));
  });
}

/** Checkpoint folder name for an epoch: epoch-003. */
export function epochDirName(epoch: number): string {
  return `epoch-${String(epoch).padStart(3, "0")}`;
}

/** Epoch checkpoints (complete ones only: temp folders never carry the final name) in `outDir`, oldest first. */
export function listCheckpoints(outDir: string): { epoch: number; dir: string }[] {
  if (!fs.existsSync(outDir)) return [];
  if (!fs.statSync(outDir).isDirectory()) throw new Error(`${outDir} is a file, expected a folder of checkpoints`);
  let names: string[];
  try {
    names = fs.readdirSync(outDir);
  } catch (e) {
    throw fsError(e, `cannot list the checkpoints in ${outDir}`);
  }
  return names
    .map((name) => /^epoch-(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ epoch: Number(m[1]), dir: path.join(outDir, m[0]) }))
    .sort((a, b) => a.epoch - b.epoch);
}

/**
 * The newest epoch checkpoint in `outDir`, or `outDir` itself when it is a checkpoint folder. Throws when the one
 * chosen is named for another epoch than its metadata's (see checkEpochName).
 */
export function latestCheckpoint(outDir: string): string | undefined {
  const dir = fs.existsSync(path.join(outDir, MODEL_JSON)) ? outDir : listCheckpoints(outDir).pop()?.dir;
  if (dir !== undefined) checkEpochName(dir, statedEpoch(dir));
  return dir;
}
