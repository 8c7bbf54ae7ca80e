/**
 * PyTorch-style printing of tensors, following torch/_tensor_str.py (1.13)
 * step by step: past 1000 elements only the first and last 3 items of each dim
 * are shown around `...`, and only those are read from native memory (a
 * 100M-element tensor prints as fast as a small one); the number format is
 * chosen from the shown values' nonzero finite magnitudes (integer, fixed with
 * 4 decimals, or scientific); every item is padded to one width; rows wrap at
 * 80 columns; suffixes wrap like torch's `_add_suffixes`. Numbers round half to
 * even on their exact binary value, as Python's format() does. @internal
 */

/** torch's print options (the defaults). */
const PRECISION = 4;
const THRESHOLD = 1000;
const EDGE = 3;
const LINEWIDTH = 80;

// ---------------------------------------------------------------------------
// exact decimal formatting (Python's '{:.Nf}' and '{:.Ne}')

/** |x| as an exact fraction num / 2^shift (x finite). */
function exactFraction(x: number): { num: bigint; shift: bigint } {
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, Math.abs(x));
  const bits = buf.getBigUint64(0);
  const exp = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let e: number;
  if (exp === 0) e = -1074; // subnormal
  else {
    mant |= 1n << 52n;
    e = exp - 1075;
  }
  return e >= 0 ? { num: mant << BigInt(e), shift: 0n } : { num: mant, shift: BigInt(-e) };
}

/** round(num / den) with ties to even. */
function roundHalfEven(num: bigint, den: bigint): bigint {
  const q = num / den, r = num - q * den;
  const twice = 2n * r;
  if (twice > den || (twice === den && (q & 1n) === 1n)) return q + 1n;
  return q;
}

/** Python's '{:.{f}f}'.format(x) for a finite x. */
function fixed(x: number, f: number): string {
  // Fast path: for a float32 x and f <= 4, x·10^f is exact in float64 (24 + 14 bits), so a
  // tie is visible, and toFixed rounds every non-tie correctly (it picks the nearest n).
  if (f <= 4 && Math.fround(x) === x && Math.abs(x) < 1e15 && !Object.is(x, -0)) {
    const scaled = Math.abs(x) * 10 ** f;
    if (scaled - Math.floor(scaled) !== 0.5) return x.toFixed(f);
  }
  const { num, shift } = exactFraction(x);
  const q = roundHalfEven(num * 10n ** BigInt(f), 1n << shift);
  let digits = q.toString();
  if (f > 0) {
    digits = digits.padStart(f + 1, '0');
    digits = `${digits.slice(0, -f)}.${digits.slice(-f)}`;
  }
  return (x < 0 || Object.is(x, -0) ? '-' : '') + digits;
}

/** Python's '{:.{p}e}'.format(x) for a finite x. */
function scientific(x: number, p: number): string {
  const sign = x < 0 || Object.is(x, -0) ? '-' : '';
  if (x === 0) return `${sign}${(0).toFixed(p)}e+00`;
  const { num, shift } = exactFraction(x);
  const den = 1n << shift;
  // e = floor(log10 |x|), fixed up exactly
  let e = Math.floor(Math.log10(Math.abs(x)));
  const ge = (k: number): boolean => (k >= 0 ? num >= den * 10n ** BigInt(k) : num * 10n ** BigInt(-k) >= den);
  while (!ge(e)) e--;
  while (ge(e + 1)) e++;
  const scaled = (k: number): bigint => (k >= 0 ? roundHalfEven(num * 10n ** BigInt(k), den) : roundHalfEven(num, den * 10n ** BigInt(-k)));
  let q = scaled(p - e);
  if (q === 10n ** BigInt(p + 1)) {
    e++;
    q = scaled(p - e);
  }
  const d = q.toString();
  const mant = p > 0 ? `${d[0]}.${d.slice(1)}` : d;
  const ae = Math.abs(e);
  return `${sign}${mant}e${e < 0 ? '-' : '+'}${ae < 10 ? '0' : ''}${ae}`;
}

function special(v: number): string {
  return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
}

// ---------------------------------------------------------------------------
// torch's _Formatter

interface Formatter {
  width: number;
  format(v: number): string;
}

function makeFormatter(values: ArrayLike<number>): Formatter {
  let intMode = true, sciMode = false, width = 1;
  let any = false, maxAbs = 0, minAbs = Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v) || v === 0) continue;
    any = true;
    const a = Math.abs(v);
    if (a > maxAbs) maxAbs = a;
    if (a < minAbs) minAbs = a;
    if (v !== Math.ceil(v)) intMode = false;
  }
  if (any) {
    const each = (f: (v: number) => number): void => {
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (Number.isFinite(v) && v !== 0) width = Math.max(width, f(v));
      }
    };
    if (intMode) {
      if (maxAbs / minAbs > 1000 || maxAbs > 1e8) {
        sciMode = true;
        each((v) => scientific(v, PRECISION).length);
      } else each((v) => fixed(v, 0).length + 1);
    } else if (maxAbs / minAbs > 1000 || maxAbs > 1e8 || minAbs < 1e-4) {
      sciMode = true;
      each((v) => scientific(v, PRECISION).length);
    } else each((v) => fixed(v, PRECISION).length);
  }
  const pad = (s: string): string => (s.length < width ? ' '.repeat(width - s.length) + s : s);
  return {
    width,
    format(v: number): string {
      if (!Number.isFinite(v)) return pad(special(v));
      if (sciMode) return pad(scientific(v, PRECISION));
      if (intMode) return pad(`${fixed(v, 0)}.`);
      return pad(fixed(v, PRECISION));
    },
  };
}

// ---------------------------------------------------------------------------
// layout

/** The indices shown along a dim of size n: all, or the edges when summarising. */
function shownIndices(n: number, summarize: boolean): number[] {
  if (summarize && n > 2 * EDGE) {
    const out: number[] = [];
    for (let i = 0; i < EDGE; i++) out.push(i);
    for (let i = n - EDGE; i < n; i++) out.push(i);
    return out;
  }
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * The flat indices of the elements that will be printed, in row-major order of
 * the shown sub-tensor (torch's get_summarized_data).
 */
export function printedIndices(shape: readonly number[]): Int32Array {
  let n = 1;
  for (const d of shape) n *= d;
  const summarize = n > THRESHOLD;
  if (shape.length === 0) return Int32Array.of(0);
  const per = shape.map((d) => shownIndices(d, summarize));
  let count = 1;
  for (const p of per) count *= p.length;
  const out = new Int32Array(count);
  const strides: number[] = [];
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  let k = 0;
  const rec = (dim: number, off: number): void => {
    if (dim === shape.length) {
      out[k++] = off;
      return;
    }
    for (const i of per[dim]) rec(dim + 1, off + i * strides[dim]);
  };
  rec(0, 0);
  return out;
}

/** torch's _add_suffixes (linewidth 80). */
function addSuffixes(str: string, suffixes: string[], indent: number): string {
  const parts = [str];
  let lastLineLen = str.length - str.lastIndexOf('\n') + 1;
  for (const suffix of suffixes) {
    if (lastLineLen + suffix.length + 2 > LINEWIDTH) {
      parts.push(`,\n${' '.repeat(indent)}${suffix}`);
      lastLineLen = indent + suffix.length;
    } else {
      parts.push(`, ${suffix}`);
      lastLineLen += suffix.length + 2;
    }
  }
  parts.push(')');
  return parts.join('');
}

/**
 * Formats like torch: `tensor([[1., 2.],\n        [3., 4.]])`. `shown` holds
 * the values at {@link printedIndices}(shape), in that order (all of them when
 * the tensor has at most 1000 elements).
 */
export function formatTensor(shown: ArrayLike<number>, shape: readonly number[], gradFn: string | null, requiresGrad: boolean): string {
  const prefix = 'tensor(';
  const indent = prefix.length;
  let n = 1;
  for (const d of shape) n *= d;
  const suffixes: string[] = [];
  let body: string;
  if (n === 0) {
    if (shape.length !== 1) suffixes.push(`size=[${shape.join(', ')}]`);
    body = '[]';
  } else {
    const summarize = n > THRESHOLD;
    const fmt = makeFormatter(shown);
    let k = 0; // walks `shown` in order
    const rec = (dim: number, ind: number): string => {
      if (dim === shape.length) return fmt.format(shown[k++]);
      const size = shape[dim];
      const cut = summarize && size > 2 * EDGE;
      const count = cut ? 2 * EDGE : size;
      if (dim === shape.length - 1) {
        const items: string[] = [];
        for (let i = 0; i < count; i++) {
          if (cut && i === EDGE) items.push(' ...');
          items.push(fmt.format(shown[k++]));
        }
        const perLine = Math.max(1, Math.floor((LINEWIDTH - ind) / (fmt.width + 2)));
        const lines: string[] = [];
        for (let i = 0; i < items.length; i += perLine) lines.push(items.slice(i, i + perLine).join(', '));
        return '[' + lines.join(',\n' + ' '.repeat(ind + 1)) + ']';
      }
      const slices: string[] = [];
      for (let i = 0; i < count; i++) {
        if (cut && i === EDGE) slices.push('...');
        slices.push(rec(dim + 1, ind + 1));
      }
      return '[' + slices.join(',' + '\n'.repeat(shape.length - dim - 1) + ' '.repeat(ind + 1)) + ']';
    };
    body = rec(0, indent);
  }
  if (gradFn) suffixes.push(`gradFn=<${gradFn}>`);
  else if (requiresGrad) suffixes.push('requiresGrad=true');
  return addSuffixes(prefix + body, suffixes, indent);
}
