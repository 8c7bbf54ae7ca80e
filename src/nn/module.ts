/**
 * nn.Module: parameters, buffers and children discovered from the module's own
 * properties (assign `this.fc1 = new nn.Linear(...)` as in PyTorch), state dicts
 * with PyTorch's key names, train/eval mode and a printed summary.
 */
import { noGrad } from '../autograd';
import { Tensor, keep, zeros, describe, sameShape, tidy, assertTensor, checkShape } from '../tensor';
import { checkTo, type ToTarget } from '../ops/device';
import { boolArg, checkOptions } from '../ops/args';

const PARAM = Symbol('blasnet.parameter');

/** Marks a tensor as a learnable parameter (requires grad, outlives tidy). Returns it. */
export function Parameter(t: Tensor, requiresGrad = true): Tensor {
  assertTensor('Parameter', t, 'tensor')._check('Parameter');
  boolArg('Parameter', 'requiresGrad', requiresGrad, true);
  (t as unknown as Record<symbol, boolean>)[PARAM] = true;
  if (requiresGrad) t.requiresGrad_();
  else keep(t);
  return t;
}

/** Whether `t` was made with {@link Parameter}. */
export function isParameter(t: unknown): t is Tensor {
  return t instanceof Tensor && (t as unknown as Record<symbol, boolean>)[PARAM] === true;
}

/** Options of {@link Module.loadStateDict}. */
export interface LoadStateDictOptions {
  /** Throw when keys are missing or unexpected (default true). Shape mismatches always throw. */
  strict?: boolean;
}

/** A state dict: parameter and buffer tensors by PyTorch-style key (`0.weight`, `fc1.bias`, `1.running_mean`). */
export type StateDict = Record<string, Tensor>;

/**
 * A module is callable, as in PyTorch: `model(x)` is `model.forward(x)`.
 * (Module instances are functions: `typeof model === 'function'`; recognise
 * them with `instanceof nn.Module`.)
 */
export interface Module {
  (...inputs: Tensor[]): Tensor;
}

/** Base class of layers and models. */
export abstract class Module {
  /** Training mode (affects Dropout and BatchNorm). */
  declare training: boolean;
  declare private readonly _buffers: Map<string, Tensor | null>;

  constructor() {
    // The instance is a function that runs forward, with this class's prototype.
    const self = ((...inputs: Tensor[]) => self.forward(...inputs)) as unknown as Module;
    for (const k of ['length', 'name']) delete (self as unknown as Record<string, unknown>)[k];
    Object.setPrototypeOf(self, new.target.prototype);
    Object.defineProperty(self, 'training', { value: true, writable: true, enumerable: true, configurable: true });
    Object.defineProperty(self, '_buffers', { value: new Map<string, Tensor | null>(), writable: false, enumerable: false, configurable: false });
    return self;
  }

  /** Computes the module's output. */
  abstract forward(...inputs: Tensor[]): Tensor;

  /** @internal Registers a buffer (saved in the state dict, not trained) under a PyTorch key name. */
  protected registerBuffer(name: string, t: Tensor | null): Tensor | null {
    if (t) keep(t);
    this._buffers.set(name, t);
    return t;
  }

  /** Direct children, with their names (each module once). */
  namedChildren(): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    for (const [k, m] of this.ownChildren())
      if (!seen.has(m)) {
        seen.add(m);
        out.push([k, m]);
      }
    return out;
  }

  /** Child modules held in this module's own properties (duplicates included, as the state dict keeps them). */
  private ownChildren(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [k, v] of Object.entries(this)) if (v instanceof Module && !k.startsWith('_')) out.push([k, v]);
    return out;
  }

  /** Direct children. */
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /**
   * This module and all descendants, depth first, with dotted names; a module
   * reachable twice (a shared layer) is listed once, as PyTorch's named_modules.
   */
  namedModules(prefix = ''): [string, Module][] {
    if (typeof prefix !== 'string') throw new TypeError(`namedModules: prefix must be a string, got ${describe(prefix)}`);
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const walk = (m: Module, name: string): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([name, m]);
      for (const [k, c] of m.ownChildren()) walk(c, name ? `${name}.${k}` : k);
    };
    walk(this, prefix);
    return out;
  }

  /** This module and all descendants, each once, as PyTorch's modules(). */
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /**
   * Calls `fn` on every descendant (children first, depth first) and then on
   * this module, as PyTorch's apply — e.g. to initialise weights. Returns this.
   */
  apply(fn: (m: Module) => void): this {
    if (typeof fn !== 'function') throw new TypeError(`${this.constructor.name}.apply: expected a function (module) => void, got ${describe(fn)}`);
    const seen = new Set<Module>();
    const walk = (m: Module): void => {
      if (seen.has(m)) return;
      seen.add(m);
      for (const c of m.children()) walk(c);
      fn(m);
    };
    walk(this);
    return this;
  }

  /**
   * PyTorch's `.to(device)` / `.to(dtype)`: 'cpu' and 'float32' are what
   * blasnet has, so they return this module unchanged; any other device
   * ('cuda', 'mps', …) or dtype throws.
   */
  to(...args: (ToTarget | Tensor)[]): this {
    checkTo(`${this.constructor.name}.to`, args);
    return this;
  }

  /** PyTorch's `.cpu()`: every blasnet module is on the CPU; returns this. */
  cpu(): this {
    return this;
  }

  /** PyTorch's `.cuda()`: blasnet has no GPU, so this throws. */
  cuda(): never {
    throw new Error(`${this.constructor.name}.cuda: blasnet runs on the CPU only (OpenBLAS); drop the .cuda() call`);
  }

  /** This module's own parameters (not its children's). */
  protected ownParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [k, v] of Object.entries(this)) if (isParameter(v) && !k.startsWith('_')) out.push([k, v]);
    return out;
  }

  /** All parameters with dotted names, as PyTorch's named_parameters(). */
  namedParameters(prefix = ''): [string, Tensor][] {
    if (typeof prefix !== 'string') throw new TypeError(`namedParameters: prefix must be a string, got ${describe(prefix)}`);
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [name, m] of this.namedModules(prefix))
      for (const [k, p] of m.ownParameters()) {
        if (seen.has(p)) continue;
        seen.add(p);
        out.push([name ? `${name}.${k}` : k, p]);
      }
    return out;
  }

  /** All parameters (each once). */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** All buffers with dotted names (BatchNorm's running statistics, …). */
  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [name, m] of this.namedModules())
      for (const [k, b] of m._buffers) if (b) out.push([name ? `${name}.${k}` : k, b]);
    return out;
  }

  /** Sets training mode on this module and its descendants. Returns this. */
  train(mode = true): this {
    boolArg('train', 'mode', mode, true);
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Evaluation mode: `train(false)`. */
  eval(): this {
    return this.train(false);
  }

  /** Frees every parameter's gradient (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /**
   * Parameters and buffers by key, in registration order. The tensors are the module's own (shared storage, detached).
   * The dict has no prototype: every key is an own entry and nothing is inherited.
   */
  stateDict(): StateDict {
    const sd = Object.create(null) as StateDict;
    // as PyTorch's state_dict: a shared module appears under each of its names
    const walk = (m: Module, pre: string): void => {
      for (const [k, p] of m.ownParameters()) sd[pre + k] = p;
      for (const [k, b] of m._buffers) if (b) sd[pre + k] = b;
      for (const [k, c] of m.ownChildren()) walk(c, `${pre}${k}.`);
    };
    walk(this, '');
    return sd;
  }

  /**
   * Copies tensors from a state dict into this module's parameters and buffers
   * (values are copied; the dict keeps its tensors). Every shape must match.
   * With `strict` (default), missing or unexpected keys throw before anything
   * is copied.
   */
  loadStateDict(sd: StateDict | Record<string, Tensor>, opts: LoadStateDictOptions = {}): { missingKeys: string[]; unexpectedKeys: string[] } {
    if (sd === null || typeof sd !== 'object') throw new TypeError(`loadStateDict: expected an object of tensors, got ${describe(sd)}`);
    opts = checkOptions('loadStateDict', opts, ['strict']);
    const strict = boolArg('loadStateDict', 'strict', opts.strict, true);
    const own = this.stateDict();
    // own keys only: a checkpoint key such as 'constructor' or '__proto__' is unexpected, never "found" on a prototype
    const has = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
    const missingKeys = Object.keys(own).filter((k) => !has(sd, k));
    const unexpectedKeys = Object.keys(sd).filter((k) => !has(own, k));
    if (strict && (missingKeys.length || unexpectedKeys.length))
      throw new Error(
        `loadStateDict: keys do not match${missingKeys.length ? `; missing: ${missingKeys.join(', ')}` : ''}${unexpectedKeys.length ? `; unexpected: ${unexpectedKeys.join(', ')}` : ''}`,
      );
    // Check everything first so a bad dict changes nothing.
    for (const [k, t] of Object.entries(own)) {
      if (!has(sd, k)) continue;
      const src = sd[k];
      if (!(src instanceof Tensor)) throw new TypeError(`loadStateDict: ${k} must be a Tensor, got ${describe(src)}`);
      src._check(`loadStateDict: ${k}`);
      if (!sameShape(src.shape, t.shape))
        throw new Error(`loadStateDict: size mismatch for ${k}: the checkpoint has shape [${src.shape.join(',')}], the model has [${t.shape.join(',')}]`);
    }
    for (const [k, t] of Object.entries(own)) if (has(sd, k)) t.copy_(sd[k]);
    return { missingKeys, unexpectedKeys };
  }

  /** Number of parameters (elements), optionally only trainable ones. */
  numParameters(onlyTrainable = false): number {
    return this.parameters()
      .filter((p) => !onlyTrainable || p.requiresGrad)
      .reduce((a, p) => a + p.numel, 0);
  }

  /** Frees every parameter and buffer now. The module is unusable afterwards. */
  dispose(): void {
    for (const p of this.parameters()) p.dispose();
    for (const [, b] of this.namedBuffers()) b.dispose();
  }

  /** A one-line description of this layer's settings, e.g. `1, 6, kernelSize=[5,5]`. */
  extraRepr(): string {
    return '';
  }

  /** @internal Node's util.inspect (the instance is a function; print the tree instead). */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  /** PyTorch-style tree of the module. */
  toString(): string {
    const kids = this.namedChildren();
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    if (!kids.length) return head + ')';
    const lines = kids.map(([k, m]) => `  (${k}): ${m.toString().split('\n').join('\n  ')}`);
    return `${head}\n${lines.join('\n')}\n)`;
  }

  /**
   * Runs a zero input of `inputShape` through the model (no grad, eval mode)
   * and returns a table of each leaf layer's output shape and parameter count,
   * with the totals. Pooling and activations have no parameters.
   */
  summary(inputShape: readonly number[]): string {
    checkShape('summary', inputShape, 'inputShape');
    const rows: [string, string, string, number][] = [];
    const leaves = this.namedModules().filter(([, m]) => m.children().length === 0);
    const saved = new Map<Module, Module['forward']>();
    const modes = this.namedModules().map(([, m]) => [m, m.training] as const);
    this.eval();
    try {
      for (const [name, m] of leaves) {
        const orig = m.forward;
        saved.set(m, orig);
        m.forward = (...xs: Tensor[]) => {
          const y = orig.apply(m, xs);
          rows.push([name || m.constructor.name, m.constructor.name, `[${y.shape.join(', ')}]`, m.numParameters()]);
          return y;
        };
      }
      tidy(() => noGrad(() => this.forward(zeros(inputShape))));
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new Error(`summary: a zero input of shape [${inputShape.join(',')}] does not run through the model: ${why}`, { cause: e });
    } finally {
      for (const [m, f] of saved) m.forward = f;
      for (const [m, t] of modes) m.training = t;
    }
    const total = this.numParameters(), trainable = this.numParameters(true);
    const header: [string, string, string, string] = ['Layer', 'Type', 'Output shape', 'Params'];
    const body = rows.map(([a, b, c, d]) => [a, b, c, d.toLocaleString('en-US')]);
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
    const fmt = (r: string[]) => r.map((c, i) => (i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
    const rule = '-'.repeat(widths.reduce((a, b) => a + b + 2, -2));
    return [
      `Input: [${inputShape.join(', ')}]`,
      fmt(header),
      rule,
      ...body.map(fmt),
      rule,
      `Total params: ${total.toLocaleString('en-US')}`,
      `Trainable params: ${trainable.toLocaleString('en-US')}`,
      `Non-trainable params: ${(total - trainable).toLocaleString('en-US')}`,
    ].join('\n');
  }
}
