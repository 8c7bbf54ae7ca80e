/**
 * PyTorch-style printing of tensors (torch/_tensor_str.py): integer, fixed
 * (4 decimals) or scientific notation chosen from the values' range, columns
 * padded to one width, rows wrapped at 80 characters, edges only past 1000
 * elements. @internal
 */

const EDGE = 3;
const THRESHOLD = 1000;
const LINEWIDTH = 80;

function special(v: number): string {
  return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
}

function sci(v: number): string {
  return v.toExponential(4).replace(/e([+-])(\d)$/, 'e$10$2');
}

function chooseFormatter(values: Float32Array): (v: number) => string {
  let allInt = true, maxAbs = 0, minAbs = Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v !== Math.trunc(v)) allInt = false;
    const a = Math.abs(v);
    if (a === 0) continue;
    if (a > maxAbs) maxAbs = a;
    if (a < minAbs) minAbs = a;
  }
  const any = minAbs !== Infinity;
  const wide = any && (maxAbs / minAbs > 1000 || maxAbs > 1e8);
  if (allInt) return wide ? (v) => (Number.isFinite(v) ? sci(v) : special(v)) : (v) => (Number.isFinite(v) ? `${v}.` : special(v));
  if (wide || (any && minAbs < 1e-4)) return (v) => (Number.isFinite(v) ? sci(v) : special(v));
  return (v) => (Number.isFinite(v) ? v.toFixed(4) : special(v));
}

/** Formats like torch: tensor([[1., 2.],\n        [3., 4.]]) */
export function formatTensor(data: Float32Array, shape: readonly number[], gradFn: string | null, requiresGrad: boolean): string {
  const suffix = gradFn ? `, gradFn=<${gradFn}>` : requiresGrad ? ', requiresGrad=true' : '';
  const fmt = chooseFormatter(data);
  if (shape.length === 0) return `tensor(${fmt(data[0])}${suffix})`;
  if (data.length === 0) return `tensor([]${shape.length > 1 ? `, size=[${shape.join(', ')}]` : ''}${suffix})`;
  const summarize = data.length > THRESHOLD;
  const strs = Array.from(data, fmt);
  const width = strs.reduce((w, s) => Math.max(w, s.length), 0);
  const strides: number[] = [];
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  const pick = (n: number): (number | null)[] => {
    if (summarize && n > 2 * EDGE) return [...Array.from({ length: EDGE }, (_, i) => i), null, ...Array.from({ length: EDGE }, (_, i) => n - EDGE + i)];
    return Array.from({ length: n }, (_, i) => i);
  };
  const rec = (dim: number, off: number, indent: number): string => {
    const idx = pick(shape[dim]);
    if (dim === shape.length - 1) {
      const items = idx.map((i) => (i === null ? '...' : strs[off + i].padStart(width)));
      const perLine = Math.max(1, Math.floor((LINEWIDTH - indent) / (width + 2)));
      const lines: string[] = [];
      for (let i = 0; i < items.length; i += perLine) lines.push(items.slice(i, i + perLine).join(', '));
      return '[' + lines.join(',\n' + ' '.repeat(indent + 1)) + ']';
    }
    const sep = ',' + '\n'.repeat(shape.length - dim - 1) + ' '.repeat(indent + 1);
    return '[' + idx.map((i) => (i === null ? '...' : rec(dim + 1, off + i * strides[dim], indent + 1))).join(sep) + ']';
  };
  return `tensor(${rec(0, 0, 'tensor('.length)}${suffix})`;
}
