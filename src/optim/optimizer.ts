/** Optimizer base: parameter groups, per-parameter state, state dicts. */
import { Tensor, describe, keep, zeros } from '../tensor';

/** Hyper-parameters of a group (lr and the optimizer's own). */
export type GroupOptions = Record<string, unknown> & { lr: number };

/** A group of parameters sharing hyper-parameters. */
export interface ParamGroup<O extends GroupOptions = GroupOptions> {
  params: Tensor[];
  options: O;
}

/** What `stateDict()` returns: per-parameter state by index, and each group's hyper-parameters. */
export interface OptimizerStateDict {
  state: Record<number, Record<string, Tensor | number>>;
  paramGroups: (Record<string, unknown> & { params: number[] })[];
}

/** Parameters, or groups `{ params, ...overrides }`. */
export type ParamsArg = Iterable<Tensor> | { params: Iterable<Tensor>; [k: string]: unknown }[];

export abstract class Optimizer<O extends GroupOptions = GroupOptions> {
  readonly paramGroups: ParamGroup<O>[] = [];
  /** Per-parameter state (momentum buffers, moments, step counts). */
  readonly state = new Map<Tensor, Record<string, Tensor | number>>();

  constructor(params: ParamsArg, defaults: O, name: string) {
    const list = Array.isArray(params) ? params : [...(params as Iterable<Tensor>)];
    if (list.length === 0) throw new Error(`${name}: got an empty parameter list`);
    const groups = list[0] instanceof Tensor ? [{ params: list as Tensor[] }] : (list as { params: Iterable<Tensor> }[]);
    const seen = new Set<Tensor>();
    for (const g of groups) {
      if (!g || typeof g !== 'object' || !('params' in g)) throw new TypeError(`${name}: expected tensors or groups { params }, got ${describe(g)}`);
      const ps = [...g.params];
      ps.forEach((p, i) => {
        if (!(p instanceof Tensor)) throw new TypeError(`${name}: params[${i}] is not a Tensor, got ${describe(p)}`);
        if (!p.isLeaf) throw new Error(`${name}: can't optimize a non-leaf tensor (params[${i}])`);
        if (seen.has(p)) throw new Error(`${name}: a parameter appears in more than one group`);
        seen.add(p);
      });
      const { params: _p, ...over } = g as Record<string, unknown>;
      const options = { ...defaults, ...over } as O;
      this.validate(options, name);
      this.paramGroups.push({ params: ps, options });
    }
  }

  /** Checks a group's hyper-parameters; throws a RangeError naming the bad one. */
  protected abstract validate(o: O, name: string): void;

  /** Applies one update to every parameter that has a gradient. */
  abstract step(): void;

  /** Frees every parameter's gradient (PyTorch's set_to_none=True). */
  zeroGrad(): void {
    for (const g of this.paramGroups)
      for (const p of g.params) {
        p.grad?.dispose();
        p.grad = null;
      }
  }

  /** The learning rate of the first group (schedulers set every group's). */
  get lr(): number {
    return this.paramGroups[0].options.lr;
  }

  /** @internal A zero buffer shaped like p, kept across tidy scopes. */
  protected buffer(p: Tensor): Tensor {
    return keep(zeros(p.shape as number[]));
  }

  stateDict(): OptimizerStateDict {
    const index = new Map<Tensor, number>();
    const paramGroups = this.paramGroups.map((g) => ({
      ...g.options,
      params: g.params.map((p) => {
        if (!index.has(p)) index.set(p, index.size);
        return index.get(p)!;
      }),
    }));
    const state: OptimizerStateDict['state'] = {};
    for (const [p, s] of this.state) {
      const i = index.get(p);
      if (i !== undefined) state[i] = { ...s };
    }
    return { state, paramGroups };
  }

  /** Restores hyper-parameters and state (tensors are copied). */
  loadStateDict(sd: OptimizerStateDict): void {
    if (!sd || typeof sd !== 'object' || !Array.isArray(sd.paramGroups) || typeof sd.state !== 'object')
      throw new TypeError('loadStateDict: expected { state, paramGroups }');
    if (sd.paramGroups.length !== this.paramGroups.length)
      throw new Error(`loadStateDict: the state has ${sd.paramGroups.length} parameter groups, the optimizer ${this.paramGroups.length}`);
    const byIndex: Tensor[] = [];
    sd.paramGroups.forEach((g, gi) => {
      const mine = this.paramGroups[gi];
      if (!Array.isArray(g.params) || g.params.length !== mine.params.length)
        throw new Error(`loadStateDict: group ${gi} has ${g.params?.length} parameters, the optimizer ${mine.params.length}`);
      g.params.forEach((idx, k) => (byIndex[idx] = mine.params[k]));
    });
    // validate shapes first
    for (const [k, s] of Object.entries(sd.state)) {
      const p = byIndex[Number(k)];
      if (!p) throw new Error(`loadStateDict: state for unknown parameter index ${k}`);
      for (const [name, v] of Object.entries(s))
        if (v instanceof Tensor && v.numel !== p.numel)
          throw new Error(`loadStateDict: state ${name} of parameter ${k} has shape [${v.shape.join(',')}], the parameter [${p.shape.join(',')}]`);
    }
    sd.paramGroups.forEach((g, gi) => {
      const { params: _p, ...opts } = g;
      Object.assign(this.paramGroups[gi].options, opts);
    });
    for (const [, s] of this.state) for (const v of Object.values(s)) if (v instanceof Tensor) v.dispose();
    this.state.clear();
    for (const [k, s] of Object.entries(sd.state)) {
      const p = byIndex[Number(k)];
      const copy: Record<string, Tensor | number> = {};
      for (const [name, v] of Object.entries(s)) copy[name] = v instanceof Tensor ? keep(this.buffer(p).copy_(v)) : v;
      this.state.set(p, copy);
    }
  }
}

/** @internal */
export function checkRange(name: string, key: string, v: unknown, lo: number, hi = Infinity, loOpen = false): void {
  if (typeof v !== 'number' || Number.isNaN(v) || v < lo || v > hi || (loOpen && v === lo))
    throw new RangeError(`${name}: invalid ${key} ${describe(v)} (expected ${loOpen ? '>' : '>='} ${lo}${hi < Infinity ? ` and <= ${hi}` : ''})`);
}
