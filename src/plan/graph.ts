/**
 * The plan IR: traced nodes whose integer arguments are constants or
 * multiples of the batch size, dead-code elimination, and fusion.
 *
 * Batch sizes. A model is traced at N = 2 and N = 3; where the two traces
 * agree node for node and every integer differs only by the factor 3/2 (or
 * not at all), the program is *batch-polymorphic*: one plan serves every
 * N ≥ 2, its arguments scaled per run exactly as eager mode would compute them
 * (the batch dim is a multiple in every size it enters). N = 1 gets its own
 * plan: size-1 dims broadcast, so eager arguments differ in kind there. A
 * model whose traces disagree (the batch is reduced over, or forward branches
 * on it) gets one plan per batch size instead.
 *
 * Fusion keeps results bitwise equal to eager mode: every fused op applies the
 * eager formula to the same value, only while it is still in cache.
 *   conv → batch norm (eval) → residual add → ReLU / leaky ReLU → max / avg pool
 *     becomes one conv step with an epilogue (any prefix of those, in any order
 *     of the elementwise ones), run where the last absorbed op ran;
 *   linear → add → activation likewise;
 *   add (same shape) → ReLU, and a lone ReLU, become elementwise steps.
 * ReLU in a plan is PyTorch's (NaN and -0 pass through) and stays before the
 * pool it precedes in forward (moving it behind max pooling, as plans once
 * did, is only equal without NaN).
 * With `foldBatchNorm`, batch norm after a convolution is folded into the
 * convolution's weights instead: one multiply fewer per output, but the
 * products round differently (within a few ulp of the magnitudes summed).
 * @internal
 */
import { StepOp, EpKind, ActCode } from './codes';
import type { Trace, Val, ValKind } from './trace';

/** An integer argument: `v`, or `v · N` when `n`. */
export interface Arg {
  v: number;
  n: boolean;
}
export const at = (a: Arg, N: number): number => (a.n ? a.v * N : a.v);
const argEq = (a: Arg, b: Arg) => a.v === b.v && a.n === b.n;

export interface IVal {
  id: number;
  kind: ValKind;
  numel: Arg;
  constIdx?: number;
  data?: Float32Array;
}

export interface EpOp {
  kind: EpKind;
  flag: number;
  real: number;
  operands: (IVal | null)[];
  geom: Arg[];
}

export interface INode {
  op: StepOp;
  ins: (IVal | null)[];
  outs: (IVal | null)[];
  ints: Arg[];
  reals: number[];
  where: string;
  ep: EpOp[];
  /** Index of the last original node this step absorbed: where it runs. */
  pos: number;
}

export interface Program {
  vals: IVal[];
  nodes: INode[];
  input: IVal;
  output: IVal;
  outShape: Arg[];
  /** > 0: the only batch size the program runs. */
  fixedN: number;
}

// ---------------------------------------------------------------------------
// from traces

function convert(t: Trace, ints: (node: number, k: number, v: number) => Arg, numel: (v: Val) => Arg): Program {
  const vals: IVal[] = t.vals.map((v) => ({ id: v.id, kind: v.kind, numel: numel(v), constIdx: v.constIdx, data: v.data }));
  const nodes: INode[] = t.nodes.map((n, i) => ({
    op: n.op,
    ins: n.ins.map((v) => (v ? vals[v.id] : null)),
    outs: n.outs.map((v) => (v ? vals[v.id] : null)),
    ints: n.ints.map((v, k) => ints(i, k, v)),
    reals: n.reals.slice(),
    where: n.where,
    ep: [],
    pos: i,
  }));
  return { vals, nodes, input: vals[t.input.id], output: vals[t.output.id], outShape: [], fixedN: 0 };
}

/** A program for exactly the traced batch size. */
export function fixedProgram(t: Trace): Program {
  const p = convert(t, (_n, _k, v) => ({ v, n: false }), (v) => ({ v: v.numel, n: false }));
  p.outShape = t.outShape.map((v) => ({ v, n: false }));
  p.fixedN = t.batch;
  return p;
}

function sameData(a: Float32Array | undefined, b: Float32Array | undefined): boolean {
  if (!a || !b || a.length !== b.length) return a === b;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/**
 * The batch-polymorphic program from traces at batch sizes 2 and 3, or why
 * there is none (a string).
 */
export function polymorphicProgram(a: Trace, b: Trace): Program | string {
  if (a.batch !== 2 || b.batch !== 3) throw new Error('polymorphicProgram: expects traces at batch 2 and 3');
  const cls = (x: number, y: number): Arg | null => (x === y ? { v: x, n: false } : x % 2 === 0 && (x / 2) * 3 === y ? { v: x / 2, n: true } : null);
  if (a.nodes.length !== b.nodes.length || a.vals.length !== b.vals.length) return 'the forward runs different ops at different batch sizes';
  for (let i = 0; i < a.vals.length; i++) {
    const x = a.vals[i], y = b.vals[i];
    if (x.kind !== y.kind || x.constIdx !== y.constIdx || !sameData(x.data, y.data)) return 'the forward makes different values at different batch sizes';
    if (!cls(x.numel, y.numel)) return `a value of ${x.numel} elements at batch 2 has ${y.numel} at batch 3`;
  }
  for (let i = 0; i < a.nodes.length; i++) {
    const x = a.nodes[i], y = b.nodes[i];
    if (x.op !== y.op || x.ints.length !== y.ints.length || x.reals.length !== y.reals.length || x.ins.length !== y.ins.length || x.outs.length !== y.outs.length)
      return `op ${i} differs between batch sizes`;
    if (x.ins.some((v, k) => (v?.id ?? -1) !== (y.ins[k]?.id ?? -1)) || x.outs.some((v, k) => (v?.id ?? -1) !== (y.outs[k]?.id ?? -1)))
      return `op ${i} reads or writes different values at different batch sizes`;
    if (x.reals.some((v, k) => !Object.is(v, y.reals[k]))) return `op ${i} (in ${x.where}) has a scalar that depends on the batch size`;
    for (let k = 0; k < x.ints.length; k++)
      if (!cls(x.ints[k], y.ints[k])) return `op ${i} (in ${x.where}) has a size that is not a multiple of the batch`;
  }
  if (a.output.id !== b.output.id || a.outShape.length !== b.outShape.length) return 'the output differs between batch sizes';
  const outShape: Arg[] = [];
  for (let k = 0; k < a.outShape.length; k++) {
    const c = cls(a.outShape[k], b.outShape[k]);
    if (!c) return 'the output shape is not a multiple of the batch';
    outShape.push(c);
  }
  const p = convert(a, (i, k, v) => cls(v, b.nodes[i].ints[k])!, (v) => cls(v.numel, b.vals[v.id].numel)!);
  p.outShape = outShape;
  return p;
}

// ---------------------------------------------------------------------------
// dead code

/** Drops nodes whose outputs nothing reads, and unread outputs (set to null). */
export function eliminateDead(p: Program): void {
  const live = new Set<IVal>([p.output]);
  const keep: INode[] = [];
  for (let i = p.nodes.length - 1; i >= 0; i--) {
    const n = p.nodes[i];
    if (!n.outs.some((o) => o && live.has(o))) continue;
    n.outs = n.outs.map((o) => (o && live.has(o) ? o : null));
    for (const v of n.ins) if (v) live.add(v);
    for (const e of n.ep) for (const v of e.operands) if (v) live.add(v);
    keep.push(n);
  }
  p.nodes = keep.reverse();
}

// ---------------------------------------------------------------------------
// fusion

/** What fusion needs from the session: batch norm folding into stored weights. */
export interface FuseHost {
  foldBatchNorm: boolean;
  fold(w: number, bias: number, gamma: number, beta: number, mean: number, variance: number, eps: number): [number, number];
}

const BIN_ADD = 0;
const UN_RELU = 4;
const UN_LEAKY = 22;

function argProd(args: Arg[]): Arg | null {
  let v = 1, n = false;
  for (const a of args) {
    if (a.n && n) return null;
    v *= a.v;
    n ||= a.n;
  }
  return { v, n };
}

/** A same-shape add with contiguous operands (no broadcasting): returns the two operands. */
function plainAdd(n: INode): boolean {
  if (n.op !== StepOp.Binary || n.ints[0].v !== BIN_ADD || n.ints[0].n) return false;
  const r = n.ints[1].v;
  const shape = n.ints.slice(2, 2 + r), as = n.ints.slice(2 + r, 2 + 2 * r), bs = n.ints.slice(2 + 2 * r, 2 + 3 * r);
  for (let i = 0; i < r; i++) {
    if (!shape[i].n && shape[i].v === 1) continue;
    const c = argProd(shape.slice(i + 1));
    if (!c || !argEq(as[i], c) || !argEq(bs[i], c)) return false;
  }
  const a = n.ins[0], b = n.ins[1];
  return !!a && !!b && argEq(a.numel, n.outs[0]!.numel) && argEq(b.numel, n.outs[0]!.numel);
}

const isAct = (n: INode) => n.op === StepOp.Unary && !n.ints[0].n && (n.ints[0].v === UN_RELU || n.ints[0].v === UN_LEAKY);
const actOp = (n: INode): EpOp => ({ kind: EpKind.Act, flag: n.ints[0].v === UN_RELU ? ActCode.Relu : ActCode.LeakyRelu, real: n.ints[0].v === UN_RELU ? 0 : n.reals[0], operands: [], geom: [] });
const isConstLike = (v: IVal | null) => !!v && (v.kind === 'const' || v.kind === 'data');

export function fuse(p: Program, host: FuseHost): void {
  const uses = new Map<IVal, INode[]>();
  const use = (v: IVal | null, n: INode) => {
    if (!v) return;
    const l = uses.get(v);
    if (l) l.push(n);
    else uses.set(v, [n]);
  };
  for (const n of p.nodes) for (const v of n.ins) use(v, n);
  const absorbed = new Set<INode>();
  /** The one node reading v, if v is read exactly once and is not the output. */
  const single = (v: IVal): INode | null => {
    if (v === p.output) return null;
    const l = uses.get(v);
    return l && l.length === 1 ? l[0] : null;
  };
  const absorb = (head: INode, c: INode, out: IVal) => {
    absorbed.add(c);
    head.outs = [out];
    head.pos = c.pos;
  };

  for (const head of p.nodes) {
    if (absorbed.has(head)) continue;
    if (head.op === StepOp.Conv || head.op === StepOp.Linear) {
      let cur = head.outs[0]!;
      for (;;) {
        const c = single(cur);
        if (!c || absorbed.has(c)) break;
        if (c.op === StepOp.BatchNorm && head.op === StepOp.Conv && c.ins[0] === cur && !c.ints[1].n && c.ints[1].v === head.ints[5].v &&
            isConstLike(c.ins[3]) && isConstLike(c.ins[4]) && (!c.ins[1] || isConstLike(c.ins[1])) && (!c.ins[2] || isConstLike(c.ins[2]))) {
          const w = head.ins[1], b = head.ins[2];
          const stored = (v: IVal | null) => !v || v.kind === 'const';
          if (host.foldBatchNorm && head.ep.length === 0 && stored(w) && stored(b) && c.ins.slice(1).every(stored)) {
            const idx = (v: IVal | null) => (v ? v.constIdx! : -1);
            const [nw, nb] = host.fold(idx(w), idx(b), idx(c.ins[1]), idx(c.ins[2]), idx(c.ins[3]), idx(c.ins[4]), c.reals[0]);
            const mk = (ci: number, numel: number): IVal => {
              const v: IVal = { id: p.vals.length, kind: 'const', numel: { v: numel, n: false }, constIdx: ci };
              p.vals.push(v);
              return v;
            };
            head.ins = [head.ins[0], mk(nw, w!.numel.v), mk(nb, head.ints[5].v)];
          } else {
            head.ep.push({ kind: EpKind.Affine, flag: 0, real: c.reals[0], operands: [c.ins[1], c.ins[2], c.ins[3], c.ins[4]], geom: [] });
          }
        } else if (plainAdd(c) && (c.ins[0] === cur) !== (c.ins[1] === cur)) {
          const otherFirst = c.ins[1] === cur;
          head.ep.push({ kind: EpKind.Add, flag: otherFirst ? 1 : 0, real: 0, operands: [otherFirst ? c.ins[0] : c.ins[1]], geom: [] });
        } else if (isAct(c) && c.ins[0] === cur) {
          head.ep.push(actOp(c));
        } else if (((c.op === StepOp.MaxPool && c.ints.length === 16) || (c.op === StepOp.AvgPool && c.ints.length === 17)) && head.op === StepOp.Conv && c.ins[0] === cur) {
          // (a pool epilogue has no dilation or divisorOverride: those pools stay steps of their own)
          head.ep.push({ kind: c.op === StepOp.MaxPool ? EpKind.MaxPool : EpKind.AvgPool, flag: c.op === StepOp.AvgPool ? c.ints[16].v : 0, real: 0, operands: [], geom: c.ints.slice(0, 16) });
          absorb(head, c, c.outs[0]!);
          break;
        } else break;
        absorb(head, c, c.outs[0]!);
        cur = c.outs[0]!;
      }
    } else if (isAct(head)) {
      // a lone activation: the plan's own (NaN-propagating) ReLU
      const x = head.ins[0]!;
      head.ep = [actOp(head)];
      head.op = StepOp.Eltwise;
      head.ints = [x.numel];
      head.reals = [];
    } else if (plainAdd(head)) {
      const c = single(head.outs[0]!);
      if (c && !absorbed.has(c) && isAct(c) && c.ins[0] === head.outs[0]) {
        const [a, b] = head.ins;
        head.op = StepOp.Eltwise;
        head.ins = [a];
        head.ints = [a!.numel];
        head.ep = [{ kind: EpKind.Add, flag: 0, real: 0, operands: [b], geom: [] }, actOp(c)];
        absorb(head, c, c.outs[0]!);
      }
    }
  }
  p.nodes = p.nodes.filter((n) => !absorbed.has(n)).sort((x, y) => x.pos - y.pos);
}
