/**
 * nn.functional.pad (PyTorch's F.pad): constant, reflect, replicate and
 * circular padding of the last dims, differentiable, with native forward and
 * backward loops; and the padding of convolutions whose `paddingMode` is not
 * 'zeros'.
 */
import { native } from '../native';
import { numberArg } from './args';
import { spatialArgs } from './pool';
import { resolvePadding, type Padding } from './conv';
import { Tensor, fromOp, describe, assertTensor, numelOf, checkShape } from '../tensor';

/** PyTorch's padding modes. */
export type PadMode = 'constant' | 'reflect' | 'replicate' | 'circular';
const MODES: readonly PadMode[] = ['constant', 'reflect', 'replicate', 'circular'];

/** Options of {@link pad}. */
export interface PadOptions {
  /** Default 'constant'. */
  mode?: PadMode;
  /** The fill value of 'constant' mode (default 0); other modes take none. */
  value?: number | null;
}

/**
 * Pads the last dims of `x` as PyTorch's `F.pad(input, pad, mode, value)`:
 * `pad` lists (before, after) pairs starting from the LAST dim —
 * `[left, right]` pads W, `[left, right, top, bottom]` pads W and H, up to 3
 * dims; a negative pad crops. 'constant' takes any rank; 'reflect' (pads < the
 * dim's size) and 'replicate' pad 1, 2 or 3 dims of a 2–3, 3–4 or 4–5-d input,
 * 'circular' (pads ≤ the dim's size) of a 3, 4 or 5-d input [N, C, …], as PyTorch 1.13.
 *
 * ```ts
 * F.pad(x, [1, 1, 2, 0]);               // W: 1 left, 1 right; H: 2 on top
 * F.pad(x, [2, 2], 'reflect');
 * F.pad(x, [1, 1], { mode: 'constant', value: -1 });
 * ```
 */
export function pad(x: Tensor, pad: number[], mode?: PadMode | PadOptions, value?: number | null, opts?: PadOptions): Tensor;
export function pad(x: Tensor, padding: number[], ...args: unknown[]): Tensor {
  const op = 'pad';
  assertTensor(op, x, 'input');
  x._check(op);
  const o = spatialArgs(op, ['mode', 'value'], args) as PadOptions;
  const mode = o.mode ?? 'constant';
  if (!MODES.includes(mode)) throw new Error(`${op}: mode must be one of ${MODES.map((m) => `'${m}'`).join(', ')}, got ${describe(mode)}`);
  if (!Array.isArray(padding) || padding.length % 2 !== 0 || padding.length === 0)
    throw new TypeError(`${op}: pad must be an array of (before, after) pairs, last dim first, got ${describe(padding)}`);
  for (const v of padding)
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${op}: pad must hold integers, got ${describe(padding)}`);
  const k = padding.length / 2;
  if (2 * k > 2 * x.ndim) throw new Error(`${op}: pad ${describe(padding)} pads ${k} dims but the input has only ${x.ndim} (shape [${x.shape.join(',')}])`);
  if (k > 3) throw new Error(`${op}: blasnet pads at most the last 3 dims (pad of length <= 6), got ${describe(padding)}`);
  let fill = 0;
  if (mode === 'constant') fill = o.value == null ? 0 : numberArg(op, 'value', o.value);
  else {
    if (o.value != null && o.value !== 0) throw new Error(`${op}: mode '${mode}' takes no value, got value ${describe(o.value)}`);
    const ok = mode === 'circular' ? x.ndim === k + 2 : x.ndim === k + 1 || x.ndim === k + 2;
    if (!ok)
      throw new Error(`${op}: mode '${mode}' pads ${k} dim${k > 1 ? 's' : ''} of a ${mode === 'circular' ? `${k + 2}-d input [N, C, …]` : `${k + 1}-d or ${k + 2}-d input`}, got shape [${x.shape.join(',')}] (pad ${describe(padding)})`);
  }
  // dims, first padded dim first: before/after of dim (ndim − k + j) are padding[2(k−1−j)], padding[2(k−1−j)+1]
  const sp = x.shape.slice(x.ndim - k), lead = x.shape.slice(0, x.ndim - k);
  const before = sp.map((_, j) => padding[2 * (k - 1 - j)]), after = sp.map((_, j) => padding[2 * (k - 1 - j) + 1]);
  const out = sp.map((L, j) => L + before[j] + after[j]);
  // PyTorch 1.13's checks, mode by mode (a negative pad crops)
  sp.forEach((L, j) => {
    const dim = x.ndim - k + j, b = before[j], a = after[j], O = out[j];
    const Lc = L - Math.max(-b, 0) - Math.max(-a, 0);
    const where = `dim ${dim} (size ${L}), pads (${b}, ${a})`;
    if (mode === 'constant') {
      if (Lc < 0) throw new RangeError(`${op}: pad ${describe(padding)} crops more than ${where} holds`);
      if (O < 1) throw new RangeError(`${op}: pad ${describe(padding)} leaves ${where} with ${O} elements; a padded dim needs at least 1, as PyTorch`);
    } else if (mode === 'reflect') {
      if (b >= L || a >= L) throw new RangeError(`${op}: 'reflect' padding must be smaller than the dim it pads: ${where}`);
      if (O < 1) throw new RangeError(`${op}: 'reflect' padding leaves ${where} empty`);
    } else if (mode === 'replicate') {
      if (O < 0) throw new RangeError(`${op}: pad ${describe(padding)} makes ${where} negative`);
    } else {
      if (b > L || a > L) throw new RangeError(`${op}: 'circular' padding must be at most the size of the dim it pads (it would wrap around more than once): ${where}`);
      if (O < 0) throw new RangeError(`${op}: pad ${describe(padding)} makes ${where} negative`);
      // PyTorch copies the wrapped part from the cropped range: more than it holds reads uninitialised memory there
      if (O > 0 && (Math.max(b, 0) > Lc || Math.max(a, 0) > Lc))
        throw new RangeError(`${op}: 'circular' padding must be at most the size left after cropping: ${where} leaves ${Lc}`);
    }
    if (mode !== 'constant' && L === 0 && O > 0) throw new RangeError(`${op}: mode '${mode}' cannot pad the empty dim ${dim} (input shape [${x.shape.join(',')}])`);
  });
  const up = (a: number[], f: number) => [...new Array<number>(3 - k).fill(f), ...a];
  const sizes = [numelOf(lead), ...up(sp, 1), ...up(out, 1)];
  const [bd, bh, bw] = up(before, 0);
  const m = MODES.indexOf(mode);
  const outShape = checkShape(op, [...lead, ...out], 'output');
  return fromOp(native.pad(x._h(op), sizes, bd, bh, bw, m, fill, false), outShape, 'PadBackward', [x], (g) => [
    Tensor._wrap(native.pad(g._h(op), sizes, bd, bh, bw, m, 0, true), x.shape),
  ]);
}

/** PyTorch's conv padding modes. */
export type PaddingMode = 'zeros' | 'reflect' | 'replicate' | 'circular';
export const PADDING_MODES: readonly PaddingMode[] = ['zeros', 'reflect', 'replicate', 'circular'];

/**
 * @internal What a conv layer with `paddingMode` other than 'zeros' runs, as
 * PyTorch: pad the input explicitly (F.pad, `_reversed_padding_repeated_twice`)
 * then convolve with no padding.
 */
export function padForConv(op: string, nd: number, x: Tensor, kernel: number[], padding: Padding, stride: number | number[], dilation: number | number[], mode: PaddingMode): Tensor {
  const toN = (v: number | number[]) => (typeof v === 'number' ? new Array<number>(nd).fill(v) : v);
  const pads = resolvePadding(op, padding, nd, kernel, toN(dilation), toN(stride));
  const list: number[] = [];
  for (let i = nd - 1; i >= 0; i--) list.push(pads[i][0], pads[i][1]);
  const m: PadMode = mode === 'zeros' ? 'constant' : mode;
  try {
    return pad(x, list, m);
  } catch (e) {
    if (e instanceof Error) e.message = `${op}: paddingMode '${mode}': ${e.message}`;
    throw e;
  }
}
