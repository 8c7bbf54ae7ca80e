/**
 * A restricted unpickler: exactly the opcodes and globals that a PyTorch state
 * dict needs, and nothing that could run code. Python's pickle calls whatever a
 * file names (`os.system`, `builtins.eval`); this one knows a fixed list of
 * globals — `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`,
 * `torch._utils._rebuild_parameter`, and the typed storages
 * `torch.FloatStorage`, `torch.LongStorage`, … — implemented here as plain data
 * constructors, and refuses any other name the moment it is read, before
 * anything else happens. There is no `eval`, no `require`, no property lookup
 * by a name from the file.
 *
 * Every length is checked against the bytes that remain; the memo, the stack
 * and the marks are bounded by the input's size (each entry costs at least one
 * byte of pickle).
 *
 * @module
 */

/** Storage classes a state dict uses, with their element type. */
export const STORAGE_DTYPES: Readonly<Record<string, { dtype: 'F32' | 'F64' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL'; size: number }>> = Object.freeze({
  FloatStorage: { dtype: 'F32', size: 4 },
  DoubleStorage: { dtype: 'F64', size: 8 },
  HalfStorage: { dtype: 'F16', size: 2 },
  BFloat16Storage: { dtype: 'BF16', size: 2 },
  LongStorage: { dtype: 'I64', size: 8 },
  IntStorage: { dtype: 'I32', size: 4 },
  ShortStorage: { dtype: 'I16', size: 2 },
  CharStorage: { dtype: 'I8', size: 1 },
  ByteStorage: { dtype: 'U8', size: 1 },
  BoolStorage: { dtype: 'BOOL', size: 1 },
});

/** A Python global the unpickler allows (the only kind of callable it knows). */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A Python tuple (a frozen array). */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

/** A dict or OrderedDict: insertion-ordered keys (str or int). */
export class PyDict {
  readonly map = new Map<string | number | boolean | null, PyValue>();
}

/** A persistent storage reference: `('storage', torch.FloatStorage, key, location, numel[, view])`. */
export class StorageRef {
  constructor(readonly dtype: string, readonly itemSize: number, readonly key: string, readonly numel: number) {}
}

/** A tensor rebuilt from a storage: the view `torch._utils._rebuild_tensor_v2` describes. */
export class TensorRef {
  constructor(readonly storage: StorageRef, readonly offset: number, readonly size: number[], readonly stride: number[]) {}
}

export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyValue[] | PyTuple | PyDict | PyGlobal | StorageRef | TensorRef;

const ALLOWED_GLOBALS = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  ...Object.keys(STORAGE_DTYPES).map((s) => `torch.${s}`),
]);

/** Why a global is refused, in words a user can act on. */
function refusal(name: string): string {
  if (/^torch\.nn\.modules\.|^__main__\./.test(name))
    return `the pickle names ${name}: this file is a whole pickled model, not a state dict (save model.state_dict() instead); only state dicts are read, since unpickling a model runs code`;
  return `the pickle names the global ${name}, which a state dict never needs; it is refused (loading it with Python's pickle could run arbitrary code)`;
}

const MARK = Symbol('mark');
type Item = PyValue | typeof MARK;

/**
 * Unpickles one pickle starting at `start` of `buf`; returns the value and the
 * offset after its STOP. `persistentLoad` resolves BINPERSID ids.
 */
export function unpickle(buf: Uint8Array, source: string, persistentLoad: (pid: PyValue) => PyValue, start = 0): { value: PyValue; end: number } {
  const fail = (msg: string): never => {
    throw new Error(`torch: ${source}: ${msg}`);
  };
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const stack: Item[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  let p = start;
  const need = (n: number, what: string) => {
    if (p + n > buf.length) fail(`truncated pickle: ${what} at byte ${p} needs ${n} bytes, ${buf.length - p} remain`);
  };
  const u8 = () => {
    need(1, 'an opcode argument');
    return buf[p++];
  };
  const u16 = () => {
    need(2, 'a 2-byte argument');
    const v = view.getUint16(p, true);
    p += 2;
    return v;
  };
  const u32 = () => {
    need(4, 'a 4-byte argument');
    const v = view.getUint32(p, true);
    p += 4;
    return v;
  };
  const u64 = () => {
    need(8, 'an 8-byte argument');
    const v = view.getBigUint64(p, true);
    p += 8;
    if (v > BigInt(buf.length)) fail(`a length of ${v} bytes is past the end of the file`);
    return Number(v);
  };
  const bytes = (n: number, what: string) => {
    need(n, what);
    const b = buf.subarray(p, p + n);
    p += n;
    return b;
  };
  const utf8 = (n: number) => Buffer.from(bytes(n, 'a string').slice()).toString('utf8');
  const line = () => {
    const e = buf.indexOf(0x0a, p);
    if (e < 0) fail('truncated pickle: a GLOBAL name without its newline');
    const s = Buffer.from(buf.subarray(p, e)).toString('latin1');
    p = e + 1;
    return s;
  };
  const pop = (): PyValue => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) fail(`stack underflow at byte ${p - 1}`);
    const v = stack.pop()!;
    return v as PyValue;
  };
  const top = (): PyValue => {
    if (stack.length === 0) fail(`stack underflow at byte ${p - 1}`);
    return stack[stack.length - 1] as PyValue;
  };
  const popMark = (): PyValue[] => {
    const m = marks.pop();
    if (m === undefined) fail(`no MARK for the opcode at byte ${p - 1}`);
    const items = stack.splice(m!) as PyValue[];
    return items;
  };
  const global = (module: string, name: string): PyGlobal => {
    const q = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(q)) fail(refusal(q));
    return new PyGlobal(module, name);
  };
  const setItems = (d: PyValue, kv: PyValue[]) => {
    if (!(d instanceof PyDict)) fail(`SETITEM(S) on a ${kind(d)}, not a dict`);
    for (let i = 0; i + 1 < kv.length; i += 2) {
      const k = kv[i];
      if (!(typeof k === 'string' || typeof k === 'number' || typeof k === 'boolean' || k === null)) fail(`a dict key of type ${kind(k)} (only str, int, bool and None keys are read)`);
      (d as PyDict).map.set(k as string | number | boolean | null, kv[i + 1]);
    }
  };
  const reduce = (f: PyValue, args: PyValue): PyValue => {
    if (!(f instanceof PyGlobal)) fail(`REDUCE calls a ${kind(f)}, not an allowed global`);
    if (!(args instanceof PyTuple)) fail(`REDUCE with ${kind(args)} arguments, not a tuple`);
    const a = (args as PyTuple).items, g = f as PyGlobal;
    switch (g.qualified) {
      case 'collections.OrderedDict': {
        if (a.length !== 0) fail('OrderedDict with arguments (a state dict builds it empty, then fills it)');
        return new PyDict();
      }
      case 'torch._utils._rebuild_tensor_v2': {
        // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        if (a.length < 6 || a.length > 7) fail(`_rebuild_tensor_v2 with ${a.length} arguments (expected 6 or 7)`);
        const [storage, offset, size, stride] = a;
        if (!(storage instanceof StorageRef)) fail(`_rebuild_tensor_v2 on a ${kind(storage)}, not a storage`);
        const ints = (v: PyValue, what: string): number[] => {
          if (!(v instanceof PyTuple)) fail(`the tensor ${what} is a ${kind(v)}, not a tuple`);
          return (v as PyTuple).items.map((x, i) => {
            if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) fail(`the tensor ${what}[${i}] is ${String(x)}, not a non-negative integer`);
            return x as number;
          });
        };
        if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) fail(`the tensor offset is ${String(offset)}`);
        const sz = ints(size, 'size'), st = ints(stride, 'stride');
        if (sz.length !== st.length) fail(`the tensor has ${sz.length} sizes but ${st.length} strides`);
        return new TensorRef(storage as StorageRef, offset as number, sz, st);
      }
      case 'torch._utils._rebuild_parameter': {
        // (data, requires_grad, backward_hooks)
        if (a.length !== 3 || !(a[0] instanceof TensorRef)) fail('_rebuild_parameter without a tensor');
        return a[0];
      }
      default:
        return fail(`the global ${g.qualified} cannot be called`);
    }
  };

  for (;;) {
    if (p >= buf.length) fail('truncated pickle: no STOP opcode');
    const at = p;
    const op = buf[p++];
    switch (op) {
      case 0x80: { // PROTO
        const v = u8();
        if (v > 5) fail(`pickle protocol ${v} is not supported`);
        break;
      }
      case 0x95: // FRAME: a length hint; the frame's opcodes follow inline
        u64();
        break;
      case 0x2e: { // STOP
        if (marks.length) fail('a MARK was left open at STOP');
        if (stack.length !== 1) fail(`${stack.length} values on the stack at STOP (expected 1)`);
        return { value: stack[0] as PyValue, end: p };
      }
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x7d: stack.push(new PyDict()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push(new PyTuple([])); break; // EMPTY_TUPLE
      case 0x74: stack.push(new PyTuple(popMark())); break; // TUPLE
      case 0x85: stack.push(new PyTuple([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(), a = pop(); stack.push(new PyTuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(), b = pop(), a = pop(); stack.push(new PyTuple([a, b, c])); break; } // TUPLE3
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: { need(4, 'BININT'); stack.push(view.getInt32(p, true)); p += 4; break; } // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: { // LONG1: little-endian two's complement
        const n = u8();
        const b = bytes(n, 'LONG1');
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (n > 0 && b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: { need(8, 'BINFLOAT'); stack.push(view.getFloat64(p, false)); p += 8; break; } // BINFLOAT (big-endian)
      case 0x58: stack.push(utf8(u32())); break; // BINUNICODE
      case 0x8c: stack.push(utf8(u8())); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(utf8(u64())); break; // BINUNICODE8
      case 0x43: stack.push(bytes(u8(), 'SHORT_BINBYTES').slice()); break; // SHORT_BINBYTES
      case 0x42: stack.push(bytes(u32(), 'BINBYTES').slice()); break; // BINBYTES
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k)) fail(`memo key ${k} was never stored`);
        stack.push(memo.get(k)!);
        break;
      }
      case 0x63: { const module = line(), name = line(); stack.push(global(module, name)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL with a non-string name');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: { const args = pop(), f = pop(); stack.push(reduce(f, args)); break; } // REDUCE
      case 0x62: { // BUILD: only the attribute dict that OrderedDict state dicts carry (_metadata)
        const state = pop(), obj = top();
        if (!(obj instanceof PyDict) || !(state instanceof PyDict)) fail(`BUILD on a ${kind(obj)} with ${kind(state)} state (only a dict's attribute dict is read)`);
        for (const k of (state as PyDict).map.keys()) if (k !== '_metadata') fail(`BUILD sets the attribute ${String(k)} (only _metadata is read)`);
        break;
      }
      case 0x73: { const v = pop(), k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const kv = popMark(); if (kv.length % 2) fail('SETITEMS with an odd number of items'); setItems(top(), kv); break; } // SETITEMS
      case 0x61: { const v = pop(), l = top(); if (!Array.isArray(l)) fail(`APPEND to a ${kind(l)}`); (l as PyValue[]).push(v); break; } // APPEND
      case 0x65: { const items = popMark(), l = top(); if (!Array.isArray(l)) fail(`APPENDS to a ${kind(l)}`); (l as PyValue[]).push(...items); break; } // APPENDS
      case 0x51: stack.push(persistentLoad(pop())); break; // BINPERSID
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      default:
        fail(`pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at} is not one a state dict uses; refused`);
    }
  }
}

/** A short description of a value's Python type, for messages. */
export function kind(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'list';
  if (v instanceof PyTuple) return 'tuple';
  if (v instanceof PyDict) return 'dict';
  if (v instanceof PyGlobal) return `global ${v.qualified}`;
  if (v instanceof StorageRef) return 'storage';
  if (v instanceof TensorRef) return 'tensor';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'bigint') return 'int';
  return typeof v === 'number' ? 'number' : typeof v;
}

/** Parses a persistent id of the zip format, `('storage', torch.XStorage, key, location, numel)`. */
export function storageFromPid(pid: PyValue, source: string): StorageRef {
  const fail = (msg: string): never => {
    throw new Error(`torch: ${source}: ${msg}`);
  };
  if (!(pid instanceof PyTuple) || pid.items.length < 5 || pid.items[0] !== 'storage') fail(`a persistent id that is not a storage reference (${kind(pid)})`);
  const [, type, key, , numel] = (pid as PyTuple).items;
  if (!(type instanceof PyGlobal) || type.module !== 'torch' || !(type.name in STORAGE_DTYPES)) fail(`a storage of type ${kind(type)}`);
  if (typeof key !== 'string' || !/^[\w.-]{1,64}$/.test(key)) fail(`a storage key ${JSON.stringify(key)}`);
  if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) fail(`a storage of ${String(numel)} elements`);
  const d = STORAGE_DTYPES[(type as PyGlobal).name];
  return new StorageRef(d.dtype, d.size, key as string, numel as number);
}
