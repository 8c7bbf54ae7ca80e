/**
 * Checkpoints as safetensors files: tensors by name plus string metadata.
 * Files written by PyTorch (or any safetensors writer) load here, and ours load
 * there. Writes are atomic: temp file + rename, so a crash never leaves a
 * half-written checkpoint in place. Loading also reads PyTorch's own `.pt`
 * state dicts (see ./torch.ts), recognised by their first bytes.
 */
import * as fs from 'node:fs';
import { Tensor, tensor, describe } from '../tensor';
import { isTorchFile, loadTorch, parseTorch } from './torch';
import { loadSafetensors, saveSafetensors, parseSafetensors, serializeSafetensors, toFloat32, nullDict, type NamedArray } from './safetensors';

/**
 * Tensors by name, as `Module.stateDict()` returns. Dicts that blasnet returns
 * have no prototype, so any name (`__proto__`, `constructor`) is an ordinary key.
 */
export type TensorDict = Record<string, Tensor>;

function toNamed(op: string, tensors: TensorDict): Record<string, NamedArray> {
  if (tensors === null || typeof tensors !== 'object' || Array.isArray(tensors) || tensors instanceof Tensor)
    throw new TypeError(`${op}: expected an object of tensors by name, got ${describe(tensors)}`);
  const out = nullDict<NamedArray>();
  for (const [k, t] of Object.entries(tensors)) {
    if (!(t instanceof Tensor)) throw new TypeError(`${op}: ${k} must be a Tensor, got ${describe(t)}`);
    t._check(`${op}: ${k}`);
    out[k] = { dtype: 'F32', shape: t.shape.slice(), data: t.data() };
  }
  return out;
}

function checkPath(op: string, path: unknown): string {
  if (typeof path !== 'string' || path === '') throw new TypeError(`${op}: path must be a non-empty string, got ${describe(path)}`);
  return path;
}

/** Runs a safetensors or PyTorch-checkpoint call, naming the public op in front of its error (`load: safetensors: model.st: …`). */
function as<T>(op: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof Error && (e.message.startsWith('safetensors: ') || e.message.startsWith('torch: '))) throw new Error(`${op}: ${e.message}`, { cause: e });
    throw e;
  }
}

function checkMeta(op: string, metadata: Record<string, string> | undefined): void {
  if (metadata === undefined) return;
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))
    throw new TypeError(`${op}: metadata must be an object of strings, got ${describe(metadata)}`);
  for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new TypeError(`${op}: metadata.${k} must be a string, got ${describe(v)}`);
}

/** Saves tensors (float32) and optional string metadata to a safetensors file, atomically. */
export function save(tensors: TensorDict, path: string, metadata?: Record<string, string>): void {
  checkPath('save', path);
  checkMeta('save', metadata);
  const named = toNamed('save', tensors);
  as('save', () => saveSafetensors(path, named, metadata));
}

/** Encodes tensors as safetensors bytes. */
export function serialize(tensors: TensorDict, metadata?: Record<string, string>): Uint8Array {
  checkMeta('serialize', metadata);
  const named = toNamed('serialize', tensors);
  return as('serialize', () => serializeSafetensors(named, metadata));
}

function fromNamed(f: { tensors: Record<string, NamedArray>; metadata: Record<string, string> }): { tensors: TensorDict; metadata: Record<string, string> } {
  const tensors = nullDict<Tensor>();
  try {
    for (const [k, a] of Object.entries(f.tensors)) tensors[k] = tensor(toFloat32(a), a.shape.slice());
  } catch (e) {
    for (const t of Object.values(tensors)) t.dispose();
    throw e;
  }
  return { tensors, metadata: f.metadata };
}

/** Whether a path is a regular file that starts like a PyTorch checkpoint (reads 16 bytes; never blocks on a FIFO). */
function looksLikeTorch(path: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch {
    return false; // the safetensors loader reports the error
  }
  try {
    if (!fs.fstatSync(fd).isFile()) return false;
    const head = Buffer.alloc(16);
    const n = fs.readSync(fd, head, 0, 16, 0);
    return isTorchFile(head.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Loads every tensor of a checkpoint as float32 (F32, F64, F16, BF16 and integer
 * dtypes convert): a safetensors file, or a PyTorch `.pt` state dict (zip or
 * legacy format; nothing in it is executed).
 */
export function load(path: string): TensorDict {
  checkPath('load', path);
  return fromNamed(as('load', () => (looksLikeTorch(path) ? loadTorch(path) : loadSafetensors(path)))).tensors;
}

/** Loads tensors and the string metadata (safetensors' `__metadata__`; a `.pt` file's non-tensor values). */
export function loadWithMetadata(path: string): { tensors: TensorDict; metadata: Record<string, string> } {
  checkPath('loadWithMetadata', path);
  return fromNamed(as('loadWithMetadata', () => (looksLikeTorch(path) ? loadTorch(path) : loadSafetensors(path))));
}

/** Decodes checkpoint bytes (safetensors, or a PyTorch `.pt` file). */
export function deserialize(buf: Uint8Array, source?: string): { tensors: TensorDict; metadata: Record<string, string> } {
  if (source !== undefined && typeof source !== 'string') throw new TypeError(`deserialize: source must be a string, got ${describe(source)}`);
  return fromNamed(as('deserialize', () => (buf instanceof Uint8Array && isTorchFile(buf.subarray(0, 16)) ? parseTorch(buf, source) : parseSafetensors(buf, source))));
}
