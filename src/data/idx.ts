/**
 * Reader and writer for the IDX file format used by MNIST and Fashion-MNIST.
 *
 * Layout (all multi-byte values big-endian):
 *
 * ```text
 * offset  size        field
 * 0       2           zero bytes 0x00 0x00
 * 2       1           type code: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64
 * 3       1           number of dimensions n
 * 4       4*n         dimension sizes, unsigned 32-bit
 * 4+4n    ...         data, row-major, product(dims) items
 * ```
 *
 * Files are often distributed gzip-compressed; {@link readIdx} and
 * {@link decodeIdx} detect that by the gzip magic bytes (`0x1f 0x8b`), never
 * by file name. Every malformed input is reported as an `Error` whose message
 * starts with `idx: <source>: ` and says what was expected and what was found.
 *
 * @module
 */

import { constants as bufferConstants } from 'node:buffer';
import * as zlib from 'node:zlib';
import { writeFileAtomic, writeFailure } from '../io/atomic';
import { checkOptions } from '../ops/args';
import { withRegularFile } from '../io/files';

/** Element types representable in an IDX file. */
export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

/** Host typed arrays used to hold IDX data (always in host byte order). */
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** An n-dimensional array read from or written to an IDX file. */
export interface IdxArray {
  /** Element type. */
  dtype: IdxDtype;
  /** Dimension sizes, outermost first (e.g. `[60000, 28, 28]`). */
  dims: number[];
  /** Row-major elements; `data.length` equals the product of `dims`. */
  data: IdxData;
}

/** Options for {@link writeIdx}. */
export interface WriteIdxOptions {
  /** Gzip-compress the file (default `false`). */
  gzip?: boolean;
}

interface DtypeInfo {
  /** Type code stored in byte 2 of the header. */
  code: number;
  /** Bytes per element. */
  size: number;
  /** Typed array constructor expected for `IdxArray.data`. */
  ctor: new (length: number) => IdxData;
}

const DTYPES: Readonly<Record<IdxDtype, DtypeInfo>> = {
  uint8: { code: 0x08, size: 1, ctor: Uint8Array },
  int8: { code: 0x09, size: 1, ctor: Int8Array },
  int16: { code: 0x0b, size: 2, ctor: Int16Array },
  int32: { code: 0x0c, size: 4, ctor: Int32Array },
  float32: { code: 0x0d, size: 4, ctor: Float32Array },
  float64: { code: 0x0e, size: 8, ctor: Float64Array },
};

const CODE_TO_DTYPE: ReadonlyMap<number, IdxDtype> = new Map(
  (Object.keys(DTYPES) as IdxDtype[]).map((d) => [DTYPES[d].code, d] as const),
);

/** Largest number of dimensions accepted (real files use 1–4). */
const MAX_DIMS = 8;

/** Largest value a 32-bit unsigned dimension field can hold. */
const MAX_DIM_SIZE = 0xffffffff;

/** The longest IDX header: 4 bytes, then 4 per dimension. */
const MAX_HEADER_BYTES = 4 + 4 * MAX_DIMS;

/** While looking for the header, a gzip prefix may inflate to at most this many bytes. */
const HEAD_INFLATE_LIMIT = 1 << 16;

/**
 * Deflate's best ratio is 1032:1; a gzip stream of n bytes cannot inflate to
 * more than this many bytes per input byte (with slack), so a header declaring
 * more is refused before inflating anything.
 */
const MAX_INFLATE_RATIO = 1100;

const hex2 = (b: number): string => `0x${b.toString(16).padStart(2, '0')}`;

const KNOWN_CODES = (Object.keys(DTYPES) as IdxDtype[])
  .map((d) => `${hex2(DTYPES[d].code)} ${d}`)
  .join(', ');

/** Creates an `Error` with the standard `idx: <source>: ` prefix. */
function idxError(source: string, message: string, cause?: unknown): Error {
  return new Error(`idx: ${source}: ${message}`, cause === undefined ? undefined : { cause });
}

/** True if `buf` starts with the gzip magic bytes `0x1f 0x8b`. */
function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/** Converts `count` big-endian items of `dtype` from `bytes` into a fresh host-order array. */
function decodeData(bytes: Uint8Array, dtype: IdxDtype, count: number): IdxData {
  // Always copy into a fresh array so the result never aliases the caller's
  // buffer. (Not `bytes.slice()`: on a Node Buffer that returns a *view*,
  // possibly into a shared pool.)
  if (dtype === 'uint8') {
    const out = new Uint8Array(count);
    out.set(bytes);
    return out;
  }
  if (dtype === 'int8') {
    const out = new Int8Array(count);
    out.set(new Int8Array(bytes.buffer, bytes.byteOffset, count));
    return out;
  }

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, false);
      return out;
    }
  }
}

/** Writes `data` as big-endian items of `dtype` into `view` starting at byte `offset`. */
function encodeData(view: DataView, offset: number, dtype: IdxDtype, data: IdxData): void {
  if (dtype === 'uint8' || dtype === 'int8') {
    // Single bytes (two's complement for int8): a plain byte copy.
    new Uint8Array(view.buffer, view.byteOffset + offset, data.length).set(
      new Uint8Array(data.buffer, data.byteOffset, data.length),
    );
    return;
  }
  const set = {
    int16: (at: number, v: number) => view.setInt16(at, v, false),
    int32: (at: number, v: number) => view.setInt32(at, v, false),
    float32: (at: number, v: number) => view.setFloat32(at, v, false),
    float64: (at: number, v: number) => view.setFloat64(at, v, false),
  }[dtype];
  const size = DTYPES[dtype].size;
  let at = offset;
  for (const v of data) {
    set(at, v);
    at += size;
  }
}

/** A validated IDX header. */
interface IdxHeader {
  dtype: IdxDtype;
  dims: number[];
  /** Bytes of the header (4 + 4 per dimension). */
  headerLen: number;
  /** Elements, and bytes of data the header declares. */
  count: number;
  need: number;
}

/**
 * Validates an IDX header: two zero magic bytes, a known type code, 1–8
 * dimensions, every dimension positive, a byte count below 2^53. `buf` holds
 * the start of the content: all of it, or at least {@link MAX_HEADER_BYTES}
 * bytes (so "file is N bytes" is only said of a whole file).
 */
function parseIdxHeader(buf: Uint8Array, source: string): IdxHeader {
  if (buf.length < 4) {
    throw idxError(source, `file is ${buf.length} bytes, but an IDX header needs at least 4`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const m0 = view.getUint8(0);
  const m1 = view.getUint8(1);
  const code = view.getUint8(2);
  const ndims = view.getUint8(3);
  if (m0 !== 0 || m1 !== 0) {
    const gz = isGzip(buf) ? ' (this looks gzip-compressed; use readIdx or decodeIdx)' : '';
    throw idxError(
      source,
      `bad magic number: expected first two bytes 0x00 0x00, got ${hex2(m0)} ${hex2(m1)}${gz}`,
    );
  }
  const dtype = CODE_TO_DTYPE.get(code);
  if (dtype === undefined) {
    throw idxError(source, `unknown type code ${hex2(code)}, expected one of ${KNOWN_CODES}`);
  }
  if (ndims === 0 || ndims > MAX_DIMS) {
    throw idxError(source, `header declares ${ndims} dimensions, expected 1 to ${MAX_DIMS}`);
  }
  const headerLen = 4 + 4 * ndims;
  if (buf.length < headerLen) {
    throw idxError(
      source,
      `file is ${buf.length} bytes, but a header with ${ndims} dimensions needs ${headerLen}`,
    );
  }

  const { size } = DTYPES[dtype];
  const dims: number[] = [];
  // Element count, checked against MAX_SAFE_INTEGER after each multiplication
  // (including the item size) so the byte count below is always exact.
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    if (d === 0) {
      throw idxError(source, `dimension ${i} is 0, expected a positive size`);
    }
    dims.push(d);
    if (count * d * size > Number.MAX_SAFE_INTEGER) {
      throw idxError(
        source,
        `dims [${dims.join(',')}${i + 1 < ndims ? ',...' : ''}] describe more than ` +
          `${Number.MAX_SAFE_INTEGER} bytes of ${dtype} data`,
      );
    }
    count *= d;
  }
  return { dtype, dims, headerLen, count, need: count * size };
}

function dataLengthError(source: string, h: IdxHeader, dataLen: number): Error {
  const size = DTYPES[h.dtype].size;
  return idxError(
    source,
    `file has ${dataLen} bytes of data but dims [${h.dims.join(',')}] need ${h.need}` +
      (size > 1 ? ` (${h.count} ${h.dtype} items of ${size} bytes)` : ''),
  );
}

/**
 * Parses an uncompressed IDX file held in memory.
 *
 * The header is validated strictly: two zero magic bytes, a known type code,
 * 1–8 dimensions, every dimension positive, and a data section whose length is
 * exactly `product(dims) * itemsize` (no truncation, no trailing bytes). The
 * returned data is a fresh copy in host byte order.
 *
 * @param buf - The raw file contents (not gzip-compressed; see {@link decodeIdx}).
 * @param source - Name used in error messages, usually the file path.
 * @returns The decoded array.
 * @throws `Error` whose message starts with `idx: <source>: ` if the input is malformed.
 */
export function parseIdx(buf: Uint8Array, source = '<buffer>'): IdxArray {
  if (!(buf instanceof Uint8Array)) throw idxError(source, `expected a Uint8Array, got ${Object.prototype.toString.call(buf)}`);
  const h = parseIdxHeader(buf, source);
  const dataLen = buf.length - h.headerLen;
  if (dataLen !== h.need) throw dataLengthError(source, h, dataLen);
  return { dtype: h.dtype, dims: h.dims, data: decodeData(buf.subarray(h.headerLen), h.dtype, h.count) };
}

function gunzipError(source: string, err: unknown): Error {
  const why = err instanceof Error ? err.message : String(err);
  return idxError(source, `corrupt gzip stream: ${why}`, err);
}

/**
 * Inflates just enough of a gzip stream to hold the IDX header: prefixes of
 * the input, inflated with Z_SYNC_FLUSH (a truncated stream gives what it has),
 * grown until the output has {@link MAX_HEADER_BYTES} bytes or the input ends.
 * A prefix that inflates past {@link HEAD_INFLATE_LIMIT} is bisected, so the
 * output stays small however compressible the stream is.
 */
function inflateHead(buf: Uint8Array, source: string): Uint8Array {
  const tryPrefix = (n: number): Uint8Array | null => {
    try {
      return zlib.gunzipSync(buf.subarray(0, n), { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: HEAD_INFLATE_LIMIT });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return null;
      throw gunzipError(source, err);
    }
  };
  let lo = 0; // a prefix known to inflate to fewer than MAX_HEADER_BYTES
  let hi = -1; // a prefix known to inflate past the limit
  let n = Math.min(buf.length, 64);
  for (;;) {
    const out = tryPrefix(n);
    if (out === null) hi = n;
    else if (out.length >= MAX_HEADER_BYTES) return out;
    else if (n === buf.length) {
      // the whole stream holds less than a full header: inflate it strictly, so truncation is reported as such
      try {
        return zlib.gunzipSync(buf, { maxOutputLength: HEAD_INFLATE_LIMIT });
      } catch (err) {
        throw gunzipError(source, err);
      }
    } else lo = n;
    if (hi < 0) n = Math.min(buf.length, n * 4);
    else if (hi - lo > 1) n = lo + Math.floor((hi - lo) / 2);
    else throw idxError(source, 'corrupt gzip stream: cannot inflate the header within a bounded size');
  }
}

/**
 * Parses an IDX file held in memory that may be gzip-compressed.
 *
 * Compression is detected by the gzip magic bytes `0x1f 0x8b` (an IDX file
 * always starts with `0x00`, so the two cannot be confused). A gzip stream is
 * inflated in two bounded steps: first only as much as holds the header, which
 * is validated; then the whole stream, with its output capped at the size the
 * header declares, so a small file cannot inflate to gigabytes.
 *
 * @param buf - Raw or gzip-compressed file contents.
 * @param source - Name used in error messages, usually the file path.
 * @throws `Error` starting with `idx: <source>: ` if the gzip stream is
 *   corrupt or the IDX content is malformed.
 */
export function decodeIdx(buf: Uint8Array, source = '<buffer>'): IdxArray {
  if (!(buf instanceof Uint8Array)) throw idxError(source, `expected a Uint8Array, got ${Object.prototype.toString.call(buf)}`);
  if (!isGzip(buf)) return parseIdx(buf, source);
  const h = parseIdxHeader(inflateHead(buf, source), source);
  const total = h.headerLen + h.need;
  if (total > MAX_INFLATE_RATIO * buf.length + 65536) {
    throw idxError(
      source,
      `dims [${h.dims.join(',')}] need ${total} bytes, more than a ${buf.length}-byte gzip stream can inflate to (truncated or corrupt)`,
    );
  }
  if (total > bufferConstants.MAX_LENGTH) {
    throw idxError(source, `dims [${h.dims.join(',')}] need ${total} bytes, more than the ${bufferConstants.MAX_LENGTH} one buffer may hold`);
  }
  let raw: Uint8Array;
  try {
    raw = zlib.gunzipSync(buf, { maxOutputLength: total });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw idxError(source, `the gzip stream inflates to more than the ${total} bytes its header declares (dims [${h.dims.join(',')}]): extra trailing data`);
    }
    throw gunzipError(source, err);
  }
  return parseIdx(raw, source);
}

/**
 * Reads an IDX file from disk, transparently decompressing gzip files.
 *
 * Only regular files are read (a FIFO, a device such as /dev/zero or a
 * directory is refused, without blocking). A plain file's header is read and
 * validated first, and its size must be exactly what the header declares
 * before the data is read; a gzip file is inflated as {@link decodeIdx} does.
 *
 * @param path - File to read (e.g. `train-images-idx3-ubyte.gz`).
 * @throws `Error` starting with `idx: <path>: ` if the file cannot be read,
 *   is a corrupt gzip stream, or is not a valid IDX file.
 */
export function readIdx(path: string): IdxArray {
  return withRegularFile(path, (why, cause) => idxError(String(path), why, cause), (read, size) => {
    const head = read(0, Math.min(size, MAX_HEADER_BYTES));
    if (isGzip(head)) return decodeIdx(read(0, size), path);
    const h = parseIdxHeader(head, path);
    if (size - h.headerLen !== h.need) throw dataLengthError(path, h, size - h.headerLen);
    return parseIdx(read(0, size), path);
  });
}

/**
 * Encodes an array as an (uncompressed) IDX file.
 *
 * @param arr - Array to encode. `data` must be the typed array class matching
 *   `dtype` and hold exactly `product(dims)` elements; there must be 1–8
 *   dimensions, each a positive integer below 2**32.
 * @param source - Name used in error messages.
 * @throws `Error` starting with `idx: <source>: ` if `arr` is inconsistent.
 */
export function serializeIdx(arr: IdxArray, source = '<buffer>'): Uint8Array {
  if (arr === null || typeof arr !== 'object') throw idxError(source, `expected {dtype, dims, data}, got ${arr === null ? 'null' : typeof arr}`);
  const dtype = arr.dtype;
  // Own-property check so that e.g. 'toString' is not mistaken for a dtype.
  if (!Object.prototype.hasOwnProperty.call(DTYPES, dtype)) {
    throw idxError(
      source,
      `unknown dtype ${String(dtype)}, expected one of ${Object.keys(DTYPES).join(', ')}`,
    );
  }
  const info = DTYPES[dtype];
  if (!Array.isArray(arr.dims) || arr.dims.length === 0 || arr.dims.length > MAX_DIMS) {
    throw idxError(source, `expected 1 to ${MAX_DIMS} dims, got ${Array.isArray(arr.dims) ? arr.dims.length : typeof arr.dims}`);
  }
  let count = 1;
  for (const d of arr.dims) {
    if (!Number.isInteger(d) || d < 1 || d > MAX_DIM_SIZE) {
      throw idxError(source, `dims [${arr.dims.join(',')}] must be integers in 1..${MAX_DIM_SIZE}, got ${String(d)}`);
    }
    count *= d;
    if (count * info.size > Number.MAX_SAFE_INTEGER) {
      throw idxError(source, `dims [${arr.dims.join(',')}] are too large`);
    }
  }
  if (!(arr.data instanceof info.ctor)) {
    throw idxError(
      source,
      `dtype ${dtype} needs data as ${info.ctor.name}, got ${Object.prototype.toString.call(arr.data)}`,
    );
  }
  if (arr.data.length !== count) {
    throw idxError(source, `dims [${arr.dims.join(',')}] need ${count} elements, but data has ${arr.data.length}`);
  }

  const headerLen = 4 + 4 * arr.dims.length;
  const out = new Uint8Array(headerLen + count * info.size);
  const view = new DataView(out.buffer);
  out[2] = info.code;
  out[3] = arr.dims.length;
  arr.dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  encodeData(view, headerLen, dtype, arr.data);
  return out;
}

/**
 * Writes an array to an IDX file, optionally gzip-compressed.
 *
 * The write is atomic (temporary file in the same directory + rename): on
 * failure an existing file at `path` is left untouched.
 *
 * @param path - Destination file.
 * @param arr - Array to write; see {@link serializeIdx} for the constraints.
 * @param options - `gzip: true` compresses the output.
 * @throws `Error` starting with `idx: <path>: ` if `arr` is inconsistent, or
 *   the underlying `fs` error if writing fails.
 */
export function writeIdx(path: string, arr: IdxArray, options: WriteIdxOptions = {}): void {
  if (typeof path !== 'string' || path === '') throw idxError(String(path), `the path must be a non-empty string, got ${typeof path === 'string' ? '""' : typeof path}`);
  const { gzip = false } = checkOptions(`idx: ${path}: writeIdx`, options, ['gzip']);
  if (typeof gzip !== 'boolean') throw idxError(path, `writeIdx: gzip must be a boolean, got ${typeof gzip}`);
  const raw = serializeIdx(arr, path);
  try {
    writeFileAtomic(path, gzip ? zlib.gzipSync(raw) : raw);
  } catch (err) {
    throw idxError(path, `cannot write: ${writeFailure(err, path)}`, err);
  }
}
