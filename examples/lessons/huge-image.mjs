// @ts-check
/**
 * Lesson 8 — stride on huge images.
 *
 * A 10,000 × 10,000 synthetic "satellite" image (one panchromatic band: fields in parcels,
 * a river, a lake, roads and a town, drawn here) goes through a strided pipeline:
 *
 *   conv2d 1 → 8, 5×5, stride 4, padding 2   [1, 1, 10000, 10000] → [1, 8, 2500, 2500]
 *   ReLU, max pool 4×4                        → [1, 8, 625, 625]
 *   conv2d 8 → 4, 3×3, stride 2, padding 1    → [1, 4, 313, 313]
 *
 * with hand-made filters (brightness, edges in four directions, darkness), so the output is a
 * map one can read: a false-colour picture of edges (roads, parcel borders), brightness and
 * water, written as a PNG next to a downsampled copy of the input. Each stage prints its output
 * shape (checked against the output-size rule), its time, and the process memory: the resident
 * set before it and its peak while it ran (sampled every 2 ms from a worker thread, since the
 * convolution blocks the main thread). A stride-s convolution is the dense one sampled every
 * s pixels — checked on a crop — for s² less work and s² less output: at stride 1 the first
 * layer alone would write 3.2 GB.
 *
 *   npm run lesson -- huge-image [--quick]     (--quick: a 2,000 × 2,000 image)
 */
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { Worker } from 'node:worker_threads';
import { nn, tensor, tidy, noGrad, memoryInfo } from 'blasnet';
import { lesson, rng, table, round, Picture } from './common.mjs';

const F = nn.functional;
const MB = 2 ** 20;

/**
 * The synthetic image, size × size in [0, 1], as a Float32Array (row-major).
 * @param {number} size @param {number} seed
 */
export function drawSatellite(size, seed) {
  const r = rng(seed), img = new Float32Array(size * size), u = size / 10000; // u: scale of the 10k design
  // Parcels: columns of random widths, each cut into random heights; each parcel a brightness and
  // a ploughing direction (stripes every 8–16 pixels).
  const cols = [];
  for (let x = 0; x < size;) {
    const w = Math.max(8, Math.round((300 + 400 * r()) * u)), rows = [];
    for (let y = 0; y < size;) {
      const h = Math.max(8, Math.round((200 + 600 * r()) * u));
      rows.push({ end: Math.min(size, y + h), base: 0.32 + 0.36 * r(), stripes: r() < 0.5 ? 0 : 1, period: 8 + 2 * Math.floor(4 * r()) });
      y += h;
    }
    cols.push({ x0: x, x1: Math.min(size, x + w), rows, at: 0 });
    x += w;
  }
  let h = seed >>> 0;
  const noise = () => ((h = (Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 4294967296 - 0.5) * 0.06;
  for (let y = 0; y < size; y++)
    for (const c of cols) {
      while (c.rows[c.at].end <= y) c.at++;
      const p = c.rows[c.at], o = y * size;
      for (let x = c.x0; x < c.x1; x++) img[o + x] = p.base + ((p.stripes ? x : y) % p.period < 2 ? -0.06 : 0) + noise();
    }
  // A town: buildings on a 40-pixel grid (60% of the cells), bright roofs on darker streets.
  const town = { x0: 0.6 * size, x1: 0.85 * size, y0: 0.15 * size, y1: 0.4 * size }, cell = Math.max(4, Math.round(40 * u));
  for (let y = Math.floor(town.y0); y < town.y1; y++)
    for (let x = Math.floor(town.x0); x < town.x1; x++) {
      const cx = Math.floor(x / cell), cy = Math.floor(y / cell), inside = x % cell > cell / 5 && y % cell > cell / 5;
      const built = ((Math.imul(cx, 73856093) ^ Math.imul(cy, 19349663)) >>> 0) % 10 < 6;
      img[y * size + x] = inside && built ? 0.82 + noise() : 0.42 + noise();
    }
  // A river (a sum of two sines) and a lake: dark water.
  for (let y = 0; y < size; y++) {
    const c = size * (0.3 + 0.08 * Math.sin((2 * Math.PI * y) / (0.45 * size)) + 0.03 * Math.sin((2 * Math.PI * y) / (0.13 * size)));
    const w = (60 + 30 * Math.sin((2 * Math.PI * y) / (0.3 * size))) * u;
    for (let x = Math.max(0, Math.floor(c - w)); x < Math.min(size, c + w); x++) img[y * size + x] = 0.1 + noise() / 3;
    const ly = (y - 0.75 * size) / (0.1 * size);
    if (Math.abs(ly) < 1) {
      const half = 0.16 * size * Math.sqrt(1 - ly * ly);
      for (let x = Math.floor(0.65 * size - half); x < 0.65 * size + half; x++) img[y * size + x] = 0.12 + noise() / 3;
    }
  }
  // Roads: straight lines, 12 pixels wide, at random angles.
  for (let k = 0; k < 7; k++) {
    const steep = k % 2 === 0, a = r() * size, slope = (r() - 0.5) * 0.8, half = Math.max(1, 6 * u);
    for (let t = 0; t < size; t++) {
      const c = a + slope * (t - size / 2);
      for (let d = Math.floor(c - half); d < c + half; d++) {
        if (d < 0 || d >= size) continue;
        img[steep ? t * size + d : d * size + t] = 0.88 + noise() / 2;
      }
    }
  }
  return img;
}

/**
 * The first layer's 8 filters (5×5) and biases: brightness, edges at 0°, 90°, 45° and 135°,
 * spots (a Laplacian), water (0.25 − brightness: positive only where darker than 0.25, so it
 * survives the ReLU) and edges at 180°.
 */
export function satelliteFilters() {
  const box = Array.from({ length: 5 }, () => new Array(5).fill(1 / 25));
  const grad = (/** @type {number} */ dx, /** @type {number} */ dy) => Array.from({ length: 5 }, (_, i) => Array.from({ length: 5 }, (_, j) => ((j - 2) * dx + (i - 2) * dy) / 10));
  const lap = Array.from({ length: 5 }, (_, i) => Array.from({ length: 5 }, (_, j) => (i === 2 && j === 2 ? 24 / 25 : -1 / 25)));
  const dark = box.map((row) => row.map((v) => -v));
  const k = [box, grad(1, 0), grad(0, 1), grad(1, 1), grad(1, -1), lap, dark, grad(-1, 0)];
  return { weight: tensor(k.map((f) => [f]), [8, 1, 5, 5]), bias: tensor([0, 0, 0, 0, 0, 0, 0.25, 0]) };
}

/** A worker that samples the process's resident set every 2 ms; `peak(since)` reads the highest. */
function memorySampler() {
  const shared = new Float64Array(new SharedArrayBuffer(16)); // [0] peak RSS, [1] stop
  const worker = new Worker(
    `const { workerData: a } = require('node:worker_threads');
     const tick = new Int32Array(new SharedArrayBuffer(4));
     while (a[1] === 0) { const r = process.memoryUsage.rss(); if (r > a[0]) a[0] = r; Atomics.wait(tick, 0, 0, 2); }`,
    { eval: true, workerData: shared },
  );
  return {
    reset() { shared[0] = process.memoryUsage.rss(); },
    peak() { return Math.max(shared[0], process.memoryUsage.rss()); },
    async stop() { shared[1] = 1; await worker.terminate(); },
  };
}

/** Frees unreachable JS buffers now (the generated image's copy), so memory figures are the tensors'. */
async function collectGarbage() {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  gc();
  await new Promise((r) => setTimeout(r, 200)); // V8 frees array buffers' memory on a background sweep
  gc();
}

/**
 * Area-averages a [C, H, W] array into [C, h, w] (the picture's size).
 * @param {Float32Array} a @param {number} C @param {number} H @param {number} W @param {number} out
 */
function shrink(a, C, H, W, out) {
  const res = new Float32Array(C * out * out), cnt = new Float32Array(out * out);
  for (let y = 0; y < H; y++) {
    const oy = Math.floor((y * out) / H);
    for (let x = 0; x < W; x++) {
      const ox = Math.floor((x * out) / W);
      for (let c = 0; c < C; c++) res[(c * out + oy) * out + ox] += a[(c * H + y) * W + x];
      cnt[oy * out + ox]++;
    }
  }
  for (let c = 0; c < C; c++) for (let i = 0; i < out * out; i++) res[c * out * out + i] /= cnt[i];
  return res;
}

export default lesson(import.meta.url, { name: 'huge-image', title: 'stride on a 10,000 × 10,000 image: memory and time' }, async (o) => {
  const size = o.quick ? 2000 : 10000, picture = o.quick ? 250 : 320;
  const mem = memorySampler();
  try {
    const rss0 = process.memoryUsage.rss();
    let t0 = performance.now();
    let pixels = drawSatellite(size, o.seed);
    const drawSeconds = (performance.now() - t0) / 1000;
    const thumb = shrink(pixels, 1, size, size, picture);
    const x = tensor(pixels, [1, 1, size, size]);
    pixels = new Float32Array(0); // drop the JS copy: the tensor has its own
    await collectGarbage();
    console.log(`drew a ${size.toLocaleString('en-US')} × ${size.toLocaleString('en-US')} image in ${drawSeconds.toFixed(1)} s; as a tensor: ${(x.numel * 4 / MB).toFixed(0)} MB`);

    const { weight: w1, bias: b1 } = satelliteFilters(), w2 = tensor(Array.from({ length: 4 * 8 * 9 }, (_, i) => Math.sin(i * 1.7) / 9), [4, 8, 3, 3]);
    /** @type {{ stage: string, shape: number[], rule: number[] | null, seconds: number, outMB: number, rssBeforeMB: number, peakMB: number }[]} */
    const stages = [];
    /** @param {string} stage @param {number[] | null} rule @param {() => import('blasnet').Tensor} fn */
    const run = (stage, rule, fn) => {
      const before = process.memoryUsage.rss();
      mem.reset();
      const t = performance.now();
      const y = noGrad(fn);
      const seconds = (performance.now() - t) / 1000;
      stages.push({ stage, shape: y.shape.slice(), rule, seconds, outMB: (y.numel * 4) / MB, rssBeforeMB: before / MB, peakMB: mem.peak() / MB });
      return y;
    };
    const c1 = run('conv2d 1→8, 5×5, stride 4, pad 2', F.convOutputShape(x.shape, w1.shape, { stride: 4, padding: 2 }), () => F.conv2d(x, w1, b1, { stride: 4, padding: 2 }));
    const r1 = run('relu', c1.shape.slice(), () => F.relu(c1));
    c1.dispose();
    const p1 = run('max pool 4×4', [1, 8, ...r1.shape.slice(2).map((n) => F.poolOutSize(n, 4, 4, 0, false))], () => F.maxPool2d(r1, { kernelSize: 4 }));
    r1.dispose();
    const c2 = run('conv2d 8→4, 3×3, stride 2, pad 1', F.convOutputShape(p1.shape, w2.shape, { stride: 2, padding: 1 }), () => F.conv2d(p1, w2, null, { stride: 2, padding: 1 }));
    const totalSeconds = stages.reduce((a, s) => a + s.seconds, 0);
    console.log('\nthe pipeline (memory: the process resident set before each stage, and its peak while the stage ran):');
    table(['stage', 'output shape', 'rule agrees', 'seconds', 'output MB', 'RSS before MB', 'peak MB', 'stage peak − before'],
      stages.map((s) => [s.stage, `[${s.shape.join(', ')}]`, s.rule ? (s.rule.join() === s.shape.join() ? 'yes' : 'NO') : '-', s.seconds.toFixed(2), s.outMB.toFixed(1), s.rssBeforeMB.toFixed(0), s.peakMB.toFixed(0), `${(s.peakMB - s.rssBeforeMB).toFixed(0)} MB`]));
    if (stages.some((s) => s.rule && s.rule.join() !== s.shape.join())) throw new Error('huge-image: a stage disagrees with the output-size rule');
    const peakMB = Math.max(...stages.map((s) => s.peakMB));
    const inputMB = (x.numel * 4) / MB, firstOutMB = stages[0].outMB;
    const im2colMB = (1 * 25 * c1.numel / 8 * 4) / MB; // [Cin·k·k, OH·OW] floats of one image's lowering
    console.log(`total ${totalSeconds.toFixed(2)} s; peak RSS ${peakMB.toFixed(0)} MB (process at start ${(rss0 / MB).toFixed(0)} MB); input ${inputMB.toFixed(0)} MB, first output ${firstOutMB.toFixed(0)} MB;`);
    console.log(`an unbounded im2col of the first layer would be ${im2colMB.toFixed(0)} MB; blasnet's live tensors now ${(memoryInfo().liveBytes / MB).toFixed(0)} MB`);
    const dense = F.convOutputShape(x.shape, w1.shape, { padding: 2 });
    const denseMB = (dense.reduce((a, b) => a * b, 1) * 4) / MB;
    console.log(`at stride 1 the first layer's output alone would be [${dense.join(', ')}]: ${(denseMB / 1024).toFixed(1)} GB (stride 4: ${(denseMB / firstOutMB).toFixed(0)}× smaller)`);

    // stride s = the dense convolution sampled every s pixels (checked on a 512 × 512 crop)
    const crop = 512, strideCheck = tidy(() => {
      const full = x.data(), part = new Float32Array(crop * crop);
      for (let y = 0; y < crop; y++) part.set(full.subarray(y * size, y * size + crop), y * crop);
      const xc = tensor(part, [1, 1, crop, crop]);
      const strided = F.conv2d(xc, w1, b1, { stride: 4, padding: 2 }).data(), denseOut = F.conv2d(xc, w1, b1, { padding: 2 }).data();
      const n = crop / 4;
      let m = 0;
      for (let c = 0; c < 8; c++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++)
        m = Math.max(m, Math.abs(strided[(c * n + i) * n + j] - denseOut[(c * crop + 4 * i) * crop + 4 * j]));
      return m;
    });
    console.log(`stride 4 vs the dense convolution sampled every 4th pixel, on a ${crop} × ${crop} crop: max |difference| ${strideCheck.toExponential(1)}`);

    // pictures: the input, downsampled; and a false-colour map from the pooled layer:
    // red = edge strength (|0°| + |90°| + |45°| + |135°|), green = brightness, blue = darkness (water)
    const pooled = p1.data(), P = p1.shape[2], small = shrink(pooled, 8, P, P, picture);
    const pic = new Picture(picture * 2 + 6, picture + 4);
    pic.draw(2, 2, thumb, picture, picture, { range: [0, 1] });
    const k = picture * picture, rgb = [new Float32Array(k), new Float32Array(k), new Float32Array(k)];
    for (let i = 0; i < k; i++) {
      rgb[0][i] = small[k + i] + small[2 * k + i] + small[3 * k + i] + small[4 * k + i] + small[7 * k + i];
      rgb[1][i] = small[i];
      rgb[2][i] = small[6 * k + i];
    }
    // contrast per channel from its distribution: most pixels have no edge, so red starts at the median
    const ranges = rgb.map((ch, c) => { const s = Float32Array.from(ch).sort(); return c === 0 ? [s[Math.floor(0.5 * k)], s[Math.floor(0.995 * k)]] : [s[Math.floor(0.02 * k)], s[Math.floor(0.98 * k)]]; });
    const { data: px, width } = pic.png;
    for (let y = 0; y < picture; y++)
      for (let xx = 0; xx < picture; xx++)
        for (let c = 0; c < 3; c++) {
          const [lo, hi] = ranges[c], v = (rgb[c][y * picture + xx] - lo) / (hi - lo || 1);
          px[4 * ((y + 2) * width + picture + 4 + xx) + c] = 8 * Math.round(31 * Math.min(1, Math.max(0, v))); // 32 levels: compresses
        }
    pic.save(path.join(o.out, 'satellite.png'));
    for (const t of [x, p1, c2, w1, b1, w2]) t.dispose();

    return {
      size, drawSeconds: round(drawSeconds, 2), inputMB: round(inputMB, 1), picture,
      stages: stages.map((s) => ({ ...s, seconds: round(s.seconds, 3), outMB: round(s.outMB, 2), rssBeforeMB: round(s.rssBeforeMB, 1), peakMB: round(s.peakMB, 1) })),
      totalSeconds: round(totalSeconds, 3), peakMB: round(peakMB, 1), startMB: round(rss0 / MB, 1),
      firstLayerIm2colMB: round(im2colMB, 1), denseFirstLayerShape: dense, denseFirstLayerMB: round(denseMB, 1),
      strideVsDenseMaxDiff: strideCheck,
    };
  } finally {
    await mem.stop();
  }
});
