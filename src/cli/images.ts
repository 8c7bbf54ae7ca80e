/** PNG input and output for the CLI (pngjs): digits in, filter and feature-map grids out. */
import * as fs from 'node:fs';
import { PNG } from 'pngjs';
import { writeFileAtomic } from '../io/atomic';

/**
 * Reads a PNG as a 28×28 grayscale digit in [0, 1], white on black like MNIST:
 * colour is averaged, transparency composited over black, other sizes are
 * area-resampled to 28×28, and a light background is inverted.
 */
export function readDigitPng(path: string, size = 28): Float32Array {
  let png: PNG;
  try {
    png = PNG.sync.read(fs.readFileSync(path));
  } catch (e) {
    throw new Error(`predict: ${path} is not a readable PNG (${(e as Error).message})`);
  }
  const { width: w, height: h, data } = png;
  if (w < 1 || h < 1 || w > 8192 || h > 8192) throw new Error(`predict: ${path} has unsupported size ${w}×${h}`);
  const gray = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) {
    const a = data[4 * i + 3] / 255;
    gray[i] = (((data[4 * i] + data[4 * i + 1] + data[4 * i + 2]) / 3) * a) / 255;
  }
  // area resample to size×size
  const out = new Float32Array(size * size);
  for (let oy = 0; oy < size; oy++)
    for (let ox = 0; ox < size; ox++) {
      const y0 = Math.floor((oy * h) / size), y1 = Math.max(y0 + 1, Math.floor(((oy + 1) * h) / size));
      const x0 = Math.floor((ox * w) / size), x1 = Math.max(x0 + 1, Math.floor(((ox + 1) * w) / size));
      let s = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) s += gray[y * w + x];
      out[oy * size + ox] = s / ((y1 - y0) * (x1 - x0));
    }
  let mean = 0;
  for (const v of out) mean += v;
  if (mean / out.length > 0.5) for (let i = 0; i < out.length; i++) out[i] = 1 - out[i];
  return out;
}

/**
 * Writes maps [count, h, w] as a grid PNG: each map scaled to 0..255 on its own
 * range, enlarged `scale` times, separated by a 1-pixel border.
 */
export function writeGridPng(path: string, maps: Float32Array, count: number, h: number, w: number, opts: { cols?: number; scale?: number } = {}): void {
  const cols = opts.cols ?? Math.min(count, 8), rows = Math.ceil(count / cols), s = opts.scale ?? 8;
  const cw = w * s + 1, ch = h * s + 1;
  const png = new PNG({ width: cols * cw + 1, height: rows * ch + 1 });
  png.data.fill(0);
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
  for (let p = 0; p < png.width * png.height; p++) {
    png.data[4 * p] = png.data[4 * p + 1] = png.data[4 * p + 2] = 64; // border
  }
  for (let m = 0; m < count; m++) {
    const map = maps.subarray(m * h * w, (m + 1) * h * w);
    let lo = Infinity, hi = -Infinity;
    for (const v of map) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const span = hi > lo ? hi - lo : 1;
    const ox = (m % cols) * cw + 1, oy = Math.floor(m / cols) * ch + 1;
    for (let y = 0; y < h * s; y++)
      for (let x = 0; x < w * s; x++) {
        const v = Math.round((255 * (map[Math.floor(y / s) * w + Math.floor(x / s)] - lo)) / span);
        const k = 4 * ((oy + y) * png.width + ox + x);
        png.data[k] = png.data[k + 1] = png.data[k + 2] = v;
      }
  }
  writeFileAtomic(path, PNG.sync.write(png));
}
