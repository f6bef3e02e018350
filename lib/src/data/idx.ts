// IDX, the file format MNIST ships in (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS"):
//   bytes 0-1  zero
//   byte  2    data type (0x08 = unsigned byte, the only type MNIST uses)
//   byte  3    number of dimensions
//   then one 32-bit big-endian size per dimension, then the data, row-major.

/** IDX data-type codes, for error messages. */
const IDX_TYPES: Record<number, string> = {
  0x08: "unsigned byte",
  0x09: "signed byte",
  0x0b: "int16",
  0x0c: "int32",
  0x0d: "float32",
  0x0e: "float64",
};

export interface IdxArray {
  /** Size of each dimension, e.g. [60000, 28, 28] for an image file. */
  dims: number[];
  /** The values, one byte each; a view into the file buffer, not a copy. */
  data: Uint8Array;
}

/** What an IDX header promises: the dimensions and the exact file length they imply. */
export interface IdxHeader {
  dims: number[];
  headerLength: number;
  /** headerLength + the product of dims: the whole file's length in bytes. */
  fileLength: number;
}

/**
 * Reads and checks the header of an unsigned-byte IDX file with `ndims` dimensions from its first bytes
 * (4 + 4 * ndims are enough). `file` names the file in errors. Checks the magic number and the data type.
 */
export function idxHeader(bytes: Uint8Array, ndims: number, file: string): IdxHeader {
  const headerLength = 4 + 4 * ndims;
  const truncatedHeader = () =>
    new Error(`${file}: truncated: ${bytes.length} bytes, shorter than the ${headerLength}-byte IDX header`);
  if (bytes.length < 4) throw truncatedHeader();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0); // DataView reads big-endian by default, as IDX stores it
  const expectedMagic = 0x0800 + ndims; // 2049 for labels, 2051 for images
  if (magic !== expectedMagic) {
    const type = bytes[2];
    const why =
      bytes[0] !== 0 || bytes[1] !== 0
        ? "not an IDX file"
        : type !== 0x08
          ? `data type 0x${hex(type, 2)} (${IDX_TYPES[type] ?? "unknown"}), expected 0x08 (unsigned byte)`
          : `${bytes[3]} dimensions, expected ${ndims}`;
    throw new Error(
      `${file}: wrong magic number 0x${hex(magic, 8)} (${magic}), expected 0x${hex(expectedMagic, 8)} (${expectedMagic}): ${why}`,
    );
  }
  if (bytes.length < headerLength) throw truncatedHeader();
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i));
  return { dims, headerLength, fileLength: headerLength + dims.reduce((a, b) => a * b, 1) };
}

/**
 * Parses an unsigned-byte IDX file with `ndims` dimensions. `file` names the file in errors.
 * Checks the magic number, the data type and that the data is exactly as long as the header says.
 */
export function parseIdx(bytes: Uint8Array, ndims: number, file: string): IdxArray {
  const { dims, headerLength, fileLength } = idxHeader(bytes, ndims, file);
  const dataLength = fileLength - headerLength;
  const actual = bytes.length - headerLength;
  if (actual !== dataLength) {
    const what = actual < dataLength ? "truncated" : "trailing bytes";
    throw new Error(
      `${file}: ${what}: header says ${dims.join("x")} = ${dataLength} bytes of data, file has ${actual}`,
    );
  }
  return { dims, data: bytes.subarray(headerLength) };
}

/** Builds an unsigned-byte IDX file (for tests and for users writing their own small sets). */
export function encodeIdx(dims: number[], data: ArrayLike<number>): Uint8Array {
  const dataLength = dims.reduce((a, b) => a * b, 1);
  if (data.length !== dataLength) {
    throw new Error(`encodeIdx: dims ${dims.join("x")} need ${dataLength} values, given ${data.length}`);
  }
  const headerLength = 4 + 4 * dims.length;
  const out = new Uint8Array(headerLength + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x0800 + dims.length);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(data, headerLength);
  return out;
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, "0");
}
