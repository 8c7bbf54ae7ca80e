/**
 * InferenceSession: any Module's eval-mode forward, compiled into native plans
 * that run off the event loop.
 *
 * At creation the session copies the model's parameters and buffers into one
 * native weight store; every plan it compiles points into that store, so the
 * weights exist once per session whatever the number of input shapes. A plan
 * is compiled per per-sample input shape the first time that shape is run:
 * the model's forward is traced (see trace.ts: the JavaScript of forward runs,
 * no kernel does, so this costs the same for a 28² input as for a 1024² one),
 * fused (graph.ts) and encoded (emit.ts). Plans are kept in a cache bounded by
 * `maxPlans` (least recently used first out); one plan serves every batch size
 * ≥ 2 of its shape when the model is batch-polymorphic, plus one for batch 1.
 *
 * `run()` copies the input into native memory and queues the plan on blasnet's
 * executor thread (native/plan.cc): a few microseconds of event-loop time per
 * call, whatever the batch. `runSync()` runs it on the calling thread.
 */
import { native, type Handle, type PlanHandle, type StoreHandle } from '../native';
import { Tensor, describe, checkShape, numelOf } from '../tensor';
import { Module } from '../nn/module';
import { checkOptions } from '../ops/args';
import { loadWithMetadata } from '../io/checkpoint';
import { LeNet, type LeNetVariant } from '../models/lenet';
import { trace, TraceError, type Trace, type TraceHost } from './trace';
import { polymorphicProgram, fixedProgram, eliminateDead, fuse, at, type Arg, type Program } from './graph';
import { encode } from './emit';

/** Options of {@link InferenceSession}. */
export interface InferenceSessionOptions {
  /**
   * A per-sample input shape (e.g. `[1, 28, 28]`) to compile now, so that a
   * model that cannot be compiled, or does not accept this shape, fails here
   * rather than at the first `run()`.
   */
  inputShape?: number[];
  /** Compiled plans kept at most (least recently used first out; default 16). */
  maxPlans?: number;
  /**
   * Fold eval-mode batch norm into the convolution before it (new weights in
   * the session's store). Saves a multiply per output; results then differ
   * from eager mode by rounding (a few ulp of the sums' magnitude) instead of
   * being bitwise equal. Default false.
   */
  foldBatchNorm?: boolean;
}

/** Options of {@link InferenceSession.load}. */
export interface LoadSessionOptions extends InferenceSessionOptions {
  /**
   * The architecture: a Module whose state-dict keys match the checkpoint. The
   * checkpoint is loaded into it (as `loadStateDict`, strict) and the session is
   * made from it. Default: a LeNet-5 of `variant`.
   */
  model?: Module;
  /** LeNet variant when no model is given (default: the checkpoint's metadata, else 'modern'). */
  variant?: LeNetVariant;
}

const SESSION_KEYS = ['inputShape', 'maxPlans', 'foldBatchNorm'] as const;
const DEFAULT_MAX_PLANS = 16;

// The real store functions: traces swap the addon's functions for recorders,
// and captured constants are stored while a trace runs.
const storeAdd = native.planStoreAdd.bind(native);

interface Compiled {
  handle: PlanHandle;
  outShape: Arg[];
  fixedN: number;
  lines: string[];
  lastUse: number;
}

/** @internal An error of a serving call, its message prefixed with the public op (class kept). */
export function named(op: string, e: unknown): Error {
  const msg = e instanceof Error ? e.message : String(e);
  const text = msg.startsWith(op + ':') ? msg : `${op}: ${msg.replace(/^blasnet native: /, '')}`;
  return e instanceof TypeError ? new TypeError(text) : e instanceof RangeError ? new RangeError(text) : new Error(text);
}

/** The model's parameters and buffers, each tensor once. */
function weightsOf(model: Module): [string, Tensor][] {
  const out: [string, Tensor][] = [];
  const seen = new Set<Tensor>();
  for (const [k, t] of [...model.namedParameters(), ...model.namedBuffers()])
    if (!seen.has(t)) {
      seen.add(t);
      out.push([k, t]);
    }
  return out;
}

/** A compiled, immutable forward pass of a model, runnable off the event loop. */
export class InferenceSession {
  private readonly model: Module;
  /** load() made the model: dispose() frees it too. */
  private ownsModel = false;
  private store: StoreHandle | null;
  /** live tensor handle → its snapshot in the store */
  private readonly consts = new Map<object, { idx: number; numel: number }>();
  private readonly folds = new Map<string, [number, number]>();
  /** constants made inside forward (tensor([...]) and the like), by content, so plans share them too */
  private readonly dataConsts = new Map<string, { idx: number; data: Float32Array }[]>();
  private readonly plans = new Map<string, Compiled>();
  /** per-sample shape key → 'poly' (one plan for N ≥ 2) or 'fixed' (a plan per batch size) */
  private readonly batching = new Map<string, 'poly' | 'fixed'>();
  private readonly maxPlans: number;
  private readonly foldBatchNorm: boolean;
  private tick = 0;

  /**
   * A session for `model` (any Module built from blasnet ops). Its parameters
   * and buffers are copied now: training or changing the model afterwards does
   * not change the session.
   */
  constructor(model: Module, opts: InferenceSessionOptions = {}) {
    const op = 'InferenceSession';
    if (!(model instanceof Module)) throw new TypeError(`${op}: expected an nn.Module, got ${describe(model)}`);
    const o = checkOptions(op, opts, SESSION_KEYS);
    const maxPlans = o.maxPlans ?? DEFAULT_MAX_PLANS;
    if (typeof maxPlans !== 'number' || !Number.isInteger(maxPlans) || maxPlans < 1 || maxPlans > 4096)
      throw new RangeError(`${op}: maxPlans must be an integer in [1, 4096], got ${describe(maxPlans)}`);
    if (o.foldBatchNorm !== undefined && typeof o.foldBatchNorm !== 'boolean') throw new TypeError(`${op}: foldBatchNorm must be a boolean, got ${describe(o.foldBatchNorm)}`);
    const inputShape = o.inputShape === undefined ? undefined : InferenceSession.sampleShape(op, o.inputShape, 'inputShape');
    this.maxPlans = maxPlans;
    this.foldBatchNorm = o.foldBatchNorm ?? false;
    this.model = model;
    this.store = native.planStoreCreate();
    try {
      for (const [name, t] of weightsOf(model)) {
        if (t.isDisposed) throw new Error(`${op}: the model's tensor '${name}' was disposed`);
        const h = t._storage.handle as unknown as object;
        if (this.consts.has(h)) continue;
        const [idx, numel] = storeAdd(this.store, t._storage.handle);
        this.consts.set(h, { idx, numel });
      }
      if (inputShape) this.compileShape(op, inputShape);
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /**
   * A session for a checkpoint (safetensors, from `blasnet train`, `save()` or
   * PyTorch). With `model`, the checkpoint is loaded into that module and any
   * architecture is served; without, it is a LeNet-5 (variant from the
   * checkpoint's metadata) compiled for [1, 28, 28]. The tensors read from the
   * file are freed before this returns.
   */
  static load(path: string, opts: LoadSessionOptions = {}): InferenceSession {
    const op = 'InferenceSession.load';
    if (typeof path !== 'string' || !path) throw new TypeError(`${op}: path must be a non-empty string, got ${describe(path)}`);
    const o = checkOptions(op, opts, ['model', 'variant', ...SESSION_KEYS]);
    if (o.model !== undefined && !(o.model instanceof Module)) throw new TypeError(`${op}: model must be an nn.Module, got ${describe(o.model)}`);
    if (o.model && o.variant !== undefined) throw new Error(`${op}: give either model or variant (variant picks the LeNet built when no model is given)`);
    let loaded: { tensors: Record<string, Tensor>; metadata: Record<string, string> };
    try {
      loaded = loadWithMetadata(path);
    } catch (e) {
      throw named(op, e);
    }
    const owns = !o.model;
    let model: Module | undefined;
    try {
      model = o.model ?? LeNet({ variant: o.variant ?? ((loaded.metadata.variant as LeNetVariant | undefined) ?? 'modern') });
      try {
        model.loadStateDict(loaded.tensors);
      } catch (e) {
        throw named(op, e);
      }
      const session = new InferenceSession(model, { inputShape: o.inputShape ?? (owns ? [1, 28, 28] : undefined), maxPlans: o.maxPlans, foldBatchNorm: o.foldBatchNorm });
      session.ownsModel = owns;
      return session;
    } catch (e) {
      if (owns) model?.dispose();
      throw e;
    } finally {
      for (const t of Object.values(loaded.tensors)) t.dispose();
    }
  }

  /** Whether `dispose()` has been called. */
  get isDisposed(): boolean {
    return this.store === null;
  }

  /** Compiled plans held now (at most `maxPlans`). */
  get planCount(): number {
    return this.plans.size;
  }

  /** Bytes of weights the session holds (one copy, shared by all its plans). */
  get weightBytes(): number {
    return this.store ? native.planStoreBytes(this.store) : 0;
  }

  /**
   * Frees the session's weights and plans now. Runs already in flight finish
   * (they hold what they use); later calls throw. Idempotent.
   */
  dispose(): void {
    for (const c of this.plans.values()) native.planDispose(c.handle);
    this.plans.clear();
    if (this.store) native.planStoreDispose(this.store);
    this.store = null;
    this.consts.clear();
    this.dataConsts.clear();
    this.folds.clear();
    if (this.ownsModel) this.model.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * Compiles the plans for inputs of per-sample shape `sampleShape` (batch 1
   * and larger batches), as the first run of that shape would. Returns the
   * per-sample output shape.
   */
  compile(sampleShape: number[]): { inShape: number[]; outShape: number[] } {
    const op = 'InferenceSession.compile';
    this.live(op);
    const s = InferenceSession.sampleShape(op, sampleShape, 'sampleShape');
    return { inShape: s, outShape: this.compileShape(op, s) };
  }

  /** Per-sample output shape for a per-sample input shape (compiling it if needed). */
  outputShape(sampleShape: number[]): number[] {
    const op = 'InferenceSession.outputShape';
    this.live(op);
    return this.compileShape(op, InferenceSession.sampleShape(op, sampleShape, 'sampleShape'));
  }

  /**
   * The compiled steps for inputs of per-sample shape `sampleShape` at batch
   * `batch` (default 2), one line each: what ran fused, with sizes (`N` marks
   * sizes that scale with the batch) and the module each came from.
   */
  explain(sampleShape: number[], batch = 2): string {
    const op = 'InferenceSession.explain';
    this.live(op);
    const s = InferenceSession.sampleShape(op, sampleShape, 'sampleShape');
    if (typeof batch !== 'number' || !Number.isInteger(batch) || batch < 1) throw new RangeError(`${op}: batch must be an integer >= 1, got ${describe(batch)}`);
    return this.planFor(op, s, batch).lines.join('\n');
  }

  /** Runs on the calling thread (the batch-1 fast path: one native call). */
  runSync(x: Tensor | Float32Array, shape?: number[]): Tensor {
    const op = 'InferenceSession.runSync';
    const [data, full] = this.input(op, x, shape);
    const c = this.planFor(op, full.slice(1), full[0]);
    let h: Handle;
    try {
      h = native.planRun(c.handle, data, full[0]);
    } catch (e) {
      throw named(op, e);
    }
    return Tensor._wrap(h, outShapeAt(c, full[0]));
  }

  /** Runs on blasnet's executor thread; the input is copied first, so it may be changed or disposed at once. */
  run(x: Tensor | Float32Array, shape?: number[]): Promise<Tensor> {
    return this._submit('InferenceSession.run', x, shape);
  }

  /** @internal run() under another public name (forwardAsync). */
  _submit(op: string, x: Tensor | Float32Array, shape?: number[]): Promise<Tensor> {
    let c: Compiled, N: number, p: Promise<Handle>;
    try {
      const [data, full] = this.input(op, x, shape);
      N = full[0];
      c = this.planFor(op, full.slice(1), N);
      p = native.planSubmit(c.handle, data, N);
    } catch (e) {
      return Promise.reject(e instanceof Error && e.message.startsWith(op) ? e : named(op, e));
    }
    return p.then(
      (h) => Tensor._wrap(h, outShapeAt(c, N)),
      (e) => {
        throw named(op, e);
      },
    );
  }

  // -------------------------------------------------------------------------

  private live(op: string): void {
    if (!this.store) throw new Error(`${op}: the session was disposed`);
  }

  /** @internal Validates a per-sample shape argument. */
  static sampleShape(op: string, s: unknown, arg: string): number[] {
    if (!Array.isArray(s)) throw new TypeError(`${op}: ${arg} must be an array of integers (the per-sample input shape, e.g. [1, 28, 28]), got ${describe(s)}`);
    checkShape(op, s, arg);
    if (s.some((d) => d === 0)) throw new RangeError(`${op}: ${arg} [${s.join(',')}] has an empty dim`);
    return s.slice();
  }

  /** The input's data and full shape, validated. */
  private input(op: string, x: unknown, shape: unknown): [Handle | Float32Array, readonly number[]] {
    this.live(op);
    let full: readonly number[], data: Handle | Float32Array;
    if (x instanceof Tensor) {
      if (x.isDisposed) throw new Error(`${op}: the input tensor (shape [${x.shape.join(',')}]) was disposed`);
      if (shape !== undefined) throw new Error(`${op}: a Tensor input carries its shape; the shape argument is only for Float32Array inputs`);
      full = x.shape;
      data = x._storage.handle;
    } else if (x instanceof Float32Array) {
      if (shape === undefined) throw new TypeError(`${op}: a Float32Array input needs its shape, e.g. run(pixels, [1, 1, 28, 28])`);
      full = checkShape(op, shape);
      if (numelOf(full) !== x.length) throw new Error(`${op}: the Float32Array has ${x.length} elements but shape [${full.join(',')}] needs ${numelOf(full)}`);
      data = x;
    } else throw new TypeError(`${op}: input must be a Tensor or a Float32Array, got ${describe(x)}`);
    if (full.length < 1 || full[0] < 1) throw new Error(`${op}: input must have a batch dim of at least 1, got shape [${full.join(',')}]`);
    for (let i = 1; i < full.length; i++) if (full[i] === 0) throw new Error(`${op}: input shape [${full.join(',')}] has an empty dim`);
    return [data, full];
  }

  private compileShape(op: string, sample: number[]): number[] {
    this.planFor(op, sample, 2);
    const c = this.planFor(op, sample, 1);
    return outShapeAt(c, 1).slice(1);
  }

  /** The plan for this per-sample shape and batch size, compiled on a miss. */
  private planFor(op: string, sample: readonly number[], N: number): Compiled {
    let key = '';
    for (let i = 0; i < sample.length; i++) key += sample[i] + ',';
    const mode = N === 1 ? '1' : this.batching.get(key) === 'fixed' ? `N${N}` : 'n';
    const full = key + mode;
    let c = this.plans.get(full);
    if (!c) {
      c = this.compilePlan(op, sample, N, key);
      c.lastUse = ++this.tick;
      const fk = key + (N === 1 ? '1' : this.batching.get(key) === 'fixed' ? `N${N}` : 'n');
      this.plans.set(fk, c);
      this.evict();
    } else c.lastUse = ++this.tick;
    return c;
  }

  private evict(): void {
    while (this.plans.size > this.maxPlans) {
      let oldest: string | null = null, t = Infinity;
      for (const [k, c] of this.plans)
        if (c.lastUse < t) {
          t = c.lastUse;
          oldest = k;
        }
      native.planDispose(this.plans.get(oldest!)!.handle);
      this.plans.delete(oldest!);
      // forget how a shape batches once none of its plans is left (keeps this map bounded too)
      const sample = oldest!.slice(0, oldest!.lastIndexOf(',') + 1);
      if (![...this.plans.keys()].some((k) => k.startsWith(sample) && !k.slice(sample.length).includes(','))) this.batching.delete(sample);
    }
  }

  private host(): TraceHost {
    return {
      constant: (h) => {
        const c = this.consts.get(h as unknown as object);
        if (c) return c;
        // A current parameter or buffer the session has no copy of: the model changed since.
        for (const [name, t] of weightsOf(this.model))
          if (t._storage.handle === h)
            throw new TraceError(`uses '${name}', which is not the tensor the model held when the session was created (a layer or parameter was replaced); create a new InferenceSession`, '(root)');
        // Any other tensor reached from forward: a constant, copied on first sight.
        const [idx, numel] = storeAdd(this.store!, h);
        const e = { idx, numel };
        this.consts.set(h as unknown as object, e);
        return e;
      },
    };
  }

  /** The store index of a constant made inside forward, stored once per distinct content. */
  private dataConst(data: Float32Array): number {
    const u = new Uint32Array(data.buffer, data.byteOffset, data.length);
    let h = 0x811c9dc5 ^ u.length;
    for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u[i], 0x01000193);
    const key = `${u.length}:${h >>> 0}`;
    const list = this.dataConsts.get(key) ?? [];
    for (const e of list) {
      const v = new Uint32Array(e.data.buffer, e.data.byteOffset, e.data.length);
      if (v.every((x, i) => x === u[i])) return e.idx;
    }
    const idx = storeAdd(this.store!, data)[0];
    list.push({ idx, data });
    this.dataConsts.set(key, list);
    return idx;
  }

  private traceAt(op: string, sample: readonly number[], N: number): Trace {
    const shape = [N, ...sample];
    try {
      return trace(this.model, shape, this.host());
    } catch (e) {
      const model = this.model.constructor.name;
      if (e instanceof TraceError) throw new Error(`${op}: cannot compile ${model}: ${e.where === '(root)' ? 'its forward' : `module ${e.where}`} ${e.reason}`);
      const where = (e as { where?: string }).where;
      const msg = e instanceof Error ? e.message : String(e);
      throw new Error(`${op}: input shape [${shape.join(',')}] does not fit ${model}: ${msg}${where && !where.startsWith('(root)') ? ` (in module ${where})` : ''}`);
    }
  }

  private compilePlan(op: string, sample: readonly number[], N: number, key: string): Compiled {
    let prog: Program | null = null;
    if (N === 1) prog = fixedProgram(this.traceAt(op, sample, 1));
    else if (this.batching.get(key) !== 'fixed') {
      let poly: Program | string;
      try {
        poly = polymorphicProgram(this.traceAt(op, sample, 2), this.traceAt(op, sample, 3));
      } catch (e) {
        if (/cannot compile/.test((e as Error).message)) throw e;
        poly = 'batch sizes 2 and 3 do not trace';
      }
      if (typeof poly === 'string') this.batching.set(key, 'fixed');
      else {
        this.batching.set(key, 'poly');
        prog = poly;
      }
    }
    prog ??= fixedProgram(this.traceAt(op, sample, N));
    eliminateDead(prog);
    fuse(prog, {
      foldBatchNorm: this.foldBatchNorm,
      fold: (w, b, g, beta, mean, v, eps) => {
        const k = [w, b, g, beta, mean, v, eps].join(',');
        let r = this.folds.get(k);
        if (!r) {
          r = native.planStoreFoldConvBN(this.store!, w, b, g, beta, mean, v, eps);
          this.folds.set(k, r);
        }
        return r;
      },
    });
    const enc = encode(prog, (data) => this.dataConst(data));
    let handle: PlanHandle;
    try {
      handle = native.planCreate(this.store!, enc.slots, enc.steps, enc.output, enc.fixedN);
    } catch (e) {
      throw named(op, e);
    }
    return { handle, outShape: prog.outShape, fixedN: prog.fixedN, lines: enc.lines, lastUse: 0 };
  }
}

function outShapeAt(c: Compiled, N: number): number[] {
  const s = new Array<number>(c.outShape.length);
  for (let i = 0; i < s.length; i++) s[i] = at(c.outShape[i], N);
  return s;
}
