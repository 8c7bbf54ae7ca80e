/** Argument helpers shared by the op families. @internal */
import { Tensor, describe } from '../tensor';

/** A number or an array of `n` integers ≥ `min` (stride, padding, kernel size…), as an array of `n`. */
export function intTuple(op: string, name: string, v: unknown, n: number, min: number): number[] {
  const arr = typeof v === 'number' ? new Array<number>(n).fill(v) : v;
  if (!Array.isArray(arr) || arr.length !== n)
    throw new TypeError(`${op}: ${name} must be a number or an array of ${n} numbers, got ${describe(v)}`);
  for (const x of arr)
    if (typeof x !== 'number' || !Number.isInteger(x) || x < min)
      throw new RangeError(`${op}: ${name} must hold integers >= ${min}, got ${describe(v)}`);
  return arr as number[];
}

/** Row-major element strides of a contiguous tensor of this shape. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = s;
    s *= shape[i];
  }
  return st;
}

/** snake_case → camelCase (`weight_decay` → `weightDecay`). */
function camelCase(k: string): string {
  return k.replace(/_+([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Levenshtein distance, for "did you mean" hints on misspelt option keys. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/**
 * Validates an options object: `undefined`/`null` give `{}`; anything but a
 * plain object throws a TypeError; a key not in `allowed` throws an Error that
 * names it, suggesting the camelCase spelling of a snake_case key (PyTorch's
 * `weight_decay` → `weightDecay`) or the nearest allowed key. Every public
 * options object goes through this: an ignored option silently builds the
 * wrong model.
 */
export function checkOptions<T extends object>(op: string, opts: T | null | undefined, allowed: readonly string[], what = 'options'): T {
  if (opts === undefined || opts === null) return {} as T;
  if (typeof opts !== 'object' || Array.isArray(opts) || opts instanceof Tensor)
    throw new TypeError(`${op}: ${what} must be an object, got ${describe(opts)}`);
  for (const key of Object.keys(opts)) {
    if (allowed.includes(key)) continue;
    const camel = camelCase(key);
    let hint = '';
    if (camel !== key && allowed.includes(camel)) hint = ` (did you mean '${camel}'? blasnet spells PyTorch's options in camelCase)`;
    else {
      const near = allowed.map((a) => [a, editDistance(key.toLowerCase(), a.toLowerCase())] as const).sort((x, y) => x[1] - y[1])[0];
      if (near && near[1] <= 2) hint = ` (did you mean '${near[0]}'?)`;
    }
    const list = allowed.length ? `; expected one of: ${allowed.join(', ')}` : '; it takes no options';
    throw new Error(`${op}: unknown option '${key}'${what === 'options' ? '' : ` in ${what}`}${hint}${list}`);
  }
  return opts;
}

/** A boolean argument (or its default when undefined); anything else throws naming it. */
export function boolArg(op: string, name: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new TypeError(`${op}: ${name} must be a boolean, got ${describe(v)}`);
  return v;
}

/** A finite number argument (or its default when undefined); anything else throws naming it. */
export function numberArg(op: string, name: string, v: unknown, dflt?: number): number {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`${op}: ${name} must be a finite number, got ${describe(v)}`);
  return v;
}

/** A function argument; anything else throws naming it. */
export function fnArg<F>(op: string, name: string, v: F): F {
  if (typeof v !== 'function') throw new TypeError(`${op}: ${name} must be a function, got ${describe(v)}`);
  return v;
}
