/**
 * PyTorch checkpoints (`torch.save(model.state_dict(), 'x.pt')`), read without
 * running anything from the file.
 *
 * Two layouts are read:
 *
 * - the zip format (PyTorch ≥ 1.6): `<name>/data.pkl` (the pickled dict, whose
 *   tensors refer to storages by key), `<name>/data/<key>` (each storage's raw
 *   little-endian bytes), `<name>/byteorder` (when present, must be `little`);
 * - the legacy format (`_use_new_zipfile_serialization=False`): a magic-number
 *   pickle, a protocol pickle, a sys-info pickle, the dict, a pickled list of
 *   storage keys, then each storage as an 8-byte element count and its bytes.
 *
 * The pickles go through {@link unpickle}, which knows only the globals a state
 * dict uses and refuses any other (`os.system`, a pickled `nn.Module`) before
 * anything else happens. Every tensor's size, stride and offset are checked to
 * lie inside its storage, and every storage inside the file.
 *
 * The result is flattened like a state dict: nested dicts and lists become
 * dotted keys (`{'model': {'fc.weight': t}, 'epoch': 3}` → tensor
 * `model.fc.weight`, metadata `epoch: "3"`); numbers, strings, booleans and
 * None go to the metadata as strings.
 *
 * @module
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { ZipArchive, isZip } from './torch_zip';
import { unpickle, storageFromPid, kind, PyDict, PyTuple, StorageRef, TensorRef, type PyValue } from './torch_pickle';
import type { NamedArray, SafetensorsFile } from './safetensors';

/** The largest .pt file read: 4 GiB (what a Node Buffer can hold on 64-bit). */
export const MAX_TORCH_FILE_BYTES = 2 ** 32;
/** Nested dicts and lists deeper than this are refused. */
const MAX_DEPTH = 64;
const MAX_NUMEL = 2 ** 31 - 1;

function fail(source: string, msg: string): never {
  throw new Error(`torch: ${source}: ${msg}`);
}

/** The first bytes of a legacy file: PROTO 2, then the magic number 0x1950a86a20f9469cfc6c as LONG1. */
const LEGACY_PREFIX = Uint8Array.of(0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19);

/**
 * Whether bytes (the first 16 are enough) start like a PyTorch checkpoint: a zip
 * archive, or the legacy format's magic number. (A safetensors file starts with
 * its header length, which these prefixes would make impossibly large.)
 */
export function isTorchFile(head: Uint8Array): boolean {
  return isZip(head) || (head.length >= LEGACY_PREFIX.length && LEGACY_PREFIX.every((v, i) => head[i] === v));
}

/** Storage bytes by key, with their element type. */
type Storages = Map<string, { dtype: string; itemSize: number; bytes: Uint8Array }>;

/** Copies a tensor's elements (any strides, inside its storage) into a row-major typed array. */
function materialize(t: TensorRef, storages: Storages, source: string, name: string): NamedArray {
  const s = storages.get(t.storage.key);
  if (!s) fail(source, `${name}: storage ${t.storage.key} is not in the file`);
  if (s.dtype !== t.storage.dtype) fail(source, `${name}: storage ${t.storage.key} is ${s.dtype} here and ${t.storage.dtype} elsewhere`);
  const available = Math.floor(s.bytes.length / s.itemSize);
  let numel = 1;
  for (const d of t.size) numel *= d;
  if (numel > MAX_NUMEL) fail(source, `${name}: ${numel} elements is more than the limit of ${MAX_NUMEL}`);
  if (numel > 0) {
    let last = t.offset;
    t.size.forEach((d, i) => (last += (d - 1) * t.stride[i]));
    if (last >= available) fail(source, `${name}: its view (offset ${t.offset}, size [${t.size}], stride [${t.stride}]) reaches element ${last} of a storage of ${available}`);
  }
  const { dtype, itemSize } = s;
  const out = new Uint8Array(numel * itemSize);
  // row-major contiguous: one copy
  let contiguous = true, expect = 1;
  for (let i = t.size.length - 1; i >= 0; i--) {
    if (t.size[i] !== 1 && t.stride[i] !== expect) contiguous = false;
    expect *= t.size[i];
  }
  if (numel > 0) {
    if (contiguous) out.set(s.bytes.subarray(t.offset * itemSize, (t.offset + numel) * itemSize));
    else {
      const nd = t.size.length, idx = new Array<number>(nd).fill(0);
      for (let k = 0; k < numel; k++) {
        let src = t.offset;
        for (let d = 0; d < nd; d++) src += idx[d] * t.stride[d];
        out.set(s.bytes.subarray(src * itemSize, (src + 1) * itemSize), k * itemSize);
        for (let d = nd - 1; d >= 0; d--) {
          if (++idx[d] < t.size[d]) break;
          idx[d] = 0;
        }
      }
    }
  }
  const buf = out.buffer;
  const data =
    dtype === 'F32' ? new Float32Array(buf) :
    dtype === 'F64' ? new Float64Array(buf) :
    dtype === 'I64' ? new BigInt64Array(buf) :
    dtype === 'I32' ? new Int32Array(buf) :
    dtype === 'I16' ? new Int16Array(buf) :
    dtype === 'F16' || dtype === 'BF16' ? new Uint16Array(buf) :
    dtype === 'I8' ? new Int8Array(buf) : out;
  return { dtype: dtype as NamedArray['dtype'], shape: t.size.slice(), data };
}

/** Flattens the unpickled value into tensors and string metadata. */
function flatten(root: PyValue, storages: Storages, source: string): SafetensorsFile {
  const tensors: Record<string, NamedArray> = Object.create(null);
  const metadata: Record<string, string> = Object.create(null);
  const active = new Set<object>();
  const walk = (v: PyValue, key: string, depth: number): void => {
    if (depth > MAX_DEPTH) fail(source, `nesting deeper than ${MAX_DEPTH} levels at ${key}`);
    if (v instanceof TensorRef) {
      if (key === '') fail(source, 'the file holds a single tensor, not a state dict');
      tensors[key] = materialize(v, storages, source, key);
      return;
    }
    if (v instanceof PyDict || Array.isArray(v) || v instanceof PyTuple) {
      if (active.has(v)) fail(source, `a container that contains itself at ${key || 'the top level'}`);
      active.add(v);
      const entries: [string, PyValue][] = v instanceof PyDict ? [...v.map].map(([k, x]) => [String(k), x]) : (Array.isArray(v) ? v : v.items).map((x, i) => [String(i), x]);
      // a tuple or list of plain values is one metadata entry
      if (!(v instanceof PyDict) && entries.every(([, x]) => x === null || ['number', 'string', 'boolean'].includes(typeof x))) {
        if (key === '') fail(source, `the file holds a ${kind(v)}, not a state dict`);
        metadata[key] = JSON.stringify(entries.map(([, x]) => x));
      } else for (const [k, x] of entries) walk(x, key === '' ? k : `${key}.${k}`, depth + 1);
      active.delete(v);
      return;
    }
    if (key === '') fail(source, `the file holds a ${kind(v)}, not a state dict`);
    if (v === null) metadata[key] = 'None';
    else if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') metadata[key] = String(v);
    else if (typeof v === 'bigint') metadata[key] = v.toString();
    else fail(source, `${key} is a ${kind(v)}, which a state dict does not hold`);
  };
  walk(root, '', 0);
  return { tensors: { ...tensors }, metadata: { ...metadata } };
}

function readZip(buf: Uint8Array, source: string): SafetensorsFile {
  const zip = new ZipArchive(buf, source);
  const pkls = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length !== 1) fail(source, pkls.length ? `the archive holds ${pkls.length} data.pkl files` : 'the archive has no <name>/data.pkl: not a PyTorch checkpoint');
  const prefix = pkls[0].slice(0, -'data.pkl'.length);
  if (zip.entries.has(`${prefix}byteorder`)) {
    const order = Buffer.from(zip.read(`${prefix}byteorder`)).toString('latin1');
    if (order !== 'little') fail(source, `the tensors are stored ${JSON.stringify(order)}-endian; only little-endian files are read`);
  }
  const storages: Storages = new Map();
  const { value, end } = unpickle(zip.read(pkls[0]), source, (pid) => {
    const ref = storageFromPid(pid, source);
    const prev = storages.get(ref.key);
    if (!prev) {
      const name = `${prefix}data/${ref.key}`;
      if (!zip.entries.has(name)) fail(source, `storage ${ref.key} is referenced but ${name} is not in the archive`);
      const bytes = zip.read(name);
      if (bytes.length < ref.numel * ref.itemSize) fail(source, `${name} has ${bytes.length} bytes, fewer than its ${ref.numel} ${ref.dtype} elements need`);
      storages.set(ref.key, { dtype: ref.dtype, itemSize: ref.itemSize, bytes });
    } else if (prev.dtype !== ref.dtype) fail(source, `storage ${ref.key} is read as both ${prev.dtype} and ${ref.dtype}`);
    return ref;
  });
  void end;
  return flatten(value, storages, source);
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

function readLegacy(buf: Uint8Array, source: string): SafetensorsFile {
  const noPersist = (): never => fail(source, 'a persistent id in the header of a legacy file');
  let r = unpickle(buf, source, noPersist, 0);
  if (r.value !== LEGACY_MAGIC) fail(source, 'not a PyTorch checkpoint (neither a zip archive nor the legacy magic number)');
  r = unpickle(buf, source, noPersist, r.end);
  if (r.value !== 1001) fail(source, `legacy protocol version ${String(r.value)} (expected 1001)`);
  r = unpickle(buf, source, noPersist, r.end);
  const info = r.value;
  if (!(info instanceof PyDict) || info.map.get('little_endian') !== true) fail(source, 'a legacy file written on a big-endian machine (or without sys info)');
  const refs = new Map<string, StorageRef>();
  const main = unpickle(buf, source, (pid) => {
    // ('storage', torch.XStorage, root_key, location, numel, view_metadata)
    if (pid instanceof PyTuple && pid.items.length === 6 && pid.items[5] !== null) fail(source, 'storage views of the legacy format are not supported');
    const ref = storageFromPid(pid, source);
    const prev = refs.get(ref.key);
    if (prev && (prev.dtype !== ref.dtype || prev.numel !== ref.numel)) fail(source, `storage ${ref.key} is declared twice differently`);
    refs.set(ref.key, ref);
    return ref;
  }, r.end);
  const keysPickle = unpickle(buf, source, noPersist, main.end);
  const keys = keysPickle.value;
  if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string')) fail(source, 'the legacy storage key list is not a list of strings');
  const storages: Storages = new Map();
  let p = keysPickle.end;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (const key of keys as string[]) {
    const ref = refs.get(key);
    if (!ref) fail(source, `storage ${key} is listed but never referenced`);
    if (p + 8 > buf.length) fail(source, `truncated: storage ${key}'s header at byte ${p}`);
    const n = view.getBigInt64(p, true);
    if (n < 0n || n !== BigInt(ref.numel)) fail(source, `storage ${key} holds ${n} elements but is declared with ${ref.numel}`);
    p += 8;
    const bytes = ref.numel * ref.itemSize;
    if (p + bytes > buf.length) fail(source, `truncated: storage ${key} needs ${bytes} bytes at ${p}, the file has ${buf.length - p}`);
    storages.set(key, { dtype: ref.dtype, itemSize: ref.itemSize, bytes: buf.subarray(p, p + bytes) });
    p += bytes;
  }
  return flatten(main.value, storages, source);
}

/** Parses the bytes of a `.pt` file. */
export function parseTorch(buf: Uint8Array, source = '<buffer>'): SafetensorsFile {
  if (!(buf instanceof Uint8Array)) throw new TypeError(`parseTorch: expected a Uint8Array, got ${buf === null ? 'null' : typeof buf}`);
  if (os.endianness() !== 'LE') fail(source, 'reading PyTorch files needs a little-endian machine');
  if (isZip(buf)) return readZip(buf, source);
  if (buf.length >= 2 && buf[0] === 0x80) return readLegacy(buf, source);
  return fail(source, 'not a PyTorch checkpoint (neither a zip archive nor a pickle)');
}

/** Reads a `.pt` file (a regular file of at most {@link MAX_TORCH_FILE_BYTES}). */
export function loadTorch(path: string): SafetensorsFile {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch {
    return fail(path, 'no such file');
  }
  if (!st.isFile()) fail(path, 'not a regular file');
  if (st.size > MAX_TORCH_FILE_BYTES) fail(path, `${st.size} bytes is more than the limit of ${MAX_TORCH_FILE_BYTES}`);
  const buf = fs.readFileSync(path);
  if (buf.length !== st.size) fail(path, 'the file changed while it was read');
  return parseTorch(buf, path);
}
