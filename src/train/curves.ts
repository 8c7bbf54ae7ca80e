/**
 * Learning curves as SVG and PNG: training loss (per step and per epoch) and
 * test loss, test accuracy, and the learning rate, side by side, against the
 * epoch (fractional for steps, so a one-epoch run still draws its whole loss
 * curve). One layout, two renderers: SVG text, and a small rasteriser
 * (anti-aliased lines, a bitmap font) for PNG.
 *
 * @module
 */
import { encodePng } from '../image/png';
import { glyph, GLYPH_ADVANCE, GLYPH_HEIGHT } from './font';
import type { EpochMetrics } from './trainer';

/** One step's point on the curves: x is the fractional epoch (epoch − 1 + batch / batches). */
export interface StepPoint {
  x: number;
  loss: number;
  lr: number;
}

/** An epoch's point: what {@link EpochMetrics} holds (testLoss may be absent). */
export type EpochPoint = Pick<EpochMetrics, 'epoch' | 'loss' | 'accuracy' | 'lr'> & { testLoss?: number };

export interface CurveData {
  epochs: EpochPoint[];
  /** Per-step points (optional; without them the curves are per epoch). */
  steps?: StepPoint[];
}

type Prim =
  | { t: 'line'; x1: number; y1: number; x2: number; y2: number; color: string; width: number }
  | { t: 'poly'; pts: [number, number][]; color: string; width: number; cls: string }
  | { t: 'circle'; cx: number; cy: number; r: number; color: string; cls: string }
  | { t: 'rect'; x: number; y: number; w: number; h: number; stroke?: string; fill?: string }
  | { t: 'text'; x: number; y: number; s: string; size: number; anchor: 'start' | 'middle' | 'end'; rotate?: boolean; bold?: boolean; cls?: string; color?: string };

const PANEL_W = 420, H = 300, L = 64, R = 15, T = 35, B = 45;

/** "Nice" tick values covering [lo, hi]: steps of 1, 2, 2.5 or 5 times a power of ten. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(10));
  return out;
}

function fmtTick(v: number, step: number): string {
  if (v !== 0 && (Math.abs(v) < 1e-4 || Math.abs(v) >= 1e5)) return v.toExponential(1);
  const d = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  return v.toFixed(d);
}

interface Series {
  name: string;
  xs: number[];
  ys: number[];
  color: string;
  /** Draw markers at the points (per-epoch series). */
  points: boolean;
  width: number;
}

/** The y range of a panel: the data's span padded by 8%, or ±pad around a single value; clamped to `clamp`. */
function yRange(values: number[], minPad: number, clamp?: [number, number]): [number, number] {
  let lo = Math.min(...values), hi = Math.max(...values);
  const pad = Math.max((hi - lo) * 0.08, minPad);
  lo -= pad;
  hi += pad;
  if (clamp) {
    lo = Math.max(clamp[0], lo);
    hi = Math.min(clamp[1], hi);
    if (!(hi > lo)) [lo, hi] = clamp;
  }
  return [lo, hi];
}

function panel(prims: Prim[], x0: number, id: string, title: string, yLabel: string, xmax: number, series: Series[], range: [number, number]): void {
  const pw = PANEL_W - L - R, ph = H - T - B;
  const [ymin, ymax] = range;
  const sx = (v: number) => x0 + L + (v / xmax) * pw;
  const sy = (v: number) => T + ph - ((v - ymin) / (ymax - ymin)) * ph;
  prims.push({ t: 'text', x: x0 + L + pw / 2, y: 20, s: title, size: 14, anchor: 'middle', bold: true });
  const yt = niceTicks(ymin, ymax);
  const ystep = yt.length > 1 ? yt[1] - yt[0] : 1;
  for (const v of yt) {
    if (v < ymin - 1e-12 || v > ymax + 1e-12) continue;
    prims.push({ t: 'line', x1: x0 + L, x2: x0 + L + pw, y1: sy(v), y2: sy(v), color: '#dddddd', width: 1 });
    prims.push({ t: 'text', x: x0 + L - 6, y: sy(v) + 4, s: fmtTick(v, ystep), size: 11, anchor: 'end', cls: `ytick ${id}` });
  }
  const xt = niceTicks(0, xmax, Math.min(10, Math.max(2, Math.round(xmax))));
  const xstep = xt.length > 1 ? xt[1] - xt[0] : 1;
  for (const v of xt) {
    if (v > xmax + 1e-9) continue;
    prims.push({ t: 'line', x1: sx(v), x2: sx(v), y1: T + ph, y2: T + ph + 5, color: '#444444', width: 1 });
    prims.push({ t: 'text', x: sx(v), y: T + ph + 18, s: fmtTick(v, xstep), size: 11, anchor: 'middle', cls: `xtick ${id}` });
  }
  prims.push({ t: 'rect', x: x0 + L, y: T, w: pw, h: ph, stroke: '#444444' });
  prims.push({ t: 'text', x: x0 + L + pw / 2, y: H - 8, s: 'epoch', size: 12, anchor: 'middle' });
  prims.push({ t: 'text', x: x0 + 14, y: T + ph / 2, s: yLabel, size: 12, anchor: 'middle', rotate: true });
  let ly = T + 14;
  for (const s of series) {
    if (s.xs.length === 0) continue;
    const pts = s.xs.map((x, i) => [sx(x), sy(Math.min(ymax, Math.max(ymin, s.ys[i])))] as [number, number]);
    if (pts.length > 1) prims.push({ t: 'poly', pts, color: s.color, width: s.width, cls: id });
    if (s.points) for (const [cx, cy] of pts) prims.push({ t: 'circle', cx, cy, r: 3, color: s.color, cls: id });
    if (series.length > 1) {
      prims.push({ t: 'line', x1: x0 + L + pw - 118, x2: x0 + L + pw - 102, y1: ly - 4, y2: ly - 4, color: s.color, width: 2 });
      prims.push({ t: 'text', x: x0 + L + pw - 98, y: ly, s: s.name, size: 11, anchor: 'start' });
      ly += 15;
    }
  }
}

/** At most `n` points of a series (evenly picked), for files that stay small. */
function thin<T>(xs: T[], n: number): T[] {
  if (xs.length <= n) return xs;
  return Array.from({ length: n }, (_, i) => xs[Math.round((i * (xs.length - 1)) / (n - 1))]);
}

function layout(d: CurveData): { prims: Prim[]; width: number } {
  const prims: Prim[] = [];
  const ep = d.epochs;
  const steps = thin(d.steps ?? [], 600);
  if (ep.length === 0 && steps.length === 0) {
    prims.push({ t: 'text', x: (3 * PANEL_W) / 2, y: H / 2, s: 'no epochs yet', size: 14, anchor: 'middle' });
    return { prims, width: 3 * PANEL_W };
  }
  const xmax = Math.max(1, ...ep.map((e) => e.epoch), ...steps.map((s) => s.x));
  const xs = ep.map((e) => e.epoch);
  // loss: smoothed per-step training loss, the epoch means, and the test loss
  const smooth: number[] = [];
  let m = NaN;
  for (const s of steps) smooth.push((m = Number.isNaN(m) ? s.loss : 0.9 * m + 0.1 * s.loss));
  const testLoss = ep.filter((e) => Number.isFinite(e.testLoss));
  const lossSeries: Series[] = [
    { name: 'train (steps)', xs: steps.map((s) => s.x), ys: smooth, color: '#f4a3a3', points: false, width: 1.5 },
    { name: 'train', xs, ys: ep.map((e) => e.loss), color: '#d62728', points: true, width: 2 },
    { name: 'test', xs: testLoss.map((e) => e.epoch), ys: testLoss.map((e) => e.testLoss as number), color: '#ff7f0e', points: true, width: 2 },
  ];
  const lossValues = lossSeries.flatMap((s) => s.ys).filter(Number.isFinite);
  panel(prims, 0, 'loss', 'Loss', 'cross-entropy loss', xmax, lossSeries, yRange(lossValues.length ? lossValues : [0], 0.01, [0, Infinity]));
  const acc = ep.filter((e) => Number.isFinite(e.accuracy));
  const accValues = acc.map((e) => 100 * e.accuracy);
  panel(prims, PANEL_W, 'accuracy', 'Test accuracy', 'accuracy (%)', xmax,
    [{ name: 'test', xs: acc.map((e) => e.epoch), ys: accValues, color: '#1f77b4', points: true, width: 2 }],
    yRange(accValues.length ? accValues : [0, 100], 0.5, [0, 100]));
  const lr = steps.length ? steps.map((s) => [s.x, s.lr]) : ep.map((e) => [e.epoch, e.lr]);
  const lrValues = lr.map((p) => p[1]);
  panel(prims, 2 * PANEL_W, 'lr', 'Learning rate', 'learning rate', xmax,
    [{ name: 'lr', xs: lr.map((p) => p[0]), ys: lrValues, color: '#2ca02c', points: !steps.length, width: 2 }],
    yRange(lrValues, Math.max(...lrValues.map(Math.abs), 1e-12) * 0.05, [0, Infinity]));
  return { prims, width: 3 * PANEL_W };
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** A standalone SVG of the curves. */
export function curvesSvg(d: CurveData): string {
  const { prims, width } = layout(d);
  const f = (v: number) => +v.toFixed(1);
  const body = prims.map((p) => {
    switch (p.t) {
      case 'line': return `<line x1="${f(p.x1)}" y1="${f(p.y1)}" x2="${f(p.x2)}" y2="${f(p.y2)}" stroke="${p.color}" stroke-width="${p.width}"/>`;
      case 'poly': return `<polyline class="${p.cls}" points="${p.pts.map(([x, y]) => `${f(x)},${f(y)}`).join(' ')}" fill="none" stroke="${p.color}" stroke-width="${p.width}"/>`;
      case 'circle': return `<circle class="${p.cls}" cx="${f(p.cx)}" cy="${f(p.cy)}" r="${p.r}" fill="${p.color}"/>`;
      case 'rect': return `<rect x="${f(p.x)}" y="${f(p.y)}" width="${f(p.w)}" height="${f(p.h)}" fill="${p.fill ?? 'none'}" stroke="${p.stroke ?? 'none'}"/>`;
      case 'text': {
        const tr = p.rotate ? ` transform="rotate(-90 ${f(p.x)} ${f(p.y)})"` : '';
        return `<text${p.cls ? ` class="${p.cls}"` : ''} x="${f(p.x)}" y="${f(p.y)}"${tr} text-anchor="${p.anchor}" font-size="${p.size}"${p.bold ? ' font-weight="bold"' : ''}>${esc(p.s)}</text>`;
      }
    }
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H}" viewBox="0 0 ${width} ${H}" font-family="sans-serif">\n<rect width="${width}" height="${H}" fill="white"/>\n${body.join('\n')}\n</svg>\n`;
}

function rgb(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** A PNG of the curves, drawn at `scale` × the SVG's size (default 2). */
export function curvesPng(d: CurveData, scale = 2): Buffer {
  const { prims, width } = layout(d);
  const W = Math.round(width * scale), Hh = Math.round(H * scale);
  const px = new Uint8Array(4 * W * Hh).fill(255);
  const blend = (x: number, y: number, c: [number, number, number], a: number) => {
    if (x < 0 || y < 0 || x >= W || y >= Hh || a <= 0) return;
    const o = 4 * (y * W + x), k = Math.min(1, a);
    for (let i = 0; i < 3; i++) px[o + i] = Math.round(px[o + i] * (1 - k) + c[i] * k);
  };
  const segment = (x1: number, y1: number, x2: number, y2: number, w: number, c: [number, number, number]) => {
    const r = w / 2;
    const minx = Math.floor(Math.min(x1, x2) - r - 1), maxx = Math.ceil(Math.max(x1, x2) + r + 1);
    const miny = Math.floor(Math.min(y1, y2) - r - 1), maxy = Math.ceil(Math.max(y1, y2) + r + 1);
    const dx = x2 - x1, dy = y2 - y1, len2 = dx * dx + dy * dy;
    for (let y = Math.max(0, miny); y <= Math.min(Hh - 1, maxy); y++)
      for (let x = Math.max(0, minx); x <= Math.min(W - 1, maxx); x++) {
        const pxc = x + 0.5, pyc = y + 0.5;
        const t = len2 > 0 ? Math.max(0, Math.min(1, ((pxc - x1) * dx + (pyc - y1) * dy) / len2)) : 0;
        const ddx = pxc - (x1 + t * dx), ddy = pyc - (y1 + t * dy);
        blend(x, y, c, r + 0.5 - Math.sqrt(ddx * ddx + ddy * ddy));
      }
  };
  const text = (p: Extract<Prim, { t: 'text' }>) => {
    const g = Math.max(1, Math.round((p.size * scale) / 9));
    const w = p.s.length * GLYPH_ADVANCE * g - g;
    const c = rgb(p.color ?? '#000000');
    const X = p.x * scale, Y = p.y * scale;
    // the anchor point is on the baseline, as in SVG (glyph rows 0..6 above it, 7 below)
    let ox = p.anchor === 'start' ? 0 : p.anchor === 'middle' ? -w / 2 : -w;
    for (let i = 0; i < p.s.length; i++) {
      const cols = glyph(p.s[i]);
      for (let cx = 0; cx < 5; cx++)
        for (let ry = 0; ry < GLYPH_HEIGHT; ry++) {
          if (!((cols[cx] >> ry) & 1)) continue;
          for (let a = 0; a < g; a++)
            for (let b = 0; b < g; b++) {
              const u = ox + cx * g + a, v = (ry - 7) * g + b;
              const [qx, qy] = p.rotate ? [X + v, Y - u] : [X + u, Y + v];
              blend(Math.round(qx), Math.round(qy), c, 1);
              if (p.bold && !p.rotate) blend(Math.round(qx) + 1, Math.round(qy), c, 1);
            }
        }
      ox += GLYPH_ADVANCE * g;
    }
  };
  for (const p of prims) {
    switch (p.t) {
      case 'line': segment(p.x1 * scale, p.y1 * scale, p.x2 * scale, p.y2 * scale, p.width * scale, rgb(p.color)); break;
      case 'poly': for (let i = 1; i < p.pts.length; i++) segment(p.pts[i - 1][0] * scale, p.pts[i - 1][1] * scale, p.pts[i][0] * scale, p.pts[i][1] * scale, p.width * scale, rgb(p.color)); break;
      case 'circle': segment(p.cx * scale, p.cy * scale, p.cx * scale, p.cy * scale, 2 * p.r * scale, rgb(p.color)); break;
      case 'rect':
        if (p.stroke) {
          const c = rgb(p.stroke), [x, y, w, h] = [p.x * scale, p.y * scale, p.w * scale, p.h * scale];
          segment(x, y, x + w, y, scale, c);
          segment(x + w, y, x + w, y + h, scale, c);
          segment(x + w, y + h, x, y + h, scale, c);
          segment(x, y + h, x, y, scale, c);
        }
        break;
      case 'text': text(p); break;
    }
  }
  return encodePng({ width: W, height: Hh, data: px });
}
