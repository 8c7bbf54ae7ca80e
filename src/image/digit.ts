/**
 * Images as people make them (a photo, a canvas export, a scan) turned into
 * what a model trained on MNIST-style data expects: a `size × size` grayscale
 * image in [0, 1], light ink on a black background.
 *
 * The steps follow how MNIST itself was made:
 *
 * 1. Transparency is flattened onto a background of the opposite tone to the
 *    paint (a black stroke on a transparent canvas goes onto white, a white one
 *    onto black), so a canvas export is never read as blank.
 * 2. Polarity: the background tone is the median of the image's border; a light
 *    background is inverted (MNIST is white on black).
 * 3. Contrast: the background level maps to 0 and the strongest ink to 1.
 * 4. `mode: 'mnist'` (digits): crop to the ink's bounding box, scale it into a
 *    20 × 20 box keeping the aspect ratio, and place it in the 28 × 28 field so
 *    that its centre of mass is on pixel (14, 14), where MNIST's digits have it. `mode: 'fit'` (Fashion-MNIST-like
 *    objects): crop to the object, scale its longer side to the full size, and
 *    centre the box. `mode: 'resize'`: the whole image resized to the output
 *    size, ignoring the aspect ratio (for images already framed like the data).
 *
 * An image with no ink (no contrast, or nothing opaque) is flagged `empty`
 * with a warning, so a caller can refuse it rather than answer with confidence.
 *
 * @module
 */
import { describe } from '../tensor';
import { checkOptions } from '../ops/args';
import type { RgbaImage } from './png';

export type PrepareMode = 'mnist' | 'fit' | 'resize';

export interface PrepareOptions {
  /** 'mnist' (default): crop, fit into `box`, centre by centre of mass. 'fit': crop, fit into `size`, centre the box. 'resize': the whole image to `size × size`. */
  mode?: PrepareMode;
  /** Output side in pixels (default 28). */
  size?: number;
  /** Side of the box the ink is scaled into in 'mnist' mode (default 20, as MNIST). */
  box?: number;
  /** 'auto' (default) detects a light background from the border; true/false force it. */
  invert?: 'auto' | boolean;
}

export interface PreparedImage {
  /** `size × size` values in [0, 1], light on black, row-major. */
  pixels: Float32Array;
  size: number;
  /** Whether the image was inverted (it had a light background). */
  inverted: boolean;
  /** No ink was found: the pixels are all 0 and a prediction would be meaningless. */
  empty: boolean;
  /** The ink's bounding box in the source image (null when empty). */
  bbox: { x: number; y: number; width: number; height: number } | null;
  /** Human-readable notes (why the image is considered empty). */
  warnings: string[];
}

/** The ink must stand out from the background by this much (on [0, 1]) for the image not to count as empty. */
export const MIN_CONTRAST = 0.15;
/** Pixels above this (after contrast normalisation) count as ink for the bounding box. */
const INK_THRESHOLD = 0.1;

function median(values: number[]): number {
  const s = values.slice().sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/**
 * One-dimensional resampling weights from `n` source samples to `m`: box
 * overlap when shrinking (area averaging), linear interpolation when growing.
 */
function weights(n: number, m: number): { start: number; w: Float64Array }[] {
  const out: { start: number; w: Float64Array }[] = [];
  const scale = m / n;
  for (let j = 0; j < m; j++) {
    if (scale <= 1) {
      const a = j / scale, b = (j + 1) / scale;
      const i0 = Math.floor(a), i1 = Math.min(n, Math.ceil(b));
      const w = new Float64Array(i1 - i0);
      for (let i = i0; i < i1; i++) w[i - i0] = Math.min(b, i + 1) - Math.max(a, i);
      const s = w.reduce((p, q) => p + q, 0);
      for (let k = 0; k < w.length; k++) w[k] /= s;
      out.push({ start: i0, w });
    } else {
      const c = (j + 0.5) / scale - 0.5;
      const i0 = Math.max(0, Math.min(n - 1, Math.floor(c))), i1 = Math.min(n - 1, i0 + 1);
      const f = Math.max(0, Math.min(1, c - i0));
      out.push(i1 === i0 ? { start: i0, w: Float64Array.of(1) } : { start: i0, w: Float64Array.of(1 - f, f) });
    }
  }
  return out;
}

/** Resamples a `w × h` plane (a window of `src` with row stride `stride`) to `tw × th`. */
function resample(src: Float32Array, stride: number, x0: number, y0: number, w: number, h: number, tw: number, th: number): Float32Array {
  const wx = weights(w, tw), wy = weights(h, th);
  const tmp = new Float32Array(tw * h);
  for (let y = 0; y < h; y++)
    for (let j = 0; j < tw; j++) {
      const { start, w: ws } = wx[j];
      let s = 0;
      for (let k = 0; k < ws.length; k++) s += ws[k] * src[(y0 + y) * stride + x0 + start + k];
      tmp[y * tw + j] = s;
    }
  const out = new Float32Array(tw * th);
  for (let i = 0; i < th; i++) {
    const { start, w: ws } = wy[i];
    for (let x = 0; x < tw; x++) {
      let s = 0;
      for (let k = 0; k < ws.length; k++) s += ws[k] * tmp[(start + k) * tw + x];
      out[i * tw + x] = Math.min(1, Math.max(0, s));
    }
  }
  return out;
}

function checkInt(name: string, v: unknown, lo: number, hi: number): number {
  if (!Number.isInteger(v) || (v as number) < lo || (v as number) > hi) throw new RangeError(`prepareImage: ${name} must be an integer in ${lo}..${hi}, got ${describe(v)}`);
  return v as number;
}

/** Turns a decoded image into a model input in MNIST's conventions (see the module comment). */
export function prepareImage(img: RgbaImage, opts: PrepareOptions = {}): PreparedImage {
  if (!img || typeof img !== 'object' || !(img.data instanceof Uint8Array)) throw new TypeError(`prepareImage: expected an RGBA image { width, height, data }, got ${describe(img)}`);
  checkOptions('prepareImage', opts, ['mode', 'size', 'box', 'invert']);
  const mode = opts.mode ?? 'mnist';
  if (mode !== 'mnist' && mode !== 'fit' && mode !== 'resize') throw new RangeError(`prepareImage: mode must be 'mnist', 'fit' or 'resize', got ${describe(mode)}`);
  const size = checkInt('size', opts.size ?? 28, 1, 4096);
  const box = checkInt('box', opts.box ?? Math.min(size, Math.round((size * 20) / 28)), 1, size);
  const invertOpt = opts.invert ?? 'auto';
  if (invertOpt !== 'auto' && typeof invertOpt !== 'boolean') throw new TypeError(`prepareImage: invert must be 'auto', true or false, got ${describe(invertOpt)}`);
  const { width: W, height: H, data } = img;
  checkInt('width', W, 1, 1 << 20);
  checkInt('height', H, 1, 1 << 20);
  if (data.length !== 4 * W * H) throw new RangeError(`prepareImage: ${W}×${H} RGBA needs ${4 * W * H} bytes, got ${data.length}`);

  const blank = (warning: string): PreparedImage => ({ pixels: new Float32Array(size * size), size, inverted: false, empty: true, bbox: null, warnings: [warning] });

  // 1. luminance and alpha; the tone of the paint decides the background it is flattened onto
  const n = W * H;
  const gray = new Float32Array(n);
  let alphaSum = 0, paint = 0, translucent = false;
  for (let i = 0; i < n; i++) {
    const a = data[4 * i + 3] / 255;
    const l = (0.299 * data[4 * i] + 0.587 * data[4 * i + 1] + 0.114 * data[4 * i + 2]) / 255;
    gray[i] = l;
    alphaSum += a;
    paint += a * l;
    if (a < 1) translucent = true;
  }
  if (alphaSum === 0) return blank('the image is fully transparent: there is nothing to classify');
  if (translucent) {
    const bg = paint / alphaSum > 0.5 ? 0 : 1;
    for (let i = 0; i < n; i++) {
      const a = data[4 * i + 3] / 255;
      gray[i] = a * gray[i] + (1 - a) * bg;
    }
  }

  // 2. polarity from the border
  const border: number[] = [];
  for (let x = 0; x < W; x++) border.push(gray[x], gray[(H - 1) * W + x]);
  for (let y = 1; y < H - 1; y++) border.push(gray[y * W], gray[y * W + W - 1]);
  let bg = median(border);
  const inverted = invertOpt === 'auto' ? bg > 0.5 : invertOpt;
  if (inverted) {
    for (let i = 0; i < n; i++) gray[i] = 1 - gray[i];
    bg = 1 - bg;
  }

  // 3. contrast: background → 0, strongest ink → 1
  let max = 0;
  for (let i = 0; i < n; i++) if (gray[i] > max) max = gray[i];
  if (max - bg < MIN_CONTRAST)
    return { ...blank(`the image looks empty: its ink differs from the background by ${(max - bg).toFixed(3)} (less than ${MIN_CONTRAST})`), inverted };
  const span = max - bg;
  let x0 = W, y0 = H, x1 = -1, y1 = -1;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      const v = Math.min(1, Math.max(0, (gray[i] - bg) / span));
      gray[i] = v;
      if (v > INK_THRESHOLD) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  const bw = x1 - x0 + 1, bh = y1 - y0 + 1;
  const bbox = { x: x0, y: y0, width: bw, height: bh };

  if (mode === 'resize') return { pixels: resample(gray, W, 0, 0, W, H, size, size), size, inverted, empty: false, bbox, warnings: [] };

  // 4. crop, scale keeping the aspect ratio, place
  const target = mode === 'mnist' ? box : size;
  const scale = target / Math.max(bw, bh);
  const tw = Math.max(1, Math.min(target, Math.round(bw * scale))), th = Math.max(1, Math.min(target, Math.round(bh * scale)));
  const glyph = resample(gray, W, x0, y0, bw, bh, tw, th);
  let ox: number, oy: number;
  if (mode === 'mnist') {
    let m = 0, mx = 0, my = 0;
    for (let y = 0; y < th; y++)
      for (let x = 0; x < tw; x++) {
        const v = glyph[y * tw + x];
        m += v;
        mx += v * (x + 0.5);
        my += v * (y + 0.5);
      }
    // MNIST's centre of mass is on pixel (14, 14): at 14.5 counting pixel centres at i + 0.5
    ox = Math.round(size / 2 + 0.5 - mx / m);
    oy = Math.round(size / 2 + 0.5 - my / m);
  } else {
    ox = Math.floor((size - tw) / 2);
    oy = Math.floor((size - th) / 2);
  }
  ox = Math.max(0, Math.min(size - tw, ox));
  oy = Math.max(0, Math.min(size - th, oy));
  const pixels = new Float32Array(size * size);
  for (let y = 0; y < th; y++) pixels.set(glyph.subarray(y * tw, (y + 1) * tw), (oy + y) * size + ox);
  return { pixels, size, inverted, empty: false, bbox, warnings: [] };
}
