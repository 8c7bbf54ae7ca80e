/**
 * Optimizer base: parameter groups, per-parameter state, state dicts.
 *
 * As in PyTorch, `paramGroups` is the live source of truth for every
 * hyper-parameter: each group is a plain object `{ params, lr, momentum, … }`
 * and `step()` reads it afresh every time, so `optimizer.paramGroups[0].lr = 0.01`
 * changes the learning rate (that is all a scheduler does). `step()` validates
 * each group before it touches a parameter, so a bad value or a misspelt key
 * assigned to a group throws instead of being ignored.
 */
import { Tensor, describe, keep, zeros, full, sameShape } from '../tensor';
import { checkOptions } from '../ops/args';

/** Hyper-parameters of a group (lr and the optimizer's own). */
export type GroupOptions = Record<string, unknown> & { lr: number };

/**
 * Keys the learning-rate schedulers keep in a group, as PyTorch's do
 * (`initial_lr`, `max_lr`, `min_lr`, `max_momentum`, `base_momentum`).
 */
export type SchedulerGroupKeys = {
  initialLr?: number;
  maxLr?: number;
  minLr?: number;
  maxMomentum?: number;
  baseMomentum?: number;
};
/** @internal */
export const SCHEDULER_KEYS: readonly string[] = ['initialLr', 'maxLr', 'minLr', 'maxMomentum', 'baseMomentum'];

/** A group of parameters sharing hyper-parameters: `{ params, lr, … }`, read by every `step()`. */
export type ParamGroup<O extends GroupOptions = GroupOptions> = O & SchedulerGroupKeys & { params: Tensor[] };

/** What `stateDict()` returns: per-parameter state by index, and each group's hyper-parameters. */
export interface OptimizerStateDict {
  state: Record<number, Record<string, Tensor | number>>;
  paramGroups: (Record<string, unknown> & { params: number[] })[];
}

/** A group given to the constructor or to `addParamGroup`: `{ params, ...overrides }`. */
export type ParamGroupArg = { params: Iterable<Tensor> | Tensor; [k: string]: unknown };

/** Parameters, or groups `{ params, ...overrides }`. */
export type ParamsArg = Iterable<Tensor> | ParamGroupArg[];

/** PyTorch options that switch between implementations of the same update; blasnet has one. */
const TORCH_IMPL_SWITCHES = ['foreach', 'capturable', 'differentiable', 'fused'];

/** @internal Where a hyper-parameter check runs, for messages: `SGD.step: paramGroups[0].lr …`. */
export interface Where {
  op: string;
  prefix: string;
}

/** @internal What a subclass tells the base class. */
export interface OptimizerSpec<O extends GroupOptions> {
  name: string;
  /** Defaults of every option; `lr` may be absent (SGD: required). */
  defaults: Omit<O, 'lr'> & { lr?: number };
  /** Checks a complete group; throws naming `where` and the key. */
  validate(o: O, where: Where): void;
  /** State entries holding a tensor shaped like the parameter, and those holding a number. */
  tensorState: readonly string[];
  numberState: readonly string[];
  /** Entries a non-empty loaded state must have (the rest are made when first needed). */
  requiredState: readonly string[];
}

/** @internal Throws unless `o[key]` is a number in range. */
export function checkNumber(w: Where, o: Record<string, unknown>, key: string, lo: number, hi = Infinity, opts: { loOpen?: boolean; hiOpen?: boolean; integer?: boolean } = {}): void {
  const v = o[key];
  const name = `${w.prefix}${key}`;
  if (typeof v !== 'number') throw new TypeError(`${w.op}: ${name} must be a number, got ${describe(v)}`);
  const bad = Number.isNaN(v) || v < lo || v > hi || (opts.loOpen && v === lo) || (opts.hiOpen && v === hi) || (opts.integer && !Number.isInteger(v));
  if (bad) {
    const range = [`${opts.loOpen ? '>' : '>='} ${lo}`, ...(hi < Infinity ? [`${opts.hiOpen ? '<' : '<='} ${hi}`] : [])].join(' and ');
    throw new RangeError(`${w.op}: ${name} must be ${opts.integer ? 'an integer' : 'a number'} ${range}, got ${describe(v)}`);
  }
}

/** @internal Throws unless `o[key]` is a boolean. */
export function checkBool(w: Where, o: Record<string, unknown>, key: string): void {
  if (typeof o[key] !== 'boolean') throw new TypeError(`${w.op}: ${w.prefix}${key} must be true or false, got ${describe(o[key])}`);
}

/** @internal */
export function checkRange(name: string, key: string, v: unknown, lo: number, hi = Infinity, loOpen = false): void {
  checkNumber({ op: name, prefix: '' }, { [key]: v }, key, lo, hi, { loOpen });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Tensor) && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);
}

/** A hint for a value that is not a parameter list: a Module, a single tensor. */
function paramsHint(v: unknown): string {
  if (v instanceof Tensor) return ' (wrap a single tensor in an array: [p])';
  // modules are callable objects (functions): recognise them by their parameters() method
  if (v && (typeof v === 'object' || typeof v === 'function') && typeof (v as { parameters?: unknown }).parameters === 'function') return ' (did you mean model.parameters()?)';
  return '';
}

function copyValue(v: unknown): unknown {
  return Array.isArray(v) ? v.slice() : v;
}

export abstract class Optimizer<O extends GroupOptions = GroupOptions> {
  /** The parameter groups: `{ params, lr, … }`, read by every `step()` (assign to change a hyper-parameter). */
  readonly paramGroups: ParamGroup<O>[] = [];
  /** Per-parameter state (momentum buffers, moments, step counts). */
  readonly state = new Map<Tensor, Record<string, Tensor | number>>();
  /** The options every group starts from (the constructor's options over the optimizer's defaults). */
  readonly defaults: Readonly<Omit<O, 'lr'> & { lr?: number }>;
  /** @internal */
  protected readonly spec: OptimizerSpec<O>;

  constructor(params: ParamsArg, opts: unknown, spec: OptimizerSpec<O>, extra: unknown[] = []) {
    this.spec = spec;
    const name = spec.name;
    if (extra.length)
      throw new TypeError(`${name}: unexpected argument ${describe(extra[0])} after the options (blasnet takes PyTorch's keyword arguments as one options object, e.g. { lr: 0.1, momentum: 0.9 })`);
    const given = typeof opts === 'number' ? { lr: opts } : this.checkKeys(name, opts, 'options');
    const defaults = { ...spec.defaults, ...(given as object) } as Omit<O, 'lr'> & { lr?: number };
    // lr may be missing from the defaults when every group gives its own (PyTorch allows that)
    spec.validate({ lr: 0, ...defaults } as O, { op: name, prefix: '' });
    this.defaults = Object.freeze(defaults);

    if (params instanceof Tensor || params === null || typeof params !== 'object' || typeof (params as Iterable<unknown>)[Symbol.iterator] !== 'function')
      throw new TypeError(`${name}: params must be an iterable of Tensors or of groups { params, … }, got ${describe(params)}${paramsHint(params)}`);
    const list = [...(params as Iterable<unknown>)];
    if (list.length === 0) throw new Error(`${name}: got an empty parameter list`);
    if (list[0] instanceof Tensor) this.add(name, { params: list as Tensor[] }, 'params');
    else
      list.forEach((g, i) => {
        if (!isPlainObject(g)) throw new TypeError(`${name}: params[${i}] must be a Tensor or a group { params, … }, got ${describe(g)}${paramsHint(g)}`);
        this.add(name, g as ParamGroupArg, `params[${i}]`);
      });
  }

  /** Validates option keys: unknown ones throw, PyTorch's implementation switches with a reason. */
  private checkKeys(op: string, opts: unknown, what: string, extraKeys: readonly string[] = []): Record<string, unknown> {
    if (opts !== null && typeof opts === 'object' && !Array.isArray(opts))
      for (const k of TORCH_IMPL_SWITCHES)
        if (k in (opts as object))
          throw new Error(`${op}: option '${k}' is not supported: it picks one of PyTorch's implementations of the same update, and blasnet has one (a native loop per parameter)`);
    return checkOptions(op, opts as Record<string, unknown>, [...Object.keys(this.spec.defaults), ...(Object.keys(this.spec.defaults).includes('lr') ? [] : ['lr']), ...extraKeys], what);
  }

  /** The keys a group may hold. */
  private groupKeys(): string[] {
    return ['params', 'lr', ...Object.keys(this.spec.defaults).filter((k) => k !== 'lr'), ...SCHEDULER_KEYS];
  }

  private add(op: string, g: ParamGroupArg, where: string): void {
    if (!isPlainObject(g)) throw new TypeError(`${op}: ${where} must be a group { params, … }, got ${describe(g)}${paramsHint(g)}`);
    if (!('params' in g)) throw new TypeError(`${op}: ${where} has no 'params' (a group is { params: [tensors…], …options })`);
    const { params: raw, ...over } = g;
    this.checkKeys(op, over, `${where === 'params' ? 'the group' : where}`, SCHEDULER_KEYS);
    let ps: unknown[];
    if (raw instanceof Tensor) ps = [raw];
    else if (raw !== null && typeof raw === 'object' && typeof (raw as Iterable<unknown>)[Symbol.iterator] === 'function') ps = [...(raw as Iterable<unknown>)];
    else throw new TypeError(`${op}: ${where === 'params' ? 'params' : `${where}.params`} must be a Tensor or an iterable of Tensors, got ${describe(raw)}${paramsHint(raw)}`);
    const at = (i: number) => (where === 'params' ? `params[${i}]` : `${where}.params[${i}]`);
    const taken = new Set<Tensor>();
    for (const grp of this.paramGroups) for (const p of grp.params) taken.add(p);
    const mine = new Set<Tensor>();
    ps.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new TypeError(`${op}: ${at(i)} is not a Tensor, got ${describe(p)}`);
      p._check(op);
      if (!p.isLeaf) throw new Error(`${op}: can't optimize a non-leaf tensor (${at(i)}, made by ${p.gradFn}); optimize the leaf it was computed from`);
      if (mine.has(p)) throw new Error(`${op}: ${at(i)} appears twice in the same group`);
      if (taken.has(p)) throw new Error(`${op}: ${at(i)} appears in more than one parameter group`);
      mine.add(p);
    });
    const group = { ...this.defaults } as Record<string, unknown>;
    for (const [k, v] of Object.entries(this.defaults)) group[k] = copyValue(v);
    for (const [k, v] of Object.entries(over)) group[k] = copyValue(v);
    const gi = this.paramGroups.length;
    if (group.lr === undefined)
      throw new TypeError(`${op}: ${where === 'params' ? 'lr' : `${where}.lr`} is required (${this.spec.name} has no default learning rate): give it in the options or in every group`);
    this.spec.validate(group as O, { op, prefix: where === 'params' ? '' : `${where}.` });
    group.params = ps as Tensor[];
    this.paramGroups.push(group as ParamGroup<O>);
    this.initGroupState(this.paramGroups[gi]);
  }

  /** @internal Optimizers with eager state (Adagrad) fill it here. */
  protected initGroupState(_group: ParamGroup<O>): void {}

  /**
   * Adds a group of parameters, as PyTorch's `add_param_group` (e.g. layers
   * unfrozen while fine-tuning): `{ params, ...overrides }`, the rest from
   * `defaults`. A parameter already optimized throws.
   */
  addParamGroup(group: ParamGroupArg): void {
    this.add(`${this.spec.name}.addParamGroup`, group, 'the group');
  }

  /**
   * @internal Checks every group (keys, hyper-parameters, params) and every
   * gradient against its parameter before a step changes anything. Returns
   * the parameters to update, per group.
   */
  protected prepareStep(): { group: ParamGroup<O>; items: { p: Tensor; g: Tensor }[] }[] {
    const op = `${this.spec.name}.step`;
    const allowed = this.groupKeys();
    return this.paramGroups.map((group, gi) => {
      const where = `paramGroups[${gi}]`;
      if (!isPlainObject(group)) throw new TypeError(`${op}: ${where} must be a group object, got ${describe(group)}`);
      checkOptions(op, group, allowed, where);
      this.spec.validate(group as O, { op, prefix: `${where}.` });
      if (!Array.isArray(group.params)) throw new TypeError(`${op}: ${where}.params must be an array of Tensors, got ${describe(group.params)}`);
      const items: { p: Tensor; g: Tensor }[] = [];
      group.params.forEach((p, i) => {
        if (!(p instanceof Tensor)) throw new TypeError(`${op}: ${where}.params[${i}] is not a Tensor, got ${describe(p)}`);
        if (p.isDisposed) throw new Error(`${op}: ${where}.params[${i}] (shape [${p.shape.join(',')}]) was disposed`);
        const g = p.grad;
        if (g === null || g === undefined) return;
        if (!(g instanceof Tensor)) throw new TypeError(`${op}: the gradient of ${where}.params[${i}] is not a Tensor, got ${describe(g)}`);
        if (g.isDisposed) throw new Error(`${op}: the gradient of ${where}.params[${i}] (shape [${g.shape.join(',')}]) was disposed`);
        if (!sameShape(g.shape, p.shape))
          throw new Error(`${op}: the gradient of ${where}.params[${i}] has shape [${g.shape.join(',')}] but the parameter has shape [${p.shape.join(',')}]`);
        const st = this.state.get(p);
        if (st)
          for (const [k, v] of Object.entries(st)) {
            if (v === undefined || v === null) continue;
            if (this.spec.tensorState.includes(k) && !(v instanceof Tensor))
              throw new TypeError(`${op}: state '${k}' of ${where}.params[${i}] must be a Tensor, got ${describe(v)}`);
            if (this.spec.numberState.includes(k) && (typeof v !== 'number' || !Number.isInteger(v) || v < 0))
              throw new TypeError(`${op}: state '${k}' of ${where}.params[${i}] must be a non-negative integer, got ${describe(v)}`);
            if (v instanceof Tensor && (v.isDisposed || v.numel !== p.numel))
              throw new Error(`${op}: state '${k}' of ${where}.params[${i}] ${v.isDisposed ? 'was disposed' : `has ${v.numel} elements but the parameter has ${p.numel}`}`);
          }
        items.push({ p, g });
      });
      return { group, items };
    });
  }

  /**
   * Applies one update to every parameter that has a gradient. With a
   * `closure` (re-evaluates the model and returns the loss, as PyTorch's),
   * calls it first and returns what it returned.
   */
  step<T = undefined>(closure?: () => T, ...extra: unknown[]): T | undefined {
    const op = `${this.spec.name}.step`;
    if (extra.length) throw new TypeError(`${op}: takes at most one argument (a closure), got ${extra.length + 1}`);
    if (closure !== undefined && typeof closure !== 'function') throw new TypeError(`${op}: closure must be a function returning the loss, got ${describe(closure)}`);
    const loss = closure ? closure() : undefined;
    const work = this.prepareStep();
    for (const { group, items } of work) for (const { p, g } of items) this.update(group, p, g);
    return loss;
  }

  /** @internal One parameter's update (native), after prepareStep checked everything. */
  protected abstract update(group: ParamGroup<O>, p: Tensor, g: Tensor): void;

  /**
   * Clears every parameter's gradient: frees it (`setToNone`, the default, as
   * PyTorch 2) or fills it with zeros (`zeroGrad(false)`, PyTorch 1.13's default).
   */
  zeroGrad(setToNone = true, ...extra: unknown[]): void {
    const op = `${this.spec.name}.zeroGrad`;
    if (extra.length || typeof setToNone !== 'boolean') throw new TypeError(`${op}: takes one optional boolean (setToNone), got ${describe(extra.length ? [setToNone, ...extra] : setToNone)}`);
    for (const g of this.paramGroups)
      for (const p of g.params) {
        if (!p.grad) continue;
        if (setToNone || p.grad.isDisposed) {
          p.grad.dispose();
          p.grad = null;
        } else p.grad.zero_();
      }
  }

  /** The learning rate of the first group (schedulers set every group's). */
  get lr(): number {
    return this.paramGroups[0].lr;
  }

  /** @internal A zero buffer shaped like p, kept across tidy scopes. */
  protected buffer(p: Tensor, fill = 0): Tensor {
    return keep(fill === 0 ? zeros(p.shape) : full(p.shape, fill));
  }

  /** Hyper-parameters per group and state per parameter index; tensors are the optimizer's own (not copies). */
  stateDict(): OptimizerStateDict {
    const index = new Map<Tensor, number>();
    const paramGroups = this.paramGroups.map((g) => {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(g)) if (k !== 'params') out[k] = copyValue(v);
      out.params = g.params.map((p) => {
        if (!index.has(p)) index.set(p, index.size);
        return index.get(p)!;
      });
      return out as OptimizerStateDict['paramGroups'][number];
    });
    const state: OptimizerStateDict['state'] = {};
    for (const [p, s] of this.state) {
      const i = index.get(p);
      if (i !== undefined) state[i] = { ...s };
    }
    return { state, paramGroups };
  }

  /**
   * Restores hyper-parameters and state (tensors are copied), as PyTorch's
   * `load_state_dict`: parameters are matched by position, group by group.
   * All or nothing: everything is validated before anything changes, so a
   * rejected dict leaves the optimizer as it was. Keys a dict lacks (one saved
   * before an option existed) take the optimizer's defaults.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const op = `${this.spec.name}.loadStateDict`;
    if (!isPlainObject(sd) || !Array.isArray(sd.paramGroups) || !isPlainObject(sd.state))
      throw new TypeError(`${op}: expected { state, paramGroups } as stateDict() returns, got ${describe(sd)}`);
    checkOptions(op, sd, ['state', 'paramGroups'], 'the state dict');
    if (sd.paramGroups.length !== this.paramGroups.length)
      throw new Error(`${op}: the state dict has ${sd.paramGroups.length} parameter groups, the optimizer ${this.paramGroups.length}`);
    const byIndex = new Map<number, Tensor>();
    const groups: Record<string, unknown>[] = [];
    const allowed = this.groupKeys();
    sd.paramGroups.forEach((g, gi) => {
      const where = `paramGroups[${gi}]`;
      const mine = this.paramGroups[gi];
      if (!isPlainObject(g)) throw new TypeError(`${op}: ${where} must be an object, got ${describe(g)}`);
      if (!Array.isArray(g.params)) throw new TypeError(`${op}: ${where}.params must be an array of parameter indices, got ${describe(g.params)}`);
      if (g.params.length !== mine.params.length)
        throw new Error(`${op}: ${where} has ${g.params.length} parameters, the optimizer's ${mine.params.length}`);
      g.params.forEach((idx, k) => {
        if (typeof idx !== 'number' || !Number.isInteger(idx) || idx < 0) throw new TypeError(`${op}: ${where}.params[${k}] must be a parameter index, got ${describe(idx)}`);
        if (byIndex.has(idx)) throw new Error(`${op}: parameter index ${idx} appears twice in the state dict's groups`);
        byIndex.set(idx, mine.params[k]);
      });
      checkOptions(op, g, allowed, where);
      const merged: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(this.defaults)) merged[k] = copyValue(v);
      for (const [k, v] of Object.entries(g)) if (k !== 'params') merged[k] = copyValue(v);
      if (merged.lr === undefined) throw new TypeError(`${op}: ${where}.lr is missing`);
      this.spec.validate(merged as O, { op, prefix: `${where}.` });
      groups.push(merged);
    });
    const known = [...this.spec.tensorState, ...this.spec.numberState];
    for (const [k, s] of Object.entries(sd.state)) {
      const idx = Number(k);
      const p = byIndex.get(idx);
      if (!Number.isInteger(idx) || !p) throw new Error(`${op}: state for parameter index ${k}, which no group of the state dict holds`);
      if (!isPlainObject(s)) throw new TypeError(`${op}: state[${k}] must be an object, got ${describe(s)}`);
      checkOptions(op, s, known, `state[${k}]`);
      const present = Object.keys(s).filter((n) => s[n] !== null && s[n] !== undefined);
      const missing = this.spec.requiredState.filter((n) => !present.includes(n));
      if (present.length && missing.length) throw new Error(`${op}: state[${k}] lacks ${missing.map((n) => `'${n}'`).join(', ')} (${this.spec.name} keeps ${this.spec.requiredState.join(', ')} per parameter)`);
      for (const [name, v] of Object.entries(s)) {
        if (this.spec.tensorState.includes(name)) {
          if (v === null || v === undefined) continue;
          if (!(v instanceof Tensor)) throw new TypeError(`${op}: state[${k}].${name} must be a Tensor, got ${describe(v)}`);
          v._check(op);
          if (!sameShape(v.shape, p.shape))
            throw new Error(`${op}: state[${k}].${name} has shape [${v.shape.join(',')}] but its parameter has shape [${p.shape.join(',')}]`);
        } else {
          const n = v instanceof Tensor && v.numel === 1 && !v.isDisposed ? v.item() : v;
          if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
            throw new RangeError(`${op}: state[${k}].${name} must be a non-negative integer, got ${describe(v)}`);
        }
      }
    }
    // Everything checked: copy the tensors (freeing the copies if an allocation fails), then swap.
    const fresh = new Map<Tensor, Record<string, Tensor | number>>();
    try {
      for (const [k, s] of Object.entries(sd.state)) {
        const p = byIndex.get(Number(k))!;
        const copy: Record<string, Tensor | number> = {};
        for (const [name, v] of Object.entries(s)) {
          if (v === null || v === undefined) continue;
          if (this.spec.tensorState.includes(name)) copy[name] = this.buffer(p).copy_(v as Tensor);
          else copy[name] = v instanceof Tensor ? v.item() : (v as number);
        }
        fresh.set(p, copy);
      }
    } catch (e) {
      for (const s of fresh.values()) for (const v of Object.values(s)) if (v instanceof Tensor) v.dispose();
      throw e;
    }
    for (const s of this.state.values()) for (const v of Object.values(s)) if (v instanceof Tensor) v.dispose();
    this.state.clear();
    for (const [p, s] of fresh) this.state.set(p, s);
    groups.forEach((merged, gi) => {
      const g = this.paramGroups[gi] as Record<string, unknown>;
      for (const k of Object.keys(g)) if (k !== 'params') delete g[k];
      Object.assign(g, merged);
    });
    this.afterLoad();
  }

  /** @internal Optimizers with eager state (Adagrad) fill what a loaded dict lacked. */
  protected afterLoad(): void {}

  /** PyTorch's repr: each group's hyper-parameters. */
  toString(): string {
    const lines = [`${this.spec.name} (`];
    this.paramGroups.forEach((g, i) => {
      lines.push(`Parameter Group ${i}`);
      for (const k of Object.keys(g).filter((k) => k !== 'params').sort()) {
        const v = (g as Record<string, unknown>)[k];
        lines.push(`    ${k}: ${Array.isArray(v) ? `[${v.join(', ')}]` : String(v)}`);
      }
    });
    lines.push(')');
    return lines.join('\n');
  }
}
