/**
 * Shape ops. reshape/view/flatten/squeeze/unsqueeze share storage with their
 * input; transpose/permute copy into a contiguous layout.
 */
import { native } from '../native';
import { Tensor, fromOp, checkShape, normDim, numelOf, describe, recording } from '../tensor';

/** Resolves one -1 and checks the element count. */
export function resolveShape(op: string, x: Tensor, shape: number[]): number[] {
  if (!Array.isArray(shape)) throw new TypeError(`${op}: shape must be integers, got ${describe(shape)}`);
  const out = shape.slice();
  let infer = -1, known = 1;
  for (let i = 0; i < out.length; i++) {
    const d = out[i];
    if (d === -1) {
      if (infer >= 0) throw new Error(`${op}: only one dimension can be -1, got [${shape.join(',')}]`);
      infer = i;
    } else if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw new RangeError(`${op}: shape[${i}] must be a non-negative integer or -1, got ${describe(d)}`);
    } else known *= d;
  }
  if (infer >= 0) {
    if (known === 0 || x.numel % known !== 0)
      throw new Error(`${op}: shape [${shape.join(',')}] is invalid for a tensor of ${x.numel} elements (shape [${x.shape.join(',')}])`);
    out[infer] = x.numel / known;
  }
  checkShape(op, out);
  if (numelOf(out) !== x.numel)
    throw new Error(`${op}: shape [${shape.join(',')}] is invalid for a tensor of ${x.numel} elements (shape [${x.shape.join(',')}])`);
  return out;
}

/** @internal A view of x with another shape, recorded by autograd. */
export function viewAs(x: Tensor, shape: number[], name: string): Tensor {
  x._check(name);
  const t = new Tensor(x._storage.retain(), shape);
  if (recording(x)) {
    const inShape = x.shape as number[];
    t._setNode(name, [x], (g) => [viewAs(g, inShape, 'view')]);
  }
  return t;
}

export function reshape(x: Tensor, shape: number[], op = 'reshape'): Tensor {
  x._check(op);
  return viewAs(x, resolveShape(op, x, shape), 'ViewBackward');
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  x._check('flatten');
  if (x.ndim === 0) return viewAs(x, [1], 'ViewBackward');
  const s = normDim('flatten', startDim, x.ndim, 'startDim'), e = normDim('flatten', endDim, x.ndim, 'endDim');
  if (s > e) throw new Error(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
  const shape = [...x.shape.slice(0, s), numelOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return viewAs(x, shape, 'ViewBackward');
}

export function squeeze(x: Tensor, dim?: number): Tensor {
  x._check('squeeze');
  if (dim === undefined) return viewAs(x, x.shape.filter((d) => d !== 1), 'ViewBackward');
  const d = normDim('squeeze', dim, x.ndim);
  if (x.shape[d] !== 1) return viewAs(x, x.shape as number[], 'ViewBackward');
  return viewAs(x, x.shape.filter((_, i) => i !== d), 'ViewBackward');
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  x._check('unsqueeze');
  const d = normDim('unsqueeze', dim, x.ndim + 1);
  const s = x.shape.slice();
  s.splice(d, 0, 1);
  return viewAs(x, s, 'ViewBackward');
}

export function permute(x: Tensor, dims: number[]): Tensor {
  x._check('permute');
  if (!Array.isArray(dims) || dims.length !== x.ndim)
    throw new Error(`permute: expected ${x.ndim} dims for shape [${x.shape.join(',')}], got ${describe(dims)}`);
  const perm = dims.map((d) => normDim('permute', d, x.ndim));
  if (new Set(perm).size !== perm.length) throw new Error(`permute: dims [${dims.join(',')}] repeat a dim`);
  const outShape = perm.map((p) => x.shape[p]);
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return fromOp(native.permute(x._h('permute'), x.shape as number[], perm), outShape, 'PermuteBackward', [x], (g) => [
    Tensor._wrap(native.permute(g._h('permute'), g.shape as number[], inv), x.shape),
  ]);
}

export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  x._check('transpose');
  const a = normDim('transpose', dim0, x.ndim, 'dim0'), b = normDim('transpose', dim1, x.ndim, 'dim1');
  const perm = x.shape.map((_, i) => i);
  perm[a] = b;
  perm[b] = a;
  return permute(x, perm);
}

