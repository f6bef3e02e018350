// The image-file check under predict: whole files of each format give the size their header states; the same files
// cut off anywhere, or with a damaged PNG chunk, are refused (Skia's decoder decodes them, the missing part blank).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createCanvas } from "@napi-rs/canvas";
import { imageHeader, IncompleteImage, type ImageFormat } from "../tools/cli/image-file";
import { bmpFile, pngFile } from "./image-bytes";

/** A 1 drawn on a 90x70 canvas, encoded by the canvas library as a user's program would. */
function encoded(mime: "image/png" | "image/jpeg" | "image/webp" | "image/gif"): Buffer {
  const canvas = createCanvas(90, 70);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, 90, 70);
  ctx.fillStyle = "#000";
  ctx.fillRect(40, 5, 12, 60);
  return Buffer.from(canvas.toBuffer(mime as "image/png"));
}

const files: [ImageFormat, Buffer][] = [
  ["PNG", encoded("image/png")],
  ["JPEG", encoded("image/jpeg")],
  ["WebP", encoded("image/webp")],
  ["GIF", encoded("image/gif")],
  ["BMP", bmpFile(90, 70, (x) => (x >= 40 && x < 52 ? 0 : 255))],
];

test("whole files: the format and the size from the header", () => {
  for (const [format, bytes] of files) assert.deepEqual(imageHeader(bytes), { format, width: 90, height: 70 }, format);
});

test("a file cut off at any length is refused (or not recognised at all), never taken as an image", () => {
  for (const [format, bytes] of files) {
    // A GIF without its last byte, the trailer, holds a whole image: some writers leave the trailer out.
    for (let n = 0; n < bytes.length - (format === "GIF" ? 1 : 0); n++) {
      let header;
      try {
        header = imageHeader(bytes.subarray(0, n));
      } catch (e) {
        assert.ok(e instanceof IncompleteImage, `${format} cut at ${n}: ${e}`);
        assert.match((e as Error).message, new RegExp(`^the ${format} file `), `${format} cut at ${n}`);
        continue;
      }
      assert.equal(header, undefined, `${format} cut at ${n} of ${bytes.length} bytes was taken as an image`);
    }
  }
});

test("a PNG chunk whose bytes changed fails its CRC, naming the chunk", () => {
  const png = encoded("image/png");
  const idat = png.indexOf("IDAT");
  png[idat + 10] ^= 0x40;
  assert.throws(() => imageHeader(png), { message: `the PNG file's IDAT chunk at byte ${idat - 4} fails its CRC check (corrupt)` });
});

test("a GIF whose writer left out the trailer is whole; one cut inside its image data is not", () => {
  const gif = encoded("image/gif");
  assert.equal(gif.at(-1), 0x3b);
  assert.deepEqual(imageHeader(gif.subarray(0, gif.length - 1)), { format: "GIF", width: 90, height: 70 });
  assert.throws(() => imageHeader(gif.subarray(0, gif.length - 2)), IncompleteImage);
});

test("a JPEG with data after its end-of-image marker (a phone's motion photo) is whole", () => {
  const jpeg = encoded("image/jpeg");
  assert.deepEqual(imageHeader(Buffer.concat([jpeg, Buffer.from("ftypmp42 and a video")])), { format: "JPEG", width: 90, height: 70 });
});

test("the size comes from the header alone: a 60000x60000 PNG is read without decoding it", () => {
  assert.deepEqual(imageHeader(pngFile(60000, 60000, [1, 0, 0, 0, 0], new Uint8Array(4))), { format: "PNG", width: 60000, height: 60000 });
});

test("other files are not recognised", () => {
  for (const text of ["", "not an image at all", "GIF", "BM", "RIFF....WAVE"]) assert.equal(imageHeader(Buffer.from(text)), undefined, text);
});
