// The picture files `npm run predict` reads (PNG, JPEG, WebP, GIF, BMP), checked from their bytes before decoding.
// Skia's decoder (@napi-rs/canvas) decodes a cut-off PNG, JPEG, GIF or BMP without a word, the missing part blank,
// and the model then answers confidently about half a digit; it calls an image too large to decode "Unsupported
// image type". So the file's structure is walked to its end marker here, and its size read from its header.

export type ImageFormat = "PNG" | "JPEG" | "WebP" | "GIF" | "BMP";

/** The format and the size in pixels that a whole image file states in its header. */
export interface ImageHeader {
  format: ImageFormat;
  width: number;
  height: number;
}

/** A file of a known format that is cut off or damaged; the message says where. */
export class IncompleteImage extends Error {}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * The header of a PNG, JPEG, WebP, GIF or BMP file after checking that the file is whole (every part it announces is
 * there, up to its end marker; PNG chunks pass their CRC); undefined for any other kind of file. Throws an
 * IncompleteImage saying what is missing or damaged.
 */
export function imageHeader(b: Uint8Array): ImageHeader | undefined {
  if (PNG_SIGNATURE.every((v, i) => b[i] === v)) return png(b);
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return jpeg(b);
  if (ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 4) === "WEBP") return webp(b);
  if (ascii(b, 0, 6) === "GIF87a" || ascii(b, 0, 6) === "GIF89a") return gif(b);
  if (ascii(b, 0, 2) === "BM" && b.length >= 26) return bmp(b);
  return undefined;
}

function ascii(b: Uint8Array, at: number, n: number): string {
  return String.fromCharCode(...b.subarray(at, at + n));
}
const u16be = (b: Uint8Array, at: number) => (b[at] << 8) | b[at + 1];
const u32be = (b: Uint8Array, at: number) => ((b[at] << 24) >>> 0) + ((b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]);
const u16le = (b: Uint8Array, at: number) => b[at] | (b[at + 1] << 8);
const u24le = (b: Uint8Array, at: number) => b[at] | (b[at + 1] << 8) | (b[at + 2] << 16);
const u32le = (b: Uint8Array, at: number) => u24le(b, at) + ((b[at + 3] << 24) >>> 0);

function cut(format: ImageFormat, b: Uint8Array, what: string): IncompleteImage {
  return new IncompleteImage(`the ${format} file ends (at ${b.length} bytes) ${what}: it is cut off (a partial download or copy?)`);
}

let crcTable: Uint32Array | undefined;
function crc32(b: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = crcTable[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** PNG: chunks (length, type, data, CRC) from IHDR to IEND. */
function png(b: Uint8Array): ImageHeader {
  let width = 0, height = 0;
  for (let at = 8; ; ) {
    if (at + 8 > b.length) throw cut("PNG", b, "before its IEND chunk");
    const length = u32be(b, at);
    const type = ascii(b, at + 4, 4);
    if (at === 8 && (type !== "IHDR" || length !== 13)) throw new IncompleteImage(`the PNG file does not start with its IHDR chunk (corrupt)`);
    if (at + 12 + length > b.length) throw cut("PNG", b, `inside its ${type} chunk at byte ${at}, which needs ${length} bytes of data`);
    if (crc32(b.subarray(at + 4, at + 8 + length)) !== u32be(b, at + 8 + length)) {
      throw new IncompleteImage(`the PNG file's ${type} chunk at byte ${at} fails its CRC check (corrupt)`);
    }
    if (type === "IHDR") [width, height] = [u32be(b, at + 8), u32be(b, at + 12)];
    if (type === "IEND") return { format: "PNG", width, height };
    at += 12 + length;
  }
}

/** JPEG: marker segments, and the entropy-coded data after each SOS, up to EOI (data after EOI, e.g. a motion photo's video, is allowed). */
function jpeg(b: Uint8Array): ImageHeader {
  let width = 0, height = 0, frame = false;
  for (let at = 2; ; ) {
    if (at + 2 > b.length) throw cut("JPEG", b, "before its end-of-image marker (EOI)");
    if (b[at] !== 0xff) throw new IncompleteImage(`the JPEG file has no marker at byte ${at} where one belongs (corrupt)`);
    while (b[at + 1] === 0xff && at + 2 < b.length) at++; // fill bytes
    const marker = b[at + 1];
    at += 2;
    if (marker === 0xd9) {
      if (!frame) throw new IncompleteImage("the JPEG file has no frame header (SOF) before its end (corrupt)");
      return { format: "JPEG", width, height };
    }
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) continue; // markers without a segment
    if (at + 2 > b.length) throw cut("JPEG", b, "before its end-of-image marker (EOI)");
    const length = u16be(b, at);
    if (length < 2) throw new IncompleteImage(`the JPEG file's segment at byte ${at - 2} has length ${length} (corrupt)`);
    if (at + length > b.length) throw cut("JPEG", b, `inside a segment at byte ${at - 2}, which needs ${length} bytes`);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (length < 8) throw new IncompleteImage(`the JPEG file's frame header at byte ${at - 2} is too short (corrupt)`);
      [height, width, frame] = [u16be(b, at + 3), u16be(b, at + 5), true];
    }
    at += length;
    if (marker === 0xda) {
      // Entropy-coded data: a 0xFF in it is followed by 0x00 (a stuffed byte) or a restart marker; anything else ends it.
      while (at + 1 < b.length && !(b[at] === 0xff && b[at + 1] !== 0x00 && (b[at + 1] < 0xd0 || b[at + 1] > 0xd7))) at++;
      if (at + 1 >= b.length) throw cut("JPEG", b, "inside its image data, before its end-of-image marker (EOI)");
    }
  }
}

/** WebP: a RIFF file, whose stated length must all be there (the decoder refuses a short one too, as "Unsupported"). */
function webp(b: Uint8Array): ImageHeader {
  const riff = u32le(b, 4);
  if (b.length < 30 || 8 + riff > b.length) throw cut("WebP", b, `before the ${8 + riff} bytes its RIFF header states`);
  const chunk = ascii(b, 12, 4);
  if (chunk === "VP8 ") return { format: "WebP", width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff };
  if (chunk === "VP8L") {
    return { format: "WebP", width: 1 + (((b[22] & 0x3f) << 8) | b[21]), height: 1 + (((b[24] & 0x0f) << 10) | (b[23] << 2) | (b[22] >> 6)) };
  }
  if (chunk === "VP8X") return { format: "WebP", width: 1 + u24le(b, 24), height: 1 + u24le(b, 27) };
  throw new IncompleteImage(`the WebP file has an unknown first chunk "${chunk}" (corrupt)`);
}

/**
 * GIF: header, colour table, then blocks of sub-blocks up to the trailer byte 0x3B. Some writers leave the trailer
 * out (Python's IDLE icons); decoders show those, so a file that ends right after a whole image passes too.
 */
function gif(b: Uint8Array): ImageHeader {
  const colourTable = (flags: number) => (flags & 0x80 ? 3 << ((flags & 7) + 1) : 0);
  const end = () => cut("GIF", b, "before its trailer (0x3B)");
  const header: ImageHeader = { format: "GIF", width: u16le(b, 6), height: u16le(b, 8) };
  let at = 13 + colourTable(b[10]);
  let image = false;
  const subBlocks = () => {
    for (;;) {
      if (at >= b.length) throw end();
      const size = b[at++];
      if (size === 0) return;
      at += size;
    }
  };
  for (;;) {
    if (at === b.length && image) return header;
    if (at >= b.length) throw end();
    const block = b[at++];
    if (block === 0x3b) return header;
    if (block === 0x21) {
      at++; // the extension's label
      subBlocks();
    } else if (block === 0x2c) {
      if (at + 10 > b.length) throw end();
      at += 9 + colourTable(b[at + 8]) + 1; // descriptor, local colour table, LZW code size
      subBlocks();
      image = true;
    } else {
      throw new IncompleteImage(`the GIF file has an unknown block 0x${block.toString(16)} at byte ${at - 1} (corrupt)`);
    }
  }
}

/** BMP: the pixel array, where the header puts it, as long as its size and bit depth make it. */
function bmp(b: Uint8Array): ImageHeader {
  const offset = u32le(b, 10);
  const os2 = u32le(b, 14) === 12;
  const width = os2 ? u16le(b, 18) : u32le(b, 18) | 0;
  const height = Math.abs(os2 ? u16le(b, 20) : u32le(b, 22) | 0); // negative: rows stored top-down
  if (!os2 && b.length < 38) throw cut("BMP", b, "inside its header");
  const bits = os2 ? u16le(b, 24) : u16le(b, 28);
  const compression = os2 ? 0 : u32le(b, 30);
  // Uncompressed (0) or with bit masks (3, 6): whole rows padded to 4 bytes; compressed: the size the header states.
  const size = [0, 3, 6].includes(compression) ? Math.floor((bits * Math.abs(width) + 31) / 32) * 4 * height : u32le(b, 34);
  if (offset + size > b.length) throw cut("BMP", b, `before the end of its pixels (byte ${offset + size})`);
  return { format: "BMP", width: Math.abs(width), height };
}
