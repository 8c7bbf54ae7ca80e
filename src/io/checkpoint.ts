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
  if (tensors === null || typeof tensors !== 'object') throw new TypeError(`${op}: expected an object of tensors, got ${describe(tensors)}`);
  const out = nullDict<NamedArray>();
  for (const [k, t] of Object.entries(tensors)) {
    if (!(t instanceof Tensor)) throw new TypeError(`${op}: ${k} must be a Tensor, got ${describe(t)}`);
    out[k] = { dtype: 'F32', shape: t.shape.slice(), data: t.data() };
  }
  return out;
}

function checkMeta(op: string, metadata: Record<string, string> | undefined): void {
  if (metadata === undefined) return;
  if (metadata === null || typeof metadata !== 'object') throw new TypeError(`${op}: metadata must be an object of strings`);
  for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new TypeError(`${op}: metadata.${k} must be a string, got ${describe(v)}`);
}

/** Saves tensors (float32) and optional string metadata to a safetensors file, atomically. */
export function save(tensors: TensorDict, path: string, metadata?: Record<string, string>): void {
  checkMeta('save', metadata);
  saveSafetensors(path, toNamed('save', tensors), metadata);
}

/** Encodes tensors as safetensors bytes. */
export function serialize(tensors: TensorDict, metadata?: Record<string, string>): Uint8Array {
  checkMeta('serialize', metadata);
  return serializeSafetensors(toNamed('serialize', tensors), metadata);
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
  return loadWithMetadata(path).tensors;
}

/** Loads tensors and the `__metadata__` strings. */
export function loadWithMetadata(path: string): { tensors: TensorDict; metadata: Record<string, string> } {
  return fromNamed(loadSafetensors(path));
}

/** Decodes safetensors bytes. */
export function deserialize(buf: Uint8Array, source?: string): { tensors: TensorDict; metadata: Record<string, string> } {
  return fromNamed(parseSafetensors(buf, source));
}
