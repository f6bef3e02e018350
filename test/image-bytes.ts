// Image files built byte by byte for the tests, where an encoder cannot make them (a 60000x60000 PNG, a BMP).
import { crc32 } from "node:zlib";

/** A PNG of IHDR (width, height, then bit depth, colour type, compression, filter, interlace), one IDAT, IEND. */
export function pngFile(width: number, height: number, ihdrRest: number[], idat: Uint8Array): Buffer {
  const chunk = (type: string, data: Uint8Array) => {
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length); // node's own CRC, not the one under test
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  Buffer.from(ihdrRest).copy(ihdr, 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", idat), chunk("IEND", new Uint8Array(0))]);
}

/** A 24-bit uncompressed BMP, bottom-up, of grey values (rows padded to 4 bytes). */
export function bmpFile(width: number, height: number, grey: (x: number, y: number) => number): Buffer {
  const row = Math.ceil((width * 3) / 4) * 4;
  const out = Buffer.alloc(54 + row * height);
  out.write("BM", 0, "latin1");
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(24, 28);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out.fill(grey(x, height - 1 - y), 54 + y * row + 3 * x, 54 + y * row + 3 * x + 3);
  return out;
}
