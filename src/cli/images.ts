/** PNG output for `blasnet viz`: filter and feature-map grids. (Images in: src/image.) */
import { writeFileAtomic } from '../io/atomic';
import { encodePng } from '../image/png';

/**
 * Writes maps [count, h, w] as a grid PNG: each map scaled to 0..255 on its own
 * range, enlarged `scale` times, separated by a 1-pixel border.
 */
export function writeGridPng(path: string, maps: Float32Array, count: number, h: number, w: number, opts: { cols?: number; scale?: number } = {}): void {
  const cols = opts.cols ?? Math.min(count, 8), rows = Math.ceil(count / cols), s = opts.scale ?? 8;
  const cw = w * s + 1, ch = h * s + 1;
  const png = { width: cols * cw + 1, height: rows * ch + 1, data: new Uint8Array(4 * (cols * cw + 1) * (rows * ch + 1)) };
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
  writeFileAtomic(path, encodePng(png));
}
