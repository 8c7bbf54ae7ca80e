/**
 * Reader and writer for the safetensors checkpoint format
 * (https://github.com/huggingface/safetensors).
 *
 * Layout:
 *
 * ```text
 * 8 bytes   N, unsigned 64-bit little-endian: length of the JSON header
 * N bytes   UTF-8 JSON object:
 *             { "<name>": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] },
 *               ...,
 *               "__metadata__": { "<key>": "<string value>" } }       (optional)
 * rest      raw little-endian tensor data; offsets are relative to its start
 * ```
 *
 * The parser treats its input as hostile: every length, offset and shape is
 * validated before any allocation, the JSON is only ever handed to
 * `JSON.parse` (nothing in the file is executed), data is copied into freshly
 * allocated (hence aligned) typed arrays, and every failure surfaces as an
 * `Error` whose message starts with `safetensors: <source>: `.
 *
 * @module
 */

import { writeFileAtomic, writeFailure } from './atomic';
import { withRegularFile } from './files';

/** Element types supported by this implementation. */
export type SafetensorsDtype = 'F32' | 'F64' | 'I32' | 'I64' | 'U8' | 'F16' | 'BF16' | 'I8' | 'I16' | 'BOOL';

/** Typed arrays used to hold tensor data (host byte order). */
export type NamedArrayData =
  | Float32Array
  | Float64Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array;

/**
 * A tensor as stored in a safetensors file.
 *
 * `data` holds `product(shape)` elements in row-major order; its class is
 * determined by `dtype`: F32 → Float32Array, F64 → Float64Array,
 * I32 → Int32Array, I64 → BigInt64Array, U8/BOOL → Uint8Array,
 * I8 → Int8Array, I16 → Int16Array, F16/BF16 → Uint16Array (raw bit
 * patterns; see {@link toFloat32}).
 */
export interface NamedArray {
  dtype: SafetensorsDtype;
  /** Dimension sizes; `[]` is a 0-d scalar (one element). */
  shape: number[];
  data: NamedArrayData;
}

/** Result of {@link parseSafetensors} / {@link loadSafetensors}. */
export interface SafetensorsFile {
  /** Tensors by name. */
  tensors: Record<string, NamedArray>;
  /** The `__metadata__` string map (empty if the file has none). */
  metadata: Record<string, string>;
}

interface DtypeInfo {
  /** Bytes per element. */
  size: number;
  /** Typed array class holding the data. */
  ctor: { new (length: number): NamedArrayData; readonly name: string };
}

const DTYPES: Readonly<Record<SafetensorsDtype, DtypeInfo>> = {
  F64: { size: 8, ctor: Float64Array },
  I64: { size: 8, ctor: BigInt64Array },
  F32: { size: 4, ctor: Float32Array },
  I32: { size: 4, ctor: Int32Array },
  F16: { size: 2, ctor: Uint16Array },
  BF16: { size: 2, ctor: Uint16Array },
  I16: { size: 2, ctor: Int16Array },
  U8: { size: 1, ctor: Uint8Array },
  I8: { size: 1, ctor: Int8Array },
  BOOL: { size: 1, ctor: Uint8Array },
};

const KNOWN_DTYPES = Object.keys(DTYPES).join(', ');

/** Reserved header key holding the string→string metadata map. */
const METADATA_KEY = '__metadata__';

/** Largest accepted header, as in the reference implementation. */
const MAX_HEADER_SIZE = 100_000_000;

/**
 * Most tensors one file may describe. Real checkpoints hold hundreds to a few
 * thousand; a hostile header of millions of empty tensors would otherwise cost
 * seconds and gigabytes. Checked by counting JSON objects before parsing.
 */
export const MAX_TENSORS = 65_536;

/** True when the host stores multi-byte numbers little-endian (the file's order). */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Creates an `Error` with the standard `safetensors: <source>: ` prefix. */
function stError(source: string, message: string, cause?: unknown): Error {
  return new Error(`safetensors: ${source}: ${message}`, cause === undefined ? undefined : { cause });
}

/** Short, never-throwing rendering of an arbitrary value for error messages. */
function show(value: unknown): string {
  let s: string;
  try {
    s = typeof value === 'bigint' ? `${value}n` : (JSON.stringify(value) ?? String(value));
  } catch {
    s = Object.prototype.toString.call(value);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function isKnownDtype(d: unknown): d is SafetensorsDtype {
  return typeof d === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, d);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A dictionary without a prototype: every key, `__proto__` and `constructor`
 * included, is an ordinary own entry, and no key is inherited.
 */
export function nullDict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/**
 * Counts the JSON objects (`{` outside strings) in a header, stopping once past
 * `limit`: a cheap bound on the number of entries before JSON.parse runs.
 */
function countObjects(bytes: Uint8Array, limit: number): number {
  let n = 0, inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b && ++n > limit) return n;
  }
  return n;
}

/**
 * Reverses the byte order of each `itemsize`-byte item in place. Only used on
 * big-endian hosts, so clarity wins over speed here.
 */
function swapBytes(bytes: Uint8Array, itemsize: number): void {
  if (itemsize === 1) return;
  for (let i = 0; i < bytes.length; i += itemsize) bytes.subarray(i, i + itemsize).reverse();
}

/**
 * Validates a shape and returns its element count.
 * Returns a string describing the problem instead of throwing, so callers can
 * add context.
 */
function checkShape(shape: unknown, itemsize: number): { count: number; shape: number[] } | string {
  if (!Array.isArray(shape)) return `expected shape to be an array, got ${show(shape)}`;
  const dims: number[] = [];
  for (const d of shape as unknown[]) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      return `expected shape entries to be non-negative integers, got ${show(shape)}`;
    }
    dims.push(d === 0 ? 0 : d); // normalises -0
  }
  // A zero dimension makes the tensor empty whatever the other sizes are.
  if (dims.includes(0)) return { count: 0, shape: dims };
  let count = 1;
  for (const d of dims) {
    count *= d;
    if (count * itemsize > Number.MAX_SAFE_INTEGER) {
      return `shape ${show(shape)} describes more than ${Number.MAX_SAFE_INTEGER} bytes`;
    }
  }
  return { count, shape: dims };
}

/**
 * Encodes tensors and metadata into a safetensors byte buffer.
 *
 * The header lists `__metadata__` first (when given) and then the tensors in
 * sorted name order; it is padded with spaces to a multiple of 8 bytes so the
 * data section is 8-byte aligned, as the reference implementation does. Tensor
 * data is laid out contiguously in the same sorted order, little-endian.
 *
 * @param tensors - Tensors by name. The name `__metadata__` is reserved.
 * @param metadata - Optional string→string map stored under `__metadata__`.
 * @returns The complete file contents.
 * @throws `Error` starting with `safetensors: <buffer>: ` if a tensor has an
 *   unknown dtype, an invalid shape, a data array of the wrong class or
 *   length, or if metadata holds a non-string value.
 */
export function serializeSafetensors(
  tensors: Record<string, NamedArray>,
  metadata?: Record<string, string>,
): Uint8Array {
  return serializeImpl(tensors, metadata, '<buffer>');
}

function serializeImpl(
  tensors: Record<string, NamedArray>,
  metadata: Record<string, string> | undefined,
  source: string,
): Uint8Array {
  if (!isPlainObject(tensors)) {
    throw stError(source, `expected tensors to be an object, got ${show(tensors)}`);
  }
  const headerParts: string[] = [];
  if (metadata !== undefined) {
    if (!isPlainObject(metadata)) {
      throw stError(source, `expected metadata to be a string→string object, got ${show(metadata)}`);
    }
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') {
        throw stError(source, `metadata value for ${show(k)} must be a string, got ${show(v)}`);
      }
    }
    headerParts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  }

  // Code-unit order; deterministic, which is all the format needs.
  const names = Object.keys(tensors).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const chunks: Array<{ bytes: Uint8Array; itemsize: number }> = [];
  let offset = 0;
  for (const name of names) {
    if (name === METADATA_KEY) {
      throw stError(source, `tensor name ${show(name)} is reserved for metadata`);
    }
    const t = tensors[name];
    if (!isPlainObject(t)) {
      throw stError(source, `tensor ${show(name)}: expected {dtype, shape, data}, got ${show(t)}`);
    }
    if (!isKnownDtype(t.dtype)) {
      throw stError(source, `tensor ${show(name)}: unknown dtype ${show(t.dtype)}, expected one of ${KNOWN_DTYPES}`);
    }
    const info = DTYPES[t.dtype];
    const checked = checkShape(t.shape, info.size);
    if (typeof checked === 'string') throw stError(source, `tensor ${show(name)}: ${checked}`);
    if (!(t.data instanceof info.ctor)) {
      throw stError(
        source,
        `tensor ${show(name)}: dtype ${t.dtype} needs data as ${info.ctor.name}, ` +
          `got ${Object.prototype.toString.call(t.data)}`,
      );
    }
    if (t.data.length !== checked.count) {
      throw stError(
        source,
        `tensor ${show(name)}: shape ${show(checked.shape)} needs ${checked.count} elements, ` +
          `but data has ${t.data.length}`,
      );
    }
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const begin = offset;
    offset += bytes.byteLength;
    chunks.push({ bytes, itemsize: info.size });
    const entry = { dtype: t.dtype, shape: checked.shape, data_offsets: [begin, offset] };
    headerParts.push(`${JSON.stringify(name)}:${JSON.stringify(entry)}`);
  }

  // Built by hand rather than via JSON.stringify(object) so that key order is
  // exactly as above (JS objects would move integer-like keys to the front).
  const headerJson = `{${headerParts.join(',')}}`;
  const rawHeader = Buffer.from(headerJson, 'utf8');
  const headerLen = Math.ceil(rawHeader.byteLength / 8) * 8;

  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(rawHeader, 8);
  out.fill(0x20, 8 + rawHeader.byteLength, 8 + headerLen); // space padding
  let pos = 8 + headerLen;
  for (const { bytes, itemsize } of chunks) {
    out.set(bytes, pos);
    if (!HOST_LITTLE_ENDIAN) swapBytes(out.subarray(pos, pos + bytes.byteLength), itemsize);
    pos += bytes.byteLength;
  }
  return out;
}

/** A header entry that passed validation, before its data is copied. */
interface Entry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  count: number;
  begin: number;
  end: number;
}

/**
 * Parses a safetensors file held in memory.
 *
 * Validation (hostile-input safe):
 * - the header length N must satisfy N ≤ 100 MB and 8 + N ≤ file size;
 * - the header must be valid UTF-8 encoding a JSON object;
 * - `__metadata__`, if present, must be an object of string values;
 * - every other entry must be an object with a known `dtype`, a `shape` of
 *   non-negative safe integers and `data_offsets` `[begin, end]` of integers
 *   with `0 ≤ begin ≤ end ≤ data length` and
 *   `end − begin == product(shape) × itemsize`;
 * - sorted by offset, the entries must tile the data section exactly: no
 *   overlaps, no holes, no trailing bytes (as the reference implementation).
 *
 * JSON object keys are always strings, so the "keys must be strings" rule of
 * the format is guaranteed by the JSON syntax itself; keys such as
 * `__proto__` are handled safely (stored as ordinary entries).
 *
 * @param buf - File contents. Not retained: all tensor data is copied into
 *   freshly allocated, properly aligned typed arrays in host byte order.
 * @param source - Name used in error messages, usually the file path.
 * @throws `Error` whose message starts with `safetensors: <source>: ` for any
 *   malformed input; never any other exception type.
 */
export function parseSafetensors(buf: Uint8Array, source = '<buffer>'): SafetensorsFile {
  try {
    return parseImpl(buf, source);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('safetensors:') && err.constructor === Error) {
      throw err;
    }
    // Defensive net: anything unforeseen (e.g. an allocation failure) still
    // surfaces with the documented error shape, keeping the original as cause.
    const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw stError(source, `unexpected failure while parsing: ${why}`, err);
  }
}

function parseImpl(buf: Uint8Array, source: string): SafetensorsFile {
  if (!(buf instanceof Uint8Array)) {
    throw stError(source, `expected a Uint8Array, got ${Object.prototype.toString.call(buf)}`);
  }
  const headerLen = checkPrefix(buf, buf.length, source);
  const dataStart = 8 + headerLen;
  const { metadata, entries } = parseHeader(buf.subarray(8, dataStart), buf.length - dataStart, source);
  return { tensors: copyTensors(entries, buf.subarray(dataStart)), metadata };
}

/** Validates the 8-byte length prefix against the file size; returns the header length. */
function checkPrefix(prefix: Uint8Array, fileSize: number, source: string): number {
  if (fileSize < 8) {
    throw stError(source, `file is ${fileSize} bytes, but the header length prefix alone needs 8`);
  }
  const headerLenBig = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (headerLenBig > BigInt(MAX_HEADER_SIZE)) {
    throw stError(source, `header length ${headerLenBig} exceeds the ${MAX_HEADER_SIZE}-byte limit`);
  }
  const headerLen = Number(headerLenBig);
  if (headerLen > fileSize - 8) {
    throw stError(
      source,
      `header length ${headerLen} exceeds the ${fileSize - 8} bytes available after the 8-byte prefix`,
    );
  }
  return headerLen;
}

/** Parses and validates the JSON header for a data section of `dataLen` bytes. */
function parseHeader(headerBytes: Uint8Array, dataLen: number, source: string): { metadata: Record<string, string>; entries: Entry[] } {
  const headerLen = headerBytes.length;
  // the outer object and __metadata__, then one object per tensor
  if (countObjects(headerBytes, MAX_TENSORS + 2) > MAX_TENSORS + 2) {
    throw stError(source, `header describes more than ${MAX_TENSORS} tensors (the most one file may hold)`);
  }
  let headerText: string;
  try {
    // fatal: reject invalid UTF-8; ignoreBOM: keep a BOM so JSON.parse rejects it.
    headerText = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch (err) {
    throw stError(source, `header (${headerLen} bytes) is not valid UTF-8`, err);
  }
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw stError(source, `header is not valid JSON: ${why}`, err);
  }
  if (!isPlainObject(header)) {
    const kind = header === null ? 'null' : Array.isArray(header) ? 'an array' : `a ${typeof header}`;
    throw stError(source, `expected the header to be a JSON object, got ${kind}`);
  }

  const metadata = nullDict<string>();
  const entries: Entry[] = [];

  for (const name of Object.keys(header)) {
    const value = header[name];
    if (name === METADATA_KEY) {
      if (!isPlainObject(value)) {
        throw stError(source, `expected ${METADATA_KEY} to be an object of strings, got ${show(value)}`);
      }
      for (const k of Object.keys(value)) {
        const v = value[k];
        if (typeof v !== 'string') {
          throw stError(source, `${METADATA_KEY} value for ${show(k)} must be a string, got ${show(v)}`);
        }
        metadata[k] = v;
      }
      continue;
    }
    entries.push(checkEntry(name, value, dataLen, source));
  }
  if (entries.length > MAX_TENSORS) {
    throw stError(source, `header describes ${entries.length} tensors, more than the ${MAX_TENSORS} one file may hold`);
  }

  // Sorted by position, the entries must tile [0, dataLen) exactly.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const e of entries) {
    if (e.begin !== expected) {
      const what = e.begin < expected ? 'overlaps the previous tensor' : 'leaves a hole before it';
      throw stError(
        source,
        `tensor ${show(e.name)} data_offsets [${e.begin},${e.end}] ${what}: expected it to begin at ${expected}`,
      );
    }
    expected = e.end;
  }
  if (expected !== dataLen) {
    throw stError(
      source,
      `tensors cover ${expected} bytes but the data section has ${dataLen} (unreferenced trailing bytes)`,
    );
  }
  return { metadata, entries };
}

/** Copies each entry's bytes out of the data section into a fresh, aligned typed array. */
function copyTensors(entries: Entry[], data: Uint8Array): Record<string, NamedArray> {
  const tensors = nullDict<NamedArray>();
  for (const e of entries) {
    const info = DTYPES[e.dtype];
    const arr = new info.ctor(e.count);
    const dst = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
    dst.set(data.subarray(e.begin, e.end));
    if (!HOST_LITTLE_ENDIAN) swapBytes(dst, info.size);
    tensors[e.name] = { dtype: e.dtype, shape: e.shape, data: arr };
  }
  return tensors;
}

/** Validates one tensor entry of the header. */
function checkEntry(name: string, value: unknown, dataLen: number, source: string): Entry {
  const where = `tensor ${show(name)}`;
  if (!isPlainObject(value)) {
    throw stError(source, `${where}: expected {dtype, shape, data_offsets}, got ${show(value)}`);
  }
  const { dtype, shape, data_offsets: offsets } = value;
  if (!isKnownDtype(dtype)) {
    throw stError(source, `${where}: unknown dtype ${show(dtype)}, expected one of ${KNOWN_DTYPES}`);
  }
  const itemsize = DTYPES[dtype].size;
  const checked = checkShape(shape, itemsize);
  if (typeof checked === 'string') throw stError(source, `${where}: ${checked}`);
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o: unknown) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
  ) {
    throw stError(source, `${where}: expected data_offsets [begin, end] of non-negative integers, got ${show(offsets)}`);
  }
  const begin = offsets[0] as number;
  const end = offsets[1] as number;
  if (begin > end || end > dataLen) {
    throw stError(
      source,
      `${where}: data_offsets [${begin},${end}] must satisfy begin <= end <= ${dataLen} (the data section size)`,
    );
  }
  const need = checked.count * itemsize;
  if (end - begin !== need) {
    throw stError(
      source,
      `${where}: data_offsets [${begin},${end}] span ${end - begin} bytes but ${dtype} shape ` +
        `${show(checked.shape)} needs ${need}`,
    );
  }
  return { name, dtype, shape: checked.shape, count: checked.count, begin: begin + 0, end: end + 0 };
}

/**
 * Converts a tensor's data to a fresh `Float32Array`.
 *
 * Supports F32, F64, I32, I64, U8, I8, I16, BOOL (as 0/1), F16 and BF16
 * (decoded from their raw bit patterns, including subnormals, infinities and
 * NaN). Wider types are rounded to the nearest float32.
 *
 * @throws `Error` starting with `safetensors: ` for an unknown dtype or a
 *   data array that does not match the dtype.
 */
export function toFloat32(a: NamedArray): Float32Array {
  if (!isPlainObject(a)) throw stError('toFloat32', `expected {dtype, shape, data}, got ${show(a)}`);
  if (!isKnownDtype(a.dtype)) {
    throw stError('toFloat32', `unknown dtype ${show(a.dtype)}, expected one of ${KNOWN_DTYPES}`);
  }
  if (!(a.data instanceof DTYPES[a.dtype].ctor)) {
    throw stError(
      'toFloat32',
      `dtype ${a.dtype} needs data as ${DTYPES[a.dtype].ctor.name}, got ${Object.prototype.toString.call(a.data)}`,
    );
  }
  switch (a.dtype) {
    case 'F16':
      return Float32Array.from(a.data as Uint16Array, halfToFloat);
    case 'BF16':
      // bfloat16 is the top half of a float32 bit pattern.
      return new Float32Array(Uint32Array.from(a.data as Uint16Array, (b) => b << 16).buffer);
    case 'I64':
      return Float32Array.from(a.data as BigInt64Array, (v) => Number(v));
    default: {
      const out = new Float32Array(a.data.length);
      out.set(a.data as Exclude<NamedArrayData, BigInt64Array>); // converts element-wise
      return out;
    }
  }
}

/** Decodes an IEEE 754 binary16 bit pattern. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero / subnormal
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * Atomically writes tensors to a safetensors file.
 *
 * The file is fully serialized in memory first (so invalid input throws
 * before the file system is touched), then written to
 * `.<name>.<pid>.<random>.tmp` in the target directory, fsync'ed and renamed
 * over `path`. On any failure the temporary file is removed and an existing
 * file at `path` is left untouched.
 *
 * @param path - Destination file.
 * @param tensors - Tensors by name; see {@link serializeSafetensors}.
 * @param metadata - Optional string→string metadata.
 * @throws `Error` starting with `safetensors: <path>: ` for invalid tensors,
 *   or the underlying `fs` error if writing fails.
 */
export function saveSafetensors(
  path: string,
  tensors: Record<string, NamedArray>,
  metadata?: Record<string, string>,
): void {
  if (typeof path !== 'string' || path === '') throw stError(String(path), `the path must be a non-empty string, got ${show(path)}`);
  const bytes = serializeImpl(tensors, metadata, path);
  try {
    writeFileAtomic(path, bytes);
  } catch (err) {
    throw stError(path, `cannot write: ${writeFailure(err, path)}`, err);
  }
}

/**
 * Reads and parses a safetensors file.
 *
 * Only regular files are read (a FIFO, /dev/zero or a directory is refused
 * without blocking), and every read is bounded: the 8-byte prefix, then the
 * header it declares (at most 100 MB), then exactly the data section that the
 * validated header describes.
 *
 * @param path - File to read.
 * @throws `Error` starting with `safetensors: <path>: ` if the file cannot be
 *   read or is malformed (see {@link parseSafetensors}).
 */
export function loadSafetensors(path: string): SafetensorsFile {
  return withRegularFile(path, (why, cause) => stError(String(path), why, cause), (read, size) => {
    try {
      const prefix = read(0, Math.min(8, size));
      const headerLen = checkPrefix(prefix, size, path);
      const dataStart = 8 + headerLen, dataLen = size - dataStart;
      const header = parseHeader(read(8, headerLen), dataLen, path);
      // the header accounts for every byte of the data section: read exactly that
      return { tensors: copyTensors(header.entries, read(dataStart, dataLen)), metadata: header.metadata };
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('safetensors:') && err.constructor === Error) throw err;
      const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      throw stError(path, `unexpected failure while reading: ${why}`, err);
    }
  });
}
