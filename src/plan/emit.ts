/**
 * Encoding a Program for native/plan_build.cc: a slot table and one flat
 * program, both Float64Arrays (layout documented there).
 * @internal
 */
import { SlotKind, STEP_NAMES, EpKind } from './codes';
import type { Arg, IVal, Program } from './graph';

export interface Encoded {
  slots: Float64Array;
  steps: Float64Array;
  output: number;
  fixedN: number;
  /** One line per step, for InferenceSession.explain(). */
  lines: string[];
}

/** `storeData(data)` puts a constant made inside forward into the weight store and returns its index. */
export function encode(p: Program, storeData: (data: Float32Array) => number): Encoded {
  const slotOf = new Map<IVal, number>();
  const slots: number[] = [];
  const kinds: SlotKind[] = [];
  const add = (v: IVal, kind: SlotKind, constIdx: number, numel: Arg): number => {
    const s = kinds.length;
    kinds.push(kind);
    slots.push(kind, numel.v, numel.n ? 1 : 0, constIdx);
    slotOf.set(v, s);
    return s;
  };
  add(p.input, SlotKind.Input, -1, p.input.numel);
  const slot = (v: IVal | null): number => {
    if (!v) return -1;
    const s = slotOf.get(v);
    if (s !== undefined) return s;
    if (v.kind === 'const') return add(v, SlotKind.Const, v.constIdx!, v.numel);
    if (v.kind === 'data') return add(v, SlotKind.Const, storeData(v.data!), v.numel);
    throw new Error(`plan: value ${v.id} (${v.kind}) is read before it is computed`);
  };
  const prog: number[] = [];
  const args = (a: Arg[]) => {
    prog.push(a.length);
    for (const x of a) prog.push(x.v, x.n ? 1 : 0);
  };
  const lines: string[] = [];
  const fmt = (a: Arg) => (a.n ? `${a.v}N` : String(a.v));
  for (const n of p.nodes) {
    const ins = n.ins.map(slot);
    const eps = n.ep.map((e) => ({ e, ops: e.operands.map(slot) }));
    const outs = n.outs.map((o) => (o ? add(o, SlotKind.Temp, -1, o.numel) : -1));
    prog.push(n.op, ins.length, ...ins, outs.length, ...outs);
    args(n.ints);
    prog.push(n.reals.length, ...n.reals, n.ep.length);
    for (const { e, ops } of eps) {
      prog.push(e.kind, e.flag, e.real, ops.length, ...ops);
      args(e.geom);
    }
    const epName = (k: EpKind) => ['batchNorm', 'add', 'act', 'maxPool', 'avgPool'][k];
    const ep = n.ep.length ? ` + ${n.ep.map((e) => (e.kind === EpKind.Act ? (e.flag === 0 ? 'relu' : 'leakyRelu') : epName(e.kind))).join(' + ')}` : '';
    lines.push(`${STEP_NAMES[n.op]}${ep} [${n.ints.slice(0, 8).map(fmt).join(',')}${n.ints.length > 8 ? ',…' : ''}] → ${n.outs.filter(Boolean).map((o) => fmt(o!.numel)).join(', ')} elements  (${n.where})`);
  }
  const output = slot(p.output);
  return { slots: Float64Array.from(slots), steps: Float64Array.from(prog), output, fixedN: p.fixedN, lines };
}
