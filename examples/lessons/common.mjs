// @ts-check
/**
 * What the lessons share: command-line options, MNIST as plain arrays, a small
 * training loop and evaluation, PNG pictures (pngjs) and SVG line charts.
 * Everything here uses blasnet's public API only ('blasnet' resolves to this
 * package through its own "exports", so the lessons run unchanged in a clone
 * and in a project that installed blasnet).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PNG } from 'pngjs';
import { nn, optim, data, tidy, noGrad, manualSeed, setNumThreads, getNumThreads, backendInfo, tensor } from 'blasnet';

/** @typedef {import('blasnet').Tensor} Tensor */
/** @typedef {import('blasnet').nn.Module} Module */

/**
 * @typedef {object} LessonOptions
 * @property {boolean} quick  the CI subset: small data, few epochs, small canvases
 * @property {string} out     directory for results.json and the pictures
 * @property {number} seed
 * @property {number | undefined} threads
 */

/**
 * Declares a lesson. When its file is the script node runs, it runs at once on
 * process.argv; run.mjs calls `.main(argv)` on it otherwise.
 *
 * The body gets the parsed options and returns the numbers it measured; they
 * are written to `<out>/results.json` with the options, the seconds taken and
 * the backend. Unknown options and positional arguments are errors.
 *
 * @template {Record<string, unknown>} R
 * @param {string} url  the lesson's import.meta.url
 * @param {{ name: string, title: string }} meta
 * @param {(o: LessonOptions) => R | Promise<R>} body
 */
export function lesson(url, meta, body) {
  const usage = `usage: npm run lesson -- ${meta.name} [--quick] [--out DIR] [--seed N] [--threads N]
  (or: node examples/lessons/${path.basename(fileURLToPath(url))} [options])

${meta.title}

  --quick        the small subset CI runs (seconds, not minutes)
  --out DIR      where results.json and the pictures go (default runs/lessons/${meta.name})
  --seed N       seed of every random choice (default 0)
  --threads N    blasnet's thread count (default: all CPUs)`;

  /** @param {string[]} argv */
  async function main(argv) {
    const o = parseOptions(meta.name, argv, usage);
    if (!o) return null;
    if (o.threads !== undefined) setNumThreads(o.threads);
    manualSeed(o.seed);
    fs.mkdirSync(o.out, { recursive: true });
    console.log(`lesson ${meta.name}: ${meta.title}${o.quick ? ' (quick subset)' : ''}`);
    const t0 = performance.now();
    const results = await body(o);
    const seconds = (performance.now() - t0) / 1000;
    const b = backendInfo();
    const record = { lesson: meta.name, quick: o.quick, seed: o.seed, threads: getNumThreads(), seconds: round(seconds, 2), backend: `${b.blas} ${b.core} ${b.simd}`, ...results };
    writeText(path.join(o.out, 'results.json'), JSON.stringify(record, null, 2) + '\n');
    console.log(`wrote ${path.join(o.out, 'results.json')} (${seconds.toFixed(1)} s)`);
    return record;
  }

  if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(url)) {
    main(process.argv.slice(2)).catch((e) => {
      console.error(e instanceof Error ? e.message : e);
      process.exitCode = 1;
    });
  }
  return { name: meta.name, title: meta.title, usage, main };
}

/**
 * @param {string} name
 * @param {string[]} argv
 * @param {string} usage
 * @returns {LessonOptions | null}  null after --help
 */
function parseOptions(name, argv, usage) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean', default: false },
        out: { type: 'string' },
        seed: { type: 'string', default: '0' },
        threads: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    throw new Error(`lesson ${name}: ${/** @type {Error} */ (e).message}\n\n${usage}`);
  }
  const v = parsed.values;
  if (v.help) {
    console.log(usage);
    return null;
  }
  /** @param {string} key @param {string} s @param {number} min */
  const int = (key, s, min) => {
    const n = Number(s);
    if (!/^-?\d+$/.test(s) || !Number.isSafeInteger(n) || n < min) throw new Error(`lesson ${name}: --${key} must be an integer >= ${min}, got '${s}'`);
    return n;
  };
  if (v.out === '') throw new Error(`lesson ${name}: --out needs a directory`);
  return {
    quick: !!v.quick,
    out: v.out ?? path.join('runs', 'lessons', name),
    seed: int('seed', String(v.seed), 0),
    threads: v.threads === undefined ? undefined : int('threads', v.threads, 1),
  };
}

// ---------------------------------------------------------------------------
// numbers and printing

/** @param {number} v @param {number} digits */
export const round = (v, digits) => Number(v.toFixed(digits));
/** @param {number} v  a fraction, printed as a percentage */
export const pct = (v) => `${(100 * v).toFixed(1)}%`;
/** @param {number} n */
export const count = (n) => n.toLocaleString('en-US');

/**
 * Prints rows as aligned columns (numbers right-aligned) and returns the text.
 * @param {string[]} header
 * @param {(string | number)[][]} rows
 */
export function table(header, rows) {
  const cells = rows.map((r) => r.map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const right = header.map((_, i) => rows.every((r) => typeof r[i] === 'number' || /^[-+]?[\d,.]+[%×]?$/.test(String(r[i]))));
  /** @param {string[]} r */
  const fmt = (r) => r.map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const text = [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(fmt)].join('\n');
  console.log(text);
  return text;
}

/** A seeded generator of floats in [0, 1) (mulberry32, as blasnet's DataLoader uses). */
export const rng = data.mulberry32;

/** A standard normal draw from a uniform generator (Box–Muller). @param {() => number} r */
export function gauss(r) {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

// ---------------------------------------------------------------------------
// data

/**
 * MNIST as plain arrays: pixels in [0, 1] (white digit on black, as the files
 * store it) and the labels.
 * @param {'train' | 'test'} split
 * @param {number} [limit]  keep the first `limit` images
 */
export function mnistArrays(split, limit) {
  const ds = data.mnist({ split, normalize: false, limit });
  const out = { x: ds.x.data(), y: Int32Array.from(ds.y.data()), n: ds.length, h: ds.x.shape[2], w: ds.x.shape[3] };
  ds.dispose();
  return out;
}

/**
 * Trains a classifier with Adam and cross-entropy on samples x [n, ...shape]
 * and labels y; returns the mean loss of each epoch.
 * @param {Module} model
 * @param {Float32Array} x
 * @param {Int32Array} y
 * @param {number[]} shape  one sample's shape, e.g. [1, 28, 28]
 * @param {{ epochs: number, seed: number, lr?: number, batchSize?: number, label?: string }} o
 */
export function train(model, x, y, shape, o) {
  const n = y.length;
  const ds = new data.TensorDataset(tensor(x, [n, ...shape]), tensor(Float32Array.from(y), [n]));
  const loader = new data.DataLoader(ds, { batchSize: o.batchSize ?? 128, shuffle: true, seed: o.seed });
  const opt = new optim.Adam(model.parameters(), { lr: o.lr ?? 0.002 });
  const losses = [];
  model.train();
  for (let e = 0; e < o.epochs; e++) {
    const t0 = performance.now();
    let sum = 0;
    for (const b of loader) {
      sum += tidy(() => {
        opt.zeroGrad();
        const loss = nn.functional.crossEntropy(model.forward(b.x), b.y);
        loss.backward();
        opt.step();
        return loss.item() * b.y.shape[0];
      });
      b.x.dispose();
      b.y.dispose();
    }
    losses.push(sum / n);
    if (o.label) console.log(`  ${o.label} epoch ${e + 1}/${o.epochs}: loss ${(sum / n).toFixed(4)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  model.zeroGrad();
  ds.dispose();
  return losses;
}

/**
 * The model's outputs for samples x [n, ...shape], in eval mode without the
 * graph, in batches.
 * @param {Module} model
 * @param {Float32Array} x
 * @param {number[]} shape
 * @param {number} [batch]
 * @returns {Float32Array}  the outputs, concatenated
 */
export function forwardAll(model, x, shape, batch = 500) {
  const per = shape.reduce((a, b) => a * b, 1), n = x.length / per;
  /** @type {Float32Array[]} */
  const parts = [];
  model.eval();
  noGrad(() => {
    for (let i = 0; i < n; i += batch) {
      const m = Math.min(batch, n - i);
      tidy(() => parts.push(model.forward(tensor(x.subarray(i * per, (i + m) * per), [m, ...shape])).data()));
    }
  });
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let k = 0;
  for (const p of parts) (out.set(p, k), (k += p.length));
  return out;
}

/**
 * Accuracy of a classifier on samples x [n, ...shape] with labels y.
 * @param {Module} model @param {Float32Array} x @param {Int32Array} y @param {number[]} shape
 */
export function accuracy(model, x, y, shape) {
  const logits = forwardAll(model, x, shape), k = logits.length / y.length;
  let correct = 0;
  for (let i = 0; i < y.length; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (logits[i * k + c] > logits[i * k + best]) best = c;
    if (best === y[i]) correct++;
  }
  return correct / y.length;
}

/** Global max pooling over the spatial dims: [N, C, ...] → [N, C]. */
export class GlobalMaxPool extends nn.Module {
  /** @param {Tensor} x */
  forward(x) {
    const m = /** @type {{ values: Tensor }} */ (x.flatten(2).max(2));
    return m.values;
  }
}

// ---------------------------------------------------------------------------
// pictures

/** @param {string} file @param {string | Buffer} content */
export function writeText(file, content) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

/** Colour maps from a value in [0, 1] to [r, g, b]. */
export const colormaps = {
  /** @param {number} t */
  gray: (t) => [255 * t, 255 * t, 255 * t],
  /** black → red → yellow → white, for magnitudes (saliency, activations) @param {number} t */
  heat: (t) => [255 * Math.min(1, 3 * t), 255 * Math.min(1, Math.max(0, 3 * t - 1)), 255 * Math.max(0, 3 * t - 2)],
  /** blue → white → red around 0.5, for signed responses @param {number} t */
  diverging: (t) => (t < 0.5 ? [255 * 2 * t, 255 * 2 * t, 255] : [255, 255 * 2 * (1 - t), 255 * 2 * (1 - t)]),
};

/**
 * An RGB picture assembled from maps (each a Float32Array of h·w values),
 * written as a PNG. Tiles are placed on a grid of cells with a gap between.
 */
export class Picture {
  /** @param {number} width @param {number} height @param {number} [background] gray level 0..255 */
  constructor(width, height, background = 64) {
    this.png = new PNG({ width, height });
    this.png.data.fill(background);
    for (let i = 3; i < this.png.data.length; i += 4) this.png.data[i] = 255;
  }

  /**
   * Draws a map at (x0, y0), each value a `scale`×`scale` block.
   * @param {number} x0 @param {number} y0
   * @param {ArrayLike<number>} map @param {number} h @param {number} w
   * @param {{ scale?: number, range?: [number, number], symmetric?: boolean, cmap?: keyof typeof colormaps, alpha?: number }} [o]
   *   range: the values shown black..white (default the map's own min..max);
   *   symmetric: a range of ±max|v| (with the diverging map: 0 is white)
   */
  draw(x0, y0, map, h, w, o = {}) {
    const s = o.scale ?? 1, cmap = colormaps[o.cmap ?? 'gray'], alpha = o.alpha ?? 1;
    let [lo, hi] = o.range ?? extent(map);
    if (o.symmetric) {
      const m = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
      [lo, hi] = [-m, m];
    }
    const span = hi > lo ? hi - lo : 1;
    const { width, height, data: px } = this.png;
    for (let y = 0; y < h * s; y++)
      for (let x = 0; x < w * s; x++) {
        const X = x0 + x, Y = y0 + y;
        if (X < 0 || Y < 0 || X >= width || Y >= height) continue;
        const t = Math.min(1, Math.max(0, (map[Math.floor(y / s) * w + Math.floor(x / s)] - lo) / span));
        const c = cmap(t), k = 4 * (Y * width + X);
        for (let j = 0; j < 3; j++) px[k + j] = Math.round(alpha * c[j] + (1 - alpha) * px[k + j]);
      }
  }

  /** A rectangle outline. @param {number} x0 @param {number} y0 @param {number} w @param {number} h @param {number[]} rgb */
  box(x0, y0, w, h, rgb) {
    const { width, height, data: px } = this.png;
    /** @param {number} x @param {number} y */
    const dot = (x, y) => {
      if (x < 0 || y < 0 || x >= width || y >= height) return;
      const k = 4 * (y * width + x);
      px[k] = rgb[0], px[k + 1] = rgb[1], px[k + 2] = rgb[2];
    };
    for (let x = x0; x < x0 + w; x++) (dot(x, y0), dot(x, y0 + h - 1));
    for (let y = y0; y < y0 + h; y++) (dot(x0, y), dot(x0 + w - 1, y));
  }

  /** @param {string} file */
  save(file) {
    // RGB without alpha, best compression: the pictures are committed under docs/lessons
    writeText(file, PNG.sync.write(this.png, { colorType: 2, deflateLevel: 9 }));
    console.log(`wrote ${file}`);
  }
}

/**
 * A grid of equally sized maps as one PNG: `rows` of `cols` maps [h, w],
 * each scaled on its own range unless `o.range` is given.
 * @param {string} file
 * @param {ArrayLike<number>[][]} rows
 * @param {number} h @param {number} w
 * @param {{ scale?: number, gap?: number, range?: [number, number], symmetric?: boolean, cmap?: keyof typeof colormaps }} [o]
 */
export function saveGrid(file, rows, h, w, o = {}) {
  const s = o.scale ?? 4, gap = o.gap ?? 2;
  const cols = Math.max(...rows.map((r) => r.length));
  const pic = new Picture(gap + cols * (w * s + gap), gap + rows.length * (h * s + gap));
  rows.forEach((r, i) => r.forEach((m, j) => pic.draw(gap + j * (w * s + gap), gap + i * (h * s + gap), m, h, w, { ...o, scale: s })));
  pic.save(file);
}

/** [min, max] of the values. @param {ArrayLike<number>} a @returns {[number, number]} */
export function extent(a) {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    if (a[i] < lo) lo = a[i];
    if (a[i] > hi) hi = a[i];
  }
  return [lo, hi];
}

const PALETTE = ['#d62728', '#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

/** @param {string} s */
const esc = (s) => s.replace(/[&<>"]/g, (c) => /** @type {Record<string, string>} */ ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

/** Round tick values covering [lo, hi]. @param {number} lo @param {number} hi @param {number} n */
function ticks(lo, hi, n) {
  const raw = (hi - lo) / n, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((v) => v >= raw) ?? raw;
  const out = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 * step; v += step) out.push(Number(v.toPrecision(10)));
  return out;
}

/**
 * An SVG line chart of one or more series over a shared x axis, with axes,
 * ticks, grid lines and a legend (dots mark the points of series up to 40 long);
 * written to `file`.
 * @param {string} file
 * @param {{ title: string, xLabel: string, yLabel: string, series: { name: string, points: [number, number][], dashed?: boolean }[],
 *           yRange?: [number, number], yFormat?: (v: number) => string }} c
 */
export function saveLineChart(file, c) {
  // the legend sits right of the plot, as wide as its longest name (≈ 7 px a character at 12 px)
  const L = 64, T = 40, B = 52, pw = 440, ph = 300, R = 60 + 7 * Math.max(...c.series.map((s) => s.name.length));
  const W = L + pw + R, H = T + ph + B;
  const xs = c.series.flatMap((s) => s.points.map((p) => p[0])), ys = c.series.flatMap((s) => s.points.map((p) => p[1]));
  const [x0, x1] = extent(xs);
  let [y0, y1] = c.yRange ?? extent(ys);
  if (!(y1 > y0)) [y0, y1] = [y0 - 1, y1 + 1];
  const xspan = x1 > x0 ? x1 - x0 : 1;
  /** @param {number} v */
  const sx = (v) => L + ((v - x0) / xspan) * pw;
  /** @param {number} v */
  const sy = (v) => T + ph - ((v - y0) / (y1 - y0)) * ph;
  const fmt = c.yFormat ?? ((v) => String(v));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${L + pw / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(c.title)}</text>`,
  ];
  for (const t of ticks(y0, y1, 5)) {
    parts.push(`<line x1="${L}" x2="${L + pw}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${L - 6}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end" font-size="11">${esc(fmt(t))}</text>`);
  }
  for (const t of ticks(x0, x1, Math.min(10, new Set(xs).size - 1 || 1))) {
    parts.push(`<line x1="${sx(t).toFixed(1)}" x2="${sx(t).toFixed(1)}" y1="${T + ph}" y2="${T + ph + 5}" stroke="#444"/>`);
    parts.push(`<text x="${sx(t).toFixed(1)}" y="${T + ph + 18}" text-anchor="middle" font-size="11">${t}</text>`);
  }
  parts.push(`<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  parts.push(`<text x="${L + pw / 2}" y="${H - 12}" text-anchor="middle" font-size="12">${esc(c.xLabel)}</text>`);
  parts.push(`<text transform="translate(16,${T + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(c.yLabel)}</text>`);
  c.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const pts = s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`);
    parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    if (pts.length <= 40) for (const p of pts) parts.push(`<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="3" fill="${color}"/>`);
    const ly = T + 10 + 20 * i;
    parts.push(`<line x1="${L + pw + 14}" x2="${L + pw + 38}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    parts.push(`<text x="${L + pw + 44}" y="${ly + 4}" font-size="12">${esc(s.name)}</text>`);
  });
  parts.push('</svg>\n');
  writeText(file, parts.join('\n'));
  console.log(`wrote ${file}`);
}
