/** Argument helpers shared by the op families. @internal */
import { describe } from '../tensor';

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
