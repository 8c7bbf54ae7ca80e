/**
 * Tracing a Module's eval-mode forward into the plan IR, without running it.
 *
 * Every blasnet op ends in a call into the native addon (`native.convForward`,
 * `native.binary`, …) whose arguments are the kernel's complete geometry. While
 * a trace runs, those functions are replaced by recorders: the model's
 * `forward` runs as usual in JavaScript — shape checks, reshapes, control flow
 * on shapes, any helper code — but each native call records a node (kernel,
 * geometry, operands) and returns a placeholder handle instead of computing.
 * Views share their source's handle, so they cost nothing; parameters and
 * buffers reach the recorders as real handles and become plan constants.
 *
 * So a trace costs only the JavaScript of `forward` (no kernel runs, no
 * activation memory, whatever the input size), and the plan calls exactly
 * the kernels eager mode calls, with the same arguments: results are bitwise
 * those of `model.forward`.
 *
 * What cannot be traced fails with an error that names the module: reading
 * values inside forward (`.data()`, `.item()`, `.toArray()`, printing — which
 * is also the only way JavaScript control flow can depend on tensor values),
 * random numbers (rand/randn, dropout in training mode), in-place changes to
 * parameters or buffers, losses and backward kernels, a module that returns a
 * tensor it did not compute (a cached or precomputed result), and a forward
 * that does not return a Tensor.
 * @internal
 */
import { native, type Handle } from '../native';
import { Tensor, describe, numelOf } from '../tensor';
import { noGrad } from '../autograd';
import type { Module } from '../nn/module';
import { StepOp } from './codes';
import { Un } from '../ops/codes';

export type ValKind = 'input' | 'const' | 'data' | 'temp' | 'unusable';

/** A value of the traced program. */
export interface Val {
  id: number;
  kind: ValKind;
  numel: number;
  /** 'const': index in the session's weight store. */
  constIdx?: number;
  /** 'data': a constant made inside forward (tensor([...]) and the like). */
  data?: Float32Array;
  /** 'temp': the node that computes it. */
  producer?: Node;
  /** 'unusable': what it is (max-pool indices, batch-norm statistics: backward-only outputs). */
  why?: string;
}

/** One kernel call. */
export interface Node {
  op: StepOp;
  ins: (Val | null)[];
  outs: (Val | null)[];
  ints: number[];
  reals: number[];
  /** The innermost module whose forward made the call, e.g. `layer1.0.conv1 (Conv2d)`. */
  where: string;
}

export interface Trace {
  batch: number;
  input: Val;
  vals: Val[];
  nodes: Node[];
  output: Val;
  outShape: number[];
}

/** What the session provides to the tracer. */
export interface TraceHost {
  /** Store index and size of a real tensor handle met during the trace (a parameter, buffer or captured tensor). */
  constant(h: Handle): { idx: number; numel: number };
}

/** A reason a forward cannot be compiled, with the module it happened in. */
export class TraceError extends Error {
  constructor(readonly reason: string, readonly where: string) {
    super(reason);
  }
}

class MetaHandle {
  constructor(public val: Val) {}
}

/** Native functions a forward may call that compute nothing the plan needs. */
const PASS_THROUGH = new Set(['backendInfo', 'getNumThreads', 'memoryInfo']);

/** Why each backward-, loss- or training-only native function cannot appear in an inference plan. */
const REFUSED: Record<string, string> = {
  randomFill: 'draws random numbers (rand, randn, or dropout in training mode): a compiled plan is deterministic',
  activationBackward: 'runs a backward kernel',
  softmaxBackward: 'runs a backward kernel',
  convBackward: 'runs a backward kernel',
  maxPoolBackward: 'runs a backward kernel',
  poolIndices: 'returns max-pool indices (returnIndices), which exist only for backward and unpooling in compiled plans',
  avgPoolBackward: 'runs a backward kernel',
  batchNormBackward: 'runs a backward kernel',
  crossEntropyForward: 'computes a loss (crossEntropy)',
  crossEntropyBackward: 'runs a backward kernel',
  nllForward: 'computes a loss (nllLoss)',
  nllBackward: 'runs a backward kernel',
  sgdStep: 'runs an optimizer step',
  adamStep: 'runs an optimizer step',
  setNumThreads: 'changes the thread count',
  poolTrim: 'trims the allocator',
  poolSetLimit: 'changes the allocator limit',
};

let active = false;

/** An index tensor as native.indexGather takes it: [handle, strides, xstride, size, wrap]. */
type IndexArg = [unknown, number[], number, number, boolean];

/** The integer arguments of a gather / scatter step (native/plan.h): the spec, index tensors' fields in order. */
function specInts(shape: number[], xstride: number[], offset: number, idx: IndexArg[]): (number | boolean)[] {
  const out: (number | boolean)[] = [shape.length, ...shape, ...xstride, offset, idx.length];
  for (const [, stride, xs, size, wrap] of idx) out.push(...stride, xs, size, wrap);
  return out;
}

/** Which Tensor method is reading values (the outermost of the Tensor frames at the top of the stack), for the message. */
function readerName(): string {
  const frames = (new Error().stack ?? '').split('\n');
  let name: string | null = null;
  for (const f of frames) {
    const m = /at Tensor\.(\w+|\[[^\]]+\])/.exec(f);
    if (m) name = m[1];
    else if (name) break;
  }
  if (!name) return 'reading tensor values';
  return name === 'toString' || name.includes('inspect') ? 'printing a tensor' : `Tensor.${name}()`;
}

/**
 * Traces `model.forward` on a placeholder input of `shape` (batch first), in
 * eval mode and without grad, restoring the model's modes and the addon
 * afterwards. Throws TraceError (reason + module) for what cannot be traced;
 * other errors (an op rejecting the shape) propagate with `where` attached.
 */
export function trace(model: Module, shape: number[], host: TraceHost): Trace {
  if (active) throw new TraceError('a forward being compiled compiles another model', '(root)');
  const vals: Val[] = [];
  const nodes: Node[] = [];
  const newVal = (kind: ValKind, numel: number, extra: Partial<Val> = {}): Val => {
    const v: Val = { id: vals.length, kind, numel, ...extra };
    vals.push(v);
    return v;
  };
  let where = `(root) ${model.constructor.name}`;
  let failure: TraceError | null = null;
  const refuse = (reason: string): never => {
    const e = new TraceError(reason, where);
    failure ??= e; // a forward that catches this still fails afterwards
    throw e;
  };
  const realConsts = new Map<object, Val>();
  const valOf = (h: unknown, what: string): Val => {
    if (h instanceof MetaHandle) {
      if (h.val.kind === 'unusable') refuse(`uses ${h.val.why} (${what}), which exist only for backward`);
      return h.val;
    }
    if (h === null || typeof h !== 'object') refuse(`passes ${describe(h)} where a tensor belongs (${what})`);
    let v = realConsts.get(h as object);
    if (!v) {
      const c = host.constant(h as Handle);
      v = newVal('const', c.numel, { constIdx: c.idx });
      realConsts.set(h as object, v);
    }
    return v;
  };
  const opt = (h: unknown, what: string): Val | null => (h === null || h === undefined ? null : valOf(h, what));
  const emit = (op: StepOp, ins: (Val | null)[], numels: (number | null)[], ints: (number | boolean)[], reals: number[] = []): MetaHandle[] => {
    const node: Node = { op, ins, outs: [], ints: ints.map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : v)), reals, where };
    node.outs = numels.map((n) => (n === null ? null : newVal('temp', n, { producer: node })));
    nodes.push(node);
    return node.outs.map((o) => new MetaHandle(o ?? newVal('unusable', 0, { why: 'an unused output' })));
  };
  const one = (op: StepOp, ins: (Val | null)[], numel: number, ints: (number | boolean)[], reals: number[] = []): MetaHandle => emit(op, ins, [numel], ints, reals)[0];
  const unusable = (why: string) => new MetaHandle(newVal('unusable', 0, { why }));
  /** A conv step; geom as native.convForward's ([N, C, D, H, W, Cout, …, OD, OH, OW]). */
  const convStep = (x: unknown, w: unknown, b: unknown, geom: number[]): MetaHandle =>
    one(StepOp.Conv, [valOf(x, 'conv'), valOf(w, 'conv weight'), opt(b, 'conv bias')], geom[0] * geom[5] * geom[19] * geom[20] * geom[21], geom);
  /** An in-place op on h: the handle now holds the result (views share the handle, so they see it too). */
  const rebind = (h: unknown, what: string, make: (cur: Val) => MetaHandle): void => {
    if (!(h instanceof MetaHandle)) refuse(`changes a parameter, buffer or captured tensor in place (${what})`);
    const r = make(valOf(h, what));
    (h as MetaHandle).val = r.val;
  };
  const prod = (a: number[]) => numelOf(a);
  const real = native as unknown as Record<string, (...a: unknown[]) => unknown>;

  const meta: Partial<Record<string, (...a: any[]) => unknown>> = {
    alloc: (n: number, fill?: number) => one(StepOp.Fill, [], n, [n], [fill ?? 0]),
    fromArray: (a: Float32Array) => new MetaHandle(newVal('data', a.length, { data: a.slice() })),
    toArray: (h: unknown) => (h instanceof MetaHandle ? refuse(`reads tensor values inside forward (${readerName()}); a compiled plan cannot depend on values, and JavaScript control flow on tensor values cannot be traced`) : real.toArray(h)),
    indexRows: (h: unknown, row: number, idx: Int32Array) => (h instanceof MetaHandle ? refuse(`reads tensor values inside forward (${readerName()}); a compiled plan cannot depend on values, and JavaScript control flow on tensor values cannot be traced`) : real.indexRows(h, row, idx)),
    readAt: (h: unknown, i: number) => (h instanceof MetaHandle ? refuse(`reads tensor values inside forward (${readerName()}); a compiled plan cannot depend on values, and JavaScript control flow on tensor values cannot be traced`) : real.readAt(h, i)),
    writeArray: (h: unknown, a: Float32Array) => rebind(h, 'writeArray', () => new MetaHandle(newVal('data', a.length, { data: a.slice() }))),
    free: () => undefined,
    clone: (h: unknown) => {
      const x = valOf(h, 'clone');
      return one(StepOp.Copy, [x], x.numel, []);
    },
    copyInto: (dst: unknown, src: unknown) => rebind(dst, 'copy_', () => {
      const s = valOf(src, 'copy_');
      return one(StepOp.Copy, [s], s.numel, []);
    }),
    binary: (op: number, a: unknown, b: unknown, shape: number[], as: number[], bs: number[]) =>
      one(StepOp.Binary, [valOf(a, 'binary'), valOf(b, 'binary')], prod(shape), [op, shape.length, ...shape, ...as, ...bs]),
    unary: (op: number, x: unknown, s?: number) => {
      const v = valOf(x, 'unary');
      return one(StepOp.Unary, [v], v.numel, [op], [typeof s === 'number' ? s : 0]);
    },
    unaryInplace: (op: number, x: unknown, s?: number) => rebind(x, 'an in-place op', (cur) => one(StepOp.Unary, [cur], cur.numel, [op], [typeof s === 'number' ? s : 0])),
    fill: (dst: unknown, v: number) => rebind(dst, 'fill_', (cur) => one(StepOp.Fill, [], cur.numel, [cur.numel], [v])),
    axpy: (dst: unknown, src: unknown, alpha: number) => rebind(dst, 'an in-place add', (cur) => one(StepOp.Axpy, [cur, valOf(src, 'add')], cur.numel, [], [alpha])),
    sumTo: (x: unknown, shape: number[], os: number[], on: number) => one(StepOp.SumTo, [valOf(x, 'sumTo')], on, [shape.length, ...shape, ...os, on]),
    permute: (x: unknown, shape: number[], perm: number[]) => {
      const v = valOf(x, 'permute');
      return one(StepOp.Permute, [v], v.numel, [shape.length, ...shape, ...perm]);
    },
    reduceSum: (x: unknown, o: number, s: number, i: number, scale: number) => one(StepOp.ReduceSum, [valOf(x, 'sum')], o * i, [o, s, i], [scale]),
    reduceMax: (x: unknown, o: number, s: number, i: number, arg: boolean) => {
      const [v, a] = emit(StepOp.ReduceMax, [valOf(x, 'max')], [o * i, arg ? o * i : null], [o, s, i]);
      return [v, arg ? a : null];
    },
    softmax: (x: unknown, o: number, s: number, i: number, log: boolean) => one(StepOp.Softmax, [valOf(x, 'softmax')], o * s * i, [o, s, i, log]),
    matmul: (a: unknown, b: unknown, batch: number, M: number, N: number, K: number, ta: boolean, tb: boolean, abs: number, bbs: number) =>
      one(StepOp.Matmul, [valOf(a, 'matmul'), valOf(b, 'matmul')], batch * M * N, [batch, M, N, K, ta, tb, abs, bbs]),
    linear: (x: unknown, w: unknown, b: unknown, N: number, inF: number, outF: number) =>
      one(StepOp.Linear, [valOf(x, 'linear'), valOf(w, 'linear weight'), opt(b, 'linear bias')], N * outF, [N, inF, outF]),
    convForward: (x: unknown, w: unknown, b: unknown, geom: number[]) => convStep(x, w, b, geom),
    // the eager fused conv2dReluMaxPool2d: the three steps it is bitwise equal to, which the
    // fusion pass folds back into one conv with a [ReLU,] 2×2 max-pool epilogue
    convPoolForward: (x: unknown, w: unknown, b: unknown, geom: number[], relu: boolean) => {
      const [N, , , , , Cout] = geom;
      const OH = geom[20], OW = geom[21], n = N * Cout * OH * OW;
      let y = convStep(x, w, b, geom);
      if (relu) y = one(StepOp.Unary, [valOf(y, 'relu')], n, [Un.Relu], [0]);
      const PH = Math.floor(OH / 2), PW = Math.floor(OW / 2);
      // PoolGeom: planes, D, H, W, OD, OH, OW, kd, kh, kw, sd, sh, sw, pd, ph, pw
      const pg = [N * Cout, 1, OH, OW, 1, PH, PW, 1, 2, 2, 1, 2, 2, 0, 0, 0];
      return [one(StepOp.MaxPool, [valOf(y, 'maxPool')], N * Cout * PH * PW, pg), unusable('max-pool indices')];
    },
    convTransposeForward: (x: unknown, w: unknown, g: number[]) =>
      one(StepOp.ConvTranspose, [valOf(x, 'convTranspose'), valOf(w, 'convTranspose weight')], g[0] * g[1] * g[2] * g[3] * g[4], g),
    // sizes: [outer, D, H, W, OD, OH, OW]
    pad: (x: unknown, sizes: number[], bd: number, bh: number, bw: number, mode: number, value: number, backward: boolean) =>
      backward
        ? refuse('runs a backward kernel')
        : one(StepOp.Pad, [valOf(x, 'pad')], sizes[0] * sizes[4] * sizes[5] * sizes[6], [...sizes, bd, bh, bw, mode], [value]),
    // g: geom[16], or 19 with the dilation
    maxPoolForward: (x: unknown, g: number[]) => [one(StepOp.MaxPool, [valOf(x, 'maxPool')], g[0] * g[4] * g[5] * g[6], g), unusable('max-pool indices')],
    avgPoolForward: (x: unknown, g: number[], inc: boolean, divisor?: number) =>
      one(StepOp.AvgPool, [valOf(x, 'avgPool')], g[0] * g[4] * g[5] * g[6], divisor ? [...g, inc, divisor] : [...g, inc]),
    // geom: planes, D, H, W, OD, OH, OW
    adaptivePool3d: (x: unknown, g: number[], max: boolean, backward: boolean) => {
      if (backward) refuse('runs a backward kernel');
      const y = one(StepOp.Adaptive3d, [valOf(x, max ? 'adaptiveMaxPool' : 'adaptiveAvgPool')], g[0] * g[4] * g[5] * g[6], [...g, max]);
      return max ? [y, unusable('adaptive max-pool indices')] : y;
    },
    adaptiveAvgPool: (x: unknown, P: number, H: number, W: number, OH: number, OW: number, backward: boolean) =>
      backward ? refuse('runs a backward kernel') : one(StepOp.AdaptiveAvg, [valOf(x, 'adaptiveAvgPool')], P * OH * OW, [P, H, W, OH, OW]),
    // indexing and joining (select, narrow, slice, index, indexSelect, gather, cat, stack, split, chunk, unbind)
    indexCheck: (h: unknown, size: number, wrap: boolean) =>
      h instanceof MetaHandle ? (valOf(h, 'an index'), -1) : real.indexCheck(h, size, wrap), // computed indices: checked by the plan step when it runs
    indexGather: (x: unknown, shape: number[], xstride: number[], offset: number, idx: IndexArg[]) =>
      one(StepOp.Gather, [valOf(x, 'index'), ...idx.map((i) => valOf(i[0], 'an index tensor'))], prod(shape), specInts(shape, xstride, offset, idx)),
    indexScatter: (dst: unknown, src: unknown, shape: number[], xstride: number[], offset: number, idx: IndexArg[], acc: boolean) =>
      rebind(dst, 'an indexed write', (cur) =>
        one(StepOp.Scatter, [cur, valOf(src, 'an indexed write'), ...idx.map((i) => valOf(i[0], 'an index tensor'))], cur.numel, [acc, ...specInts(shape, xstride, offset, idx)])),
    where: (c: unknown, a: unknown, b: unknown, shape: number[], cs: number[], as: number[], bs: number[]) =>
      one(StepOp.Where, [valOf(c, 'where condition'), valOf(a, 'where input'), valOf(b, 'where other')], prod(shape), [shape.length, ...shape, ...cs, ...as, ...bs]),
    batchNormForward: (x: unknown, g: unknown, b: unknown, rm: unknown, rv: unknown, N: number, C: number, S: number, training: boolean, _m: number, eps: number) => {
      if (training) refuse('runs batch norm with batch statistics (training mode, or no running statistics)');
      const y = one(StepOp.BatchNorm, [valOf(x, 'batchNorm'), opt(g, 'batchNorm weight'), opt(b, 'batchNorm bias'), valOf(rm, 'running mean'), valOf(rv, 'running var')], N * C * S, [N, C, S], [eps]);
      return [y, unusable('batch-norm statistics'), unusable('batch-norm statistics')];
    },
  };

  // Swap in the recorders for every native function.
  const saved = new Map<string, unknown>();
  for (const key of Object.keys(native)) {
    const f = (native as unknown as Record<string, unknown>)[key];
    if (typeof f !== 'function' || PASS_THROUGH.has(key)) continue;
    saved.set(key, f);
    const impl = meta[key];
    real[key] = impl
      ? impl
      : () => refuse(REFUSED[key] ?? `calls native.${key}, which compiled plans do not support yet`);
  }
  // Name modules as their forward runs; run in eval mode.
  const wrapped: [Module, PropertyDescriptor | undefined, boolean][] = [];
  const seen = new Set<Module>();
  const restore = (): void => {
    for (const [k, f] of saved) real[k] = f as (...a: unknown[]) => unknown;
    for (const [m, desc, training] of wrapped) {
      if (desc) Object.defineProperty(m, 'forward', desc);
      else delete (m as unknown as Record<string, unknown>).forward;
      m.training = training;
    }
  };
  active = true;
  try {
    for (const [name, m] of model.namedModules()) {
      if (seen.has(m)) continue;
      seen.add(m);
      const label = name ? `'${name}' (${m.constructor.name})` : `(root) ${m.constructor.name}`;
      const own = Object.getOwnPropertyDescriptor(m, 'forward');
      wrapped.push([m, own, m.training]);
      m.training = false;
      const orig = m.forward;
      const wrapper = function (this: Module, ...args: unknown[]): unknown {
        const outer = where;
        where = label;
        try {
          const y = (orig as (...a: unknown[]) => unknown).apply(this, args);
          if (y instanceof Tensor && !(y._storage.handle instanceof MetaHandle) && args.some((a) => a instanceof Tensor && a._storage.handle instanceof MetaHandle))
            refuse('returns a tensor it did not compute from its input (a cached or precomputed tensor, or a layer that calls no blasnet op): the plan would freeze it');
          return y;
        } catch (e) {
          // an op rejected its arguments: remember the innermost module it ran in
          if (e instanceof Error && !(e instanceof TraceError) && (e as Error & { where?: string }).where === undefined) (e as Error & { where?: string }).where = label;
          throw e;
        } finally {
          where = outer;
        }
      };
      Object.defineProperty(m, 'forward', { value: wrapper, writable: true, configurable: true, enumerable: false });
    }
    const input = newVal('input', numelOf(shape));
    const x = Tensor._wrap(new MetaHandle(input) as unknown as Handle, shape);
    const y = noGrad(() => model.forward(x));
    if (failure) throw failure;
    if (!(y instanceof Tensor)) throw new TraceError(`returns ${describe(y)}, not a Tensor (a session serves one output tensor)`, `(root) ${model.constructor.name}`);
    const h = y._storage.handle as unknown;
    if (!(h instanceof MetaHandle)) throw new TraceError('returns a tensor that does not depend on its input', `(root) ${model.constructor.name}`);
    if (h.val.kind === 'unusable') throw new TraceError(`returns ${h.val.why}`, `(root) ${model.constructor.name}`);
    return { batch: shape[0], input, vals, nodes, output: h.val, outShape: y.shape.slice() };
  } catch (e) {
    if (failure) throw failure;
    throw e;
  } finally {
    active = false;
    restore();
  }
}
