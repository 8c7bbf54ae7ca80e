/** PyTorch-style printing of tensors. @internal */

const EDGE = 3;
const THRESHOLD = 1000;

function chooseFormatter(values: Float32Array): (v: number) => string {
  let allInt = true, maxAbs = 0, minAbs = Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v !== Math.trunc(v)) allInt = false;
    const a = Math.abs(v);
    if (a > maxAbs) maxAbs = a;
    if (a !== 0 && a < minAbs) minAbs = a;
  }
  const special = (v: number) => (Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf');
  if (allInt && maxAbs < 1e8) return (v) => (Number.isFinite(v) ? `${v}.` : special(v));
  const sci = maxAbs >= 1e8 || (minAbs !== Infinity && minAbs < 1e-4) || (minAbs !== Infinity && maxAbs / minAbs > 1000);
  if (sci) return (v) => (Number.isFinite(v) ? v.toExponential(4).replace(/e([+-])(\d)$/, 'e$10$2') : special(v));
  return (v) => (Number.isFinite(v) ? v.toFixed(4) : special(v));
}

/** Formats like torch: tensor([[1., 2.],\n        [3., 4.]]) */
export function formatTensor(data: Float32Array, shape: readonly number[], gradFn: string | null, requiresGrad: boolean): string {
  const suffix = gradFn ? `, gradFn=<${gradFn}>` : requiresGrad ? ', requiresGrad=true' : '';
  const fmt = chooseFormatter(data);
  if (shape.length === 0) return `tensor(${fmt(data[0])}${suffix})`;
  const summarize = data.length > THRESHOLD;
  const strs = Array.from(data, fmt);
  const width = strs.reduce((w, s) => Math.max(w, s.length), 0);
  const strides: number[] = [];
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  const indent = 'tensor('.length;
  const rec = (dim: number, off: number): string => {
    const n = shape[dim];
    const idx: (number | null)[] = [];
    if (summarize && n > 2 * EDGE) {
      for (let i = 0; i < EDGE; i++) idx.push(i);
      idx.push(null);
      for (let i = n - EDGE; i < n; i++) idx.push(i);
    } else for (let i = 0; i < n; i++) idx.push(i);
    if (dim === shape.length - 1) return '[' + idx.map((i) => (i === null ? '...' : strs[off + i].padStart(width))).join(', ') + ']';
    const sep = ',' + '\n'.repeat(shape.length - dim - 1) + ' '.repeat(indent + dim + 1);
    return '[' + idx.map((i) => (i === null ? '...' : rec(dim + 1, off + i * strides[dim]))).join(sep) + ']';
  };
  return `tensor(${rec(0, 0)}${suffix})`;
}
