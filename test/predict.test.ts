// `npm run predict` on files that are not what they seem: a cut-off PNG or JPEG, an image too large to decode, a FIFO
// or a link loop where the image or the weights should be. Each is refused, naming the path and what was expected,
// before any model answers (before, a cut-off image was classified "0: 99.96%" and a FIFO weights.bin hung predict).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { once } from "node:events";
import { createDeflate } from "node:zlib";
import { createCanvas } from "@napi-rs/canvas";
import { SHIPPED_MODEL_DIR } from "cnn-lab";
import { predictFile } from "../tools/cli/predict";
import { pngFile } from "./image-bytes";

const ROOT = path.resolve(__dirname, "..");
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "predict-test-"));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

/** A 1 drawn thick, dark on light, as an encoded image. */
function drawnOne(mime: "image/png" | "image/jpeg"): Buffer {
  const canvas = createCanvas(200, 200);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, 200, 200);
  ctx.fillStyle = "#000";
  ctx.fillRect(85, 20, 30, 160);
  return mime === "image/png" ? canvas.toBuffer("image/png") : canvas.toBuffer("image/jpeg");
}

function write(name: string, bytes: Uint8Array): string {
  const file = path.join(tmpRoot, name);
  fs.writeFileSync(file, bytes);
  return file;
}

/** The error line: on tfjs-node, TensorFlow's own log lines at load come before it. */
const lastLine = (s: string) => s.trim().split("\n").pop();

test("a whole PNG and JPEG are classified; the same files cut off are refused, naming the file", async () => {
  for (const [ext, mime, marker] of [["png", "image/png", /inside its IDAT chunk at byte \d+, which needs \d+ bytes of data/], ["jpg", "image/jpeg", /before its end-of-image marker \(EOI\)/]] as const) {
    const bytes = drawnOne(mime);
    const whole = await predictFile(write(`one.${ext}`, bytes));
    assert.equal(whole.probs.length, 10);
    const file = write(`cut.${ext}`, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    await assert.rejects(predictFile(file), (e: Error) => {
      assert.ok(e.message.startsWith(`${file}: the ${ext === "png" ? "PNG" : "JPEG"} file ends (at ${Math.floor(bytes.length * 0.6)} bytes)`), e.message);
      assert.match(e.message, marker);
      assert.match(e.message, /it is cut off .*; expected a whole image file$/);
      return true;
    });
  }
});

test("a valid 60000x60000 PNG is refused as too large from its header, with its size and the limit", async () => {
  // 1-bit grey, all black: each row is a filter byte and 7,500 zero bytes; 450 MB deflate to ~2 MB.
  const rowBytes = 1 + 60000 / 8;
  const deflate = createDeflate({ level: 1 });
  const parts: Buffer[] = [];
  deflate.on("data", (c: Buffer) => parts.push(c));
  const rows = Buffer.alloc(rowBytes * 1000);
  for (let i = 0; i < 60; i++) if (!deflate.write(rows)) await once(deflate, "drain");
  deflate.end();
  await once(deflate, "end");
  const file = write("huge.png", pngFile(60000, 60000, [1, 0, 0, 0, 0], Buffer.concat(parts)));
  await assert.rejects(predictFile(file), { message: `${file} is 60000x60000 pixels, too large: expected at most 8192x8192` });
});

test("an image file larger than any allowed picture is refused by its size, before it is read", async () => {
  const file = path.join(tmpRoot, "huge.bmp");
  fs.writeFileSync(file, "BM");
  fs.truncateSync(file, 3 * 2 ** 30); // sparse: no disk used; node cannot read a file over 2 GiB into one buffer
  await assert.rejects(predictFile(file), { message: `${file} is ${3 * 2 ** 30} bytes, too large: expected at most ${2 ** 30} bytes (1024 MiB)` });
});

test("an image path that is a FIFO, a folder or a loop of links is named for what it is", async () => {
  const fifo = path.join(tmpRoot, "fifo.png");
  execFileSync("mkfifo", [fifo]);
  const formats = "a picture of a digit (PNG, JPEG, WebP, GIF or BMP)";
  await assert.rejects(predictFile(fifo), { message: `image ${fifo}: is a FIFO (named pipe), expected ${formats}` });
  const folder = path.join(tmpRoot, "folder.png");
  fs.mkdirSync(folder);
  await assert.rejects(predictFile(folder), { message: `image ${folder}: is a folder, expected ${formats}` });
  const loop = path.join(tmpRoot, "loop.png");
  fs.symlinkSync("loop2.png", loop);
  fs.symlinkSync("loop.png", path.join(tmpRoot, "loop2.png"));
  await assert.rejects(predictFile(loop), { message: `image ${loop}: cannot read ${formats}: it is a loop of symbolic links (ELOOP)` });
  const loopDir = path.join(tmpRoot, "loop-model");
  fs.symlinkSync("loop-model", loopDir);
  await assert.rejects(predictFile(fifo, loopDir), { message: `--model ${loopDir}: cannot read the model folder: it is a loop of symbolic links (ELOOP)` });
});

test("predict with a FIFO as weights.bin exits at once naming it (it used to wait forever); a folder there is named too", () => {
  const image = write("one-for-weights.png", drawnOne("image/png"));
  const model = path.join(tmpRoot, "model");
  fs.cpSync(SHIPPED_MODEL_DIR, model, { recursive: true });
  const bin = path.join(model, "weights.bin");
  fs.rmSync(bin);
  execFileSync("mkfifo", [bin]);
  const predict = () => spawnSync(process.execPath, ["--import", "tsx", "tools/cli/predict.ts", image, "--model", model], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  let r = predict();
  assert.equal(r.signal, null, "predict finished by itself");
  assert.equal(r.status, 1, r.stderr);
  assert.equal(lastLine(r.stderr), `error: ${bin}: is a FIFO (named pipe), expected a weight file of checkpoint ${model}`);
  fs.rmSync(bin);
  fs.mkdirSync(bin);
  r = predict();
  assert.equal(r.status, 1, r.stderr);
  assert.equal(lastLine(r.stderr), `error: ${bin}: is a folder, expected a weight file of checkpoint ${model}`);
});
