/**
 * Inference off the event loop.
 *
 * An {@link InferenceSession} compiles an `nn.Sequential` of built-in layers
 * into a native plan: the whole forward pass in one native call, with the
 * weights copied in at compile time. `run()` executes it on a libuv worker
 * thread and resolves with the output; `runSync()` executes it on the calling
 * thread (the fast path for batch-1 latency: one N-API crossing per forward).
 * Both compute the eval-mode forward (dropout off, batch norm from running
 * statistics) with the same kernels as `model.forward`, and give bitwise the
 * same result.
 *
 * The input is copied when `run()` is called, so the caller may change or
 * dispose its tensor straight away. Plans are immutable: any number of runs
 * may be in flight at once, and training the module afterwards does not touch
 * a session (`Module.forwardAsync` recompiles when the weights change).
 */
import { noGrad } from './autograd';
import { native, type Handle, type PlanHandle } from './native';
import { Tensor, tensor, zeros, describe, numelOf, keep } from './tensor';
import { Module } from './nn/module';
import * as L from './nn/layers';
import { convGeometry } from './ops/conv';
import { poolGeometry } from './ops/pool';
import { Un } from './ops/codes';
import { loadWithMetadata } from './io/checkpoint';
import { LeNet, type LeNetVariant } from './models/lenet';


const enum Op { Conv = 0, Act, MaxPool, AvgPool, AdaptiveAvg, Linear, BatchNorm, Softmax }

interface Compiled {
  plan: PlanHandle;
  inShape: number[]; // per sample
  outShape: number[]; // per sample
}

/** Leaves of a tree of Sequentials, in execution order. */
function leaves(m: Module, out: Module[] = []): Module[] {
  if (m instanceof L.Sequential) {
    for (const c of m.children()) leaves(c, out);
  } else if (m.children().length === 0) {
    out.push(m);
  } else {
    throw new Error(`InferenceSession: ${m.constructor.name} has children but is not an nn.Sequential; only Sequential trees of built-in layers can be compiled`);
  }
  return out;
}

/** One plan step for a leaf applied to input x (a real tensor of the traced shape); weights come from `snap`. */
function stepFor(m: Module, x: Tensor, y: Tensor, snap: (t: Tensor | null) => Handle | null): object | null {
  const inPer = x.numel / x.shape[0], outPer = y.numel / y.shape[0];
  const base = { in: inPer, out: outPer };
  if (m instanceof L.Conv1d || m instanceof L.Conv2d || m instanceof L.Conv3d) {
    const nd = (m instanceof L.Conv1d ? 1 : m instanceof L.Conv2d ? 2 : 3) as 1 | 2 | 3;
    const { geom } = convGeometry(nd, x, m.weight, m.bias, { stride: m.stride, padding: m.padding, dilation: m.dilation, groups: m.groups });
    return { ...base, op: Op.Conv, geom, weight: snap(m.weight), bias: snap(m.bias) };
  }
  if (m instanceof L.ReLU) return { ...base, op: Op.Act, act: Un.Relu };
  if (m instanceof L.Sigmoid) return { ...base, op: Op.Act, act: Un.Sigmoid };
  if (m instanceof L.Tanh) return { ...base, op: Op.Act, act: Un.Tanh };
  if (m instanceof L.LeakyReLU) return { ...base, op: Op.Act, act: Un.LeakyRelu, scalar: m.negativeSlope };
  const pools: [new (...a: never[]) => Module, number, boolean][] = [
    [L.MaxPool1d, 1, true], [L.MaxPool2d, 2, true], [L.MaxPool3d, 3, true],
    [L.AvgPool1d, 1, false], [L.AvgPool2d, 2, false], [L.AvgPool3d, 3, false],
  ];
  for (const [cls, nd, isMax] of pools)
    if (m instanceof cls) {
      const o = (m as unknown as { options: import('./ops/pool').PoolOptions }).options;
      const { geom } = poolGeometry('InferenceSession', nd, x, o);
      geom[0] /= x.shape[0]; // planes per sample
      return { ...base, op: isMax ? Op.MaxPool : Op.AvgPool, geom, includePad: o.countIncludePad ?? true };
    }
  if (m instanceof L.AdaptiveAvgPool2d || m instanceof L.GlobalAvgPool2d) {
    const [H, W] = x.shape.slice(-2), [OH, OW] = y.shape.slice(-2);
    return { ...base, op: Op.AdaptiveAvg, planes: inPer / (H * W), H, W, OH, OW };
  }
  if (m instanceof L.Flatten || m instanceof L.Identity || m instanceof L.Dropout) {
    if (m instanceof L.Flatten && ((m.startDim + x.ndim) % x.ndim) === 0) throw new Error('InferenceSession: Flatten must keep the batch dim (startDim >= 1)');
    return null; // contiguous: nothing to do
  }
  if (m instanceof L.Linear) {
    if (x.ndim !== 2) throw new Error(`InferenceSession: Linear needs a [N, features] input, got [${x.shape.join(',')}] (add a Flatten)`);
    return { ...base, op: Op.Linear, weight: snap(m.weight), bias: snap(m.bias) };
  }
  if (m instanceof L.BatchNorm2d) {
    if (!m.runningMean || !m.runningVar) throw new Error('InferenceSession: BatchNorm2d without running statistics cannot run in eval mode');
    return {
      ...base, op: Op.BatchNorm, C: m.numFeatures, S: inPer / m.numFeatures, eps: m.eps,
      mean: snap(m.runningMean), var: snap(m.runningVar), weight: snap(m.weight), bias: snap(m.bias),
    };
  }
  if (m instanceof L.Softmax || m instanceof L.LogSoftmax) {
    const d = m.dim < 0 ? m.dim + x.ndim : m.dim;
    if (d < 1 || d >= x.ndim) throw new Error(`InferenceSession: ${m.constructor.name} over dim ${m.dim} is not supported (must not be the batch dim)`);
    const per = x.shape.slice(1);
    return { ...base, op: Op.Softmax, outer: numelOf(per.slice(0, d - 1)), size: x.shape[d], inner: numelOf(x.shape.slice(d + 1)), log: m instanceof L.LogSoftmax };
  }
  throw new Error(`InferenceSession: layer ${m.constructor.name} is not supported (supported: conv, pooling, activations, Flatten, Linear, BatchNorm2d, Dropout, Softmax)`);
}

interface PlanStep {
  op: Op;
  in: number;
  out: number;
  act?: number;
  relu?: boolean;
  [k: string]: unknown;
}

/**
 * Fuses ReLU into the step before it, saving a pass over memory:
 * ReLU after max pooling's input is moved behind the pool (max commutes with
 * the monotone ReLU, so it clamps 4× fewer values), then a ReLU right after a
 * conv, a linear layer or a max pool becomes that step's epilogue. The values
 * are bitwise those of the unfused sequence (for inputs without NaN).
 */
function fuse(steps: PlanStep[]): PlanStep[] {
  const out: PlanStep[] = [];
  for (let i = 0; i < steps.length; i++) {
    const s = { ...steps[i] };
    const next = steps[i + 1];
    if (s.op === Op.Act && s.act === Un.Relu && next?.op === Op.MaxPool) {
      out.push({ ...next, relu: true, in: s.in });
      i++;
      continue;
    }
    const prev = out[out.length - 1];
    if (s.op === Op.Act && s.act === Un.Relu && prev && (prev.op === Op.Conv || prev.op === Op.Linear || prev.op === Op.MaxPool) && !prev.relu) {
      prev.relu = true;
      continue;
    }
    out.push(s);
  }
  return out;
}

/** A compiled, immutable forward pass of a model, runnable off the event loop. */
export class InferenceSession {
  private readonly compiled = new Map<string, Compiled>();
  private readonly layers: Module[];
  /** The weights as they were when the session was made: every input shape compiles from these. */
  private readonly snapshot = new Map<Tensor, Tensor>();

  /**
   * A session for `model` (an nn.Sequential of built-in layers). The weights are
   * copied now: training the model afterwards does not change the session.
   */
  constructor(model: Module) {
    if (!(model instanceof Module)) throw new TypeError(`InferenceSession: expected an nn.Module, got ${describe(model)}`);
    this.layers = leaves(model);
    for (const t of [...model.parameters(), ...model.namedBuffers().map(([, b]) => b)]) this.snapshot.set(t, keep(noGrad(() => t.detach().clone())));
  }

  /** Frees the session's copy of the weights (compiled plans are freed by the GC). */
  dispose(): void {
    for (const t of this.snapshot.values()) t.dispose();
    this.snapshot.clear();
    this.compiled.clear();
  }

  /** A session for a LeNet checkpoint written by `blasnet train` or PyTorch (variant from its metadata unless given). */
  static load(path: string, opts: { variant?: LeNetVariant } = {}): InferenceSession {
    const { tensors, metadata } = loadWithMetadata(path);
    const model = LeNet({ variant: opts.variant ?? ((metadata.variant as LeNetVariant | undefined) ?? 'modern') });
    try {
      model.loadStateDict(tensors);
    } finally {
      for (const t of Object.values(tensors)) t.dispose();
    }
    const s = new InferenceSession(model.eval());
    s.compile([1, 28, 28]);
    return s;
  }

  /** Compiles the plan for inputs of per-sample shape `sampleShape` (done on first use otherwise). */
  compile(sampleShape: number[]): { inShape: number[]; outShape: number[] } {
    const key = sampleShape.join(',');
    const hit = this.compiled.get(key);
    if (hit) return { inShape: hit.inShape, outShape: hit.outShape };
    const steps: object[] = [];
    let outShape: number[] = [];
    noGrad(() => {
      let x = zeros([1, ...sampleShape]);
      const modes = this.layers.map((l) => l.training);
      try {
        for (const l of this.layers) {
          l.training = false;
          const y = l.forward(x);
          const step = stepFor(l, x, y, (t) => {
            if (!t) return null;
            const copy = this.snapshot.get(t);
            if (!copy) throw new Error('InferenceSession: the model has new parameters since the session was made; create a new session');
            return copy._h('InferenceSession');
          });
          if (step) steps.push(step);
          if (y !== x) x.dispose();
          x = y;
        }
        outShape = x.shape.slice(1);
      } finally {
        this.layers.forEach((l, i) => (l.training = modes[i]));
        x.dispose();
      }
    });
    const plan = native.planCreate(fuse(steps as PlanStep[]), numelOf(sampleShape));
    this.compiled.set(key, { plan, inShape: sampleShape.slice(), outShape });
    return { inShape: sampleShape.slice(), outShape };
  }

  private prepare(op: string, x: Tensor | Float32Array, shape?: number[]): { c: Compiled; input: Tensor; owned: boolean } {
    let input: Tensor, owned = false;
    if (x instanceof Tensor) {
      x._check(op);
      input = x;
    } else if (x instanceof Float32Array) {
      if (!Array.isArray(shape)) throw new TypeError(`${op}: a Float32Array input needs its shape, e.g. [N, 1, 28, 28]`);
      input = tensor(x, shape);
      owned = true;
    } else throw new TypeError(`${op}: input must be a Tensor or a Float32Array, got ${describe(x)}`);
    if (input.ndim < 1 || input.shape[0] < 1) {
      if (owned) input.dispose();
      throw new Error(`${op}: input must have a batch dim of at least 1, got shape [${input.shape.join(',')}]`);
    }
    try {
      return { c: this.compileFor(input.shape.slice(1)), input, owned };
    } catch (e) {
      if (owned) input.dispose();
      throw e;
    }
  }

  private compileFor(sample: number[]): Compiled {
    this.compile(sample);
    return this.compiled.get(sample.join(','))!;
  }

  /** Runs on the calling thread. */
  runSync(x: Tensor | Float32Array, shape?: number[]): Tensor {
    const { c, input, owned } = this.prepare('runSync', x, shape);
    const N = input.shape[0];
    try {
      return Tensor._wrap(native.planRun(c.plan, input._h('runSync')), [N, ...c.outShape]);
    } finally {
      if (owned) input.dispose();
    }
  }

  /** Runs on a worker thread; the input is copied first, so it may be changed or disposed at once. */
  async run(x: Tensor | Float32Array, shape?: number[]): Promise<Tensor> {
    const { c, input, owned } = this.prepare('run', x, shape);
    const N = input.shape[0];
    let pending: Promise<Handle>;
    try {
      pending = native.planRunAsync(c.plan, input._h('run'));
    } finally {
      if (owned) input.dispose();
    }
    return Tensor._wrap(await pending, [N, ...c.outShape]);
  }

  /** Per-sample output shape for a per-sample input shape. */
  outputShape(sampleShape: number[]): number[] {
    return this.compile(sampleShape).outShape;
  }
}

// ---------------------------------------------------------------------------
// Module.forwardAsync

const sessions = new WeakMap<Module, { session: InferenceSession; signature: string }>();

function weightSignature(m: Module): string {
  const parts: number[] = [];
  for (const p of m.parameters()) parts.push(p._storage.version, p.isDisposed ? -1 : 0);
  for (const [, b] of m.namedBuffers()) parts.push(b._storage.version);
  return parts.join(',');
}

function hasModeDependentLayers(m: Module): boolean {
  return m.namedModules().some(([, l]) => (l instanceof L.Dropout && l.p > 0) || l instanceof L.BatchNorm2d);
}

/**
 * @internal Installed on Module.prototype as `forwardAsync(x)`: the eval-mode
 * forward on a worker thread. Recompiles when the weights have changed.
 */
export function forwardAsync(this: Module, x: Tensor): Promise<Tensor> {
  if (this.training && hasModeDependentLayers(this))
    return Promise.reject(new Error('forwardAsync: the model is in training mode and has Dropout/BatchNorm; call model.eval() first'));
  let entry = sessions.get(this);
  const signature = weightSignature(this);
  try {
    if (!entry || entry.signature !== signature) {
      entry?.session.dispose();
      entry = { session: new InferenceSession(this), signature };
      sessions.set(this, entry);
    }
    return entry.session.run(x);
  } catch (e) {
    return Promise.reject(e);
  }
}

declare module './nn/module' {
  interface Module {
    /**
     * The eval-mode forward pass on a worker thread (never on the event loop),
     * resolving with the output. Needs an nn.Sequential of built-in layers.
     * The input is copied at the call; the result equals `model.eval().forward(x)` bitwise.
     */
    forwardAsync(x: Tensor): Promise<Tensor>;
  }
}
(Module.prototype as unknown as { forwardAsync: typeof forwardAsync }).forwardAsync = forwardAsync;


