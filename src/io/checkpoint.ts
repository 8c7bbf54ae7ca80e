/**
 * Checkpoints as safetensors files: tensors by name plus string metadata.
 * Files written by PyTorch (or any safetensors writer) load here, and ours load
 * there. Writes are atomic: temp file + rename, so a crash never leaves a
 * half-written checkpoint in place.
 */
import { Tensor, tensor, describe } from '../tensor';
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

/** Runs a safetensors call, naming the public op in front of its error (`load: safetensors: model.st: …`). */
function as<T>(op: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof Error && e.message.startsWith('safetensors: ')) throw new Error(`${op}: ${e.message}`, { cause: e });
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

/** Loads every tensor of a safetensors file as float32 (F32, F64, F16, BF16 and integer dtypes convert). */
export function load(path: string): TensorDict {
  checkPath('load', path);
  return fromNamed(as('load', () => loadSafetensors(path))).tensors;
}

/** Loads tensors and the `__metadata__` strings. */
export function loadWithMetadata(path: string): { tensors: TensorDict; metadata: Record<string, string> } {
  checkPath('loadWithMetadata', path);
  return fromNamed(as('loadWithMetadata', () => loadSafetensors(path)));
}

/** Decodes safetensors bytes. */
export function deserialize(buf: Uint8Array, source?: string): { tensors: TensorDict; metadata: Record<string, string> } {
  if (source !== undefined && typeof source !== 'string') throw new TypeError(`deserialize: source must be a string, got ${describe(source)}`);
  return fromNamed(as('deserialize', () => parseSafetensors(buf, source)));
}
