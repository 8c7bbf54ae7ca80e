// @ts-check
/**
 * Lesson 5 — hierarchical features.
 *
 * A LeNet trained on MNIST; then, for a few test digits, the maps its first convolution
 * produces (6 channels, 28×28: strokes and edges at each position) and its second (16
 * channels, 10×10: combinations of strokes over a larger area). Each unit of a layer sees a
 * window of the input — its receptive field — that grows with depth: 5×5 pixels for conv1,
 * 14×14 for conv2, the whole digit for the fully connected layers. The lesson computes them
 * from the layers' kernels and strides and checks them with autograd (the gradient of one unit
 * with respect to the input is zero outside its field). Finally, for the conv2 channels with
 * the strongest activations over the test set, it shows the input patches (their receptive
 * fields) that excite each one most: the top-k activations. A channel's top patches look
 * alike — far more alike than random patches — so each channel detects one pattern.
 *
 *   npm run lesson -- features [--quick]
 */
import * as path from 'node:path';
import { models, tensor, tidy, noGrad } from 'blasnet';
import { lesson, mnistArrays, train, accuracy, rng, table, pct, round, saveGrid, Picture } from './common.mjs';

/**
 * Receptive field of each layer of LeNet (kernel k, stride s, padding p per layer): a unit at
 * position u covers input pixels [offset + u·jump, offset + u·jump + size − 1].
 */
export function receptiveFields() {
  const layers = [
    { name: 'conv1 (5×5, padding 2)', k: 5, s: 1, p: 2 },
    { name: 'pool1 (2×2)', k: 2, s: 2, p: 0 },
    { name: 'conv2 (5×5)', k: 5, s: 1, p: 0 },
    { name: 'pool2 (2×2)', k: 2, s: 2, p: 0 },
    { name: 'fc1 (on the 5×5 map)', k: 5, s: 1, p: 0 },
  ];
  let size = 1, jump = 1, offset = 0;
  return layers.map((l) => {
    offset -= l.p * jump;
    size += (l.k - 1) * jump;
    jump *= l.s;
    return { ...l, size, jump, offset };
  });
}

/**
 * The bounding box of the non-zero gradient of one unit of layer `upTo` (an index into LeNet's
 * Sequential) with respect to the input image — where the unit can see.
 * @param {import('blasnet').nn.Sequential} model @param {Float32Array} img @param {number} upTo
 * @param {number} channel @param {number} i @param {number} j
 */
function gradientBox(model, img, upTo, channel, i, j) {
  return tidy(() => {
    const x = tensor(img, [1, 1, 28, 28]).requiresGrad_();
    let h = x;
    for (const layer of model.children().slice(0, upTo + 1)) h = layer.forward(h);
    const [, C, H, W] = h.shape, onehot = new Float32Array(C * H * W);
    onehot[(channel * H + i) * W + j] = 1;
    h.mul(tensor(onehot, [...h.shape])).sum().backward();
    const g = /** @type {import('blasnet').Tensor} */ (x.grad).data();
    let r0 = 28, r1 = -1, c0 = 28, c1 = -1;
    for (let r = 0; r < 28; r++) for (let c = 0; c < 28; c++) if (g[r * 28 + c] !== 0) (r0 = Math.min(r0, r), r1 = Math.max(r1, r), c0 = Math.min(c0, c), c1 = Math.max(c1, c));
    return { rows: [r0, r1], cols: [c0, c1] };
  });
}

/** Pearson correlation of two equal-length arrays. @param {Float32Array} a @param {Float32Array} b */
function corr(a, b) {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) (ma += a[i] / n, mb += b[i] / n);
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < n; i++) (ab += (a[i] - ma) * (b[i] - mb), aa += (a[i] - ma) ** 2, bb += (b[i] - mb) ** 2);
  return aa && bb ? ab / Math.sqrt(aa * bb) : 0;
}
/** Mean correlation over all pairs. @param {Float32Array[]} ps */
function meanPairCorr(ps) {
  let s = 0, n = 0;
  for (let i = 0; i < ps.length; i++) for (let j = i + 1; j < ps.length; j++) (s += corr(ps[i], ps[j]), n++);
  return s / n;
}

export default lesson(import.meta.url, { name: 'features', title: 'hierarchical features: feature maps and the patches that excite conv2' }, (o) => {
  const nTrain = o.quick ? 5000 : 60000, nTest = o.quick ? 1000 : 10000, epochs = 2, K = 8, STRONG = 6;
  const tr = mnistArrays('train', nTrain), te = mnistArrays('test', nTest);
  const model = models.LeNet();
  train(model, tr.x, tr.y, [1, 28, 28], { epochs, seed: o.seed, label: 'lenet' });
  const acc = accuracy(model, te.x, te.y, [1, 28, 28]);
  console.log(`LeNet trained on ${tr.n} images for ${epochs} epochs: ${pct(acc)} on ${te.n} test images`);
  model.eval();
  const layers = model.children();

  // Receptive fields: computed from the layers, then checked with the gradient of one unit.
  const rf = receptiveFields();
  const probe = te.x.subarray(0, 784);
  const g1 = gradientBox(model, probe, 0, 0, 14, 14), g2 = gradientBox(model, probe, 3, 0, 4, 4);
  /** @param {{ offset: number, jump: number, size: number }} f @param {number} u */
  const span = (f, u) => [Math.max(0, f.offset + u * f.jump), Math.min(27, f.offset + u * f.jump + f.size - 1)];
  const within = (/** @type {number[]} */ got, /** @type {number[]} */ want) => got[0] >= want[0] && got[1] <= want[1];
  const checks = [
    { layer: 'conv1', unit: [14, 14], field: span(rf[0], 14), gradient: g1 },
    { layer: 'conv2', unit: [4, 4], field: span(rf[2], 4), gradient: g2 },
  ].map((c) => ({ ...c, inside: within(c.gradient.rows, c.field) && within(c.gradient.cols, c.field) }));
  console.log('\nreceptive field of one unit, from the kernels and strides:');
  table(['layer', 'field (pixels)', 'jump between units'], rf.map((l) => [l.name, `${Math.min(l.size, 28)}×${Math.min(l.size, 28)}`, String(l.jump)]));
  for (const c of checks)
    console.log(`${c.layer} unit (${c.unit.join(', ')}): field rows/cols ${c.field.join('..')}; the input gradient is non-zero over rows ${c.gradient.rows.join('..')}, cols ${c.gradient.cols.join('..')}: ${c.inside ? 'inside' : 'OUTSIDE'}`);
  if (!checks.every((c) => c.inside)) throw new Error('features: an input gradient reaches outside the computed receptive field');

  // Feature maps of a few digits (after ReLU): conv1 6×28×28, conv2 16×10×10.
  const shown = [0, 1, 2, 3].map((d) => te.y.indexOf(d)).filter((i) => i >= 0);
  /** @type {Float32Array[][]} */
  const maps1 = [];
  /** @type {Float32Array[][]} */
  const maps2 = [];
  noGrad(() => tidy(() => {
    for (const i of shown) {
      let h = tensor(te.x.slice(i * 784, (i + 1) * 784), [1, 1, 28, 28]);
      const acts = layers.slice(0, 5).map((l) => (h = l.forward(h)).data());
      maps1.push([te.x.slice(i * 784, (i + 1) * 784), ...Array.from({ length: 6 }, (_, c) => acts[1].slice(c * 784, (c + 1) * 784))]);
      maps2.push(Array.from({ length: 16 }, (_, c) => acts[4].slice(c * 100, (c + 1) * 100)));
    }
  }));
  saveGrid(path.join(o.out, 'conv1-maps.png'), maps1, 28, 28, { scale: 3 });
  saveGrid(path.join(o.out, 'conv2-maps.png'), maps2, 10, 10, { scale: 6 });
  const w1 = /** @type {import('blasnet').Tensor} */ (layers[0].parameters()[0]).data();
  saveGrid(path.join(o.out, 'conv1-kernels.png'), [Array.from({ length: 6 }, (_, c) => w1.slice(c * 25, (c + 1) * 25))], 5, 5, { scale: 12, cmap: 'diverging', symmetric: true });

  // conv2 (after ReLU) over the test images: each channel's mean activation and, per image, its
  // strongest position.
  const n = te.n, best = new Float32Array(n * 16), where = new Int32Array(n * 16), mean = new Float64Array(16);
  noGrad(() => {
    for (let b = 0; b < n; b += 500) {
      const m = Math.min(500, n - b);
      tidy(() => {
        let h = tensor(te.x.subarray(b * 784, (b + m) * 784), [m, 1, 28, 28]);
        for (const l of layers.slice(0, 5)) h = l.forward(h);
        const a = h.data(); // [m, 16, 10, 10]
        for (let i = 0; i < m; i++)
          for (let c = 0; c < 16; c++) {
            let v = -Infinity, at = 0;
            for (let p = 0; p < 100; p++) {
              const x = a[(i * 16 + c) * 100 + p];
              mean[c] += x / (n * 100);
              if (x > v) (v = x, at = p);
            }
            best[(b + i) * 16 + c] = v;
            where[(b + i) * 16 + c] = at;
          }
      });
    }
  });
  /** The 14×14 input patch a conv2 unit sees (zeros beyond the image). @param {number} img @param {number} pos */
  const patch = (img, pos) => {
    const out = new Float32Array(14 * 14), r0 = rf[2].offset + Math.floor(pos / 10) * rf[2].jump, c0 = rf[2].offset + (pos % 10) * rf[2].jump;
    for (let r = 0; r < 14; r++) for (let c = 0; c < 14; c++) {
      const y = r0 + r, x = c0 + c;
      if (y >= 0 && y < 28 && x >= 0 && x < 28) out[r * 14 + c] = te.x[img * 784 + y * 28 + x];
    }
    return out;
  };
  const strongest = Array.from({ length: 16 }, (_, c) => c).sort((a, b) => mean[b] - mean[a]).slice(0, STRONG);
  const rows = strongest.map((c) => {
    const imgs = Array.from({ length: n }, (_, i) => i).sort((a, b) => best[b * 16 + c] - best[a * 16 + c]).slice(0, K);
    const patches = imgs.map((i) => patch(i, where[i * 16 + c]));
    return { channel: c, meanActivation: mean[c], top: imgs.map((i) => ({ image: i, label: te.y[i], value: best[i * 16 + c], position: [Math.floor(where[i * 16 + c] / 10), where[i * 16 + c] % 10] })), patches, similarity: meanPairCorr(patches) };
  });
  // the baseline: patches at the same positions in other images, chosen without regard to the channel
  const next = rng(o.seed + 1);
  const baseline = rows.map((r) => meanPairCorr(r.top.map((t) => patch(Math.floor(next() * n), t.position[0] * 10 + t.position[1]))));
  console.log(`\nthe ${STRONG} conv2 channels with the largest mean activation, their top ${K} test images, and how alike the top patches are`);
  console.log('(mean pairwise correlation of the 14×14 receptive fields; baseline: random images at the same positions):');
  table(['channel', 'mean act.', 'top activations', 'labels of the top images', 'top-k similarity', 'baseline'],
    rows.map((r, i) => [String(r.channel), r.meanActivation.toFixed(3), r.top.map((t) => t.value.toFixed(1)).slice(0, 4).join(' ') + ' …', r.top.map((t) => t.label).join(' '), r.similarity.toFixed(3), baseline[i].toFixed(3)]));
  // picture: per channel, its top-k patches and then their mean
  const pic = new Picture(2 + (K + 1) * (14 * 4 + 2) + 4, 2 + STRONG * (14 * 4 + 2));
  rows.forEach((r, i) => {
    r.patches.forEach((p, j) => pic.draw(2 + j * 58, 2 + i * 58, p, 14, 14, { scale: 4, range: [0, 1] }));
    const avg = new Float32Array(196);
    for (const p of r.patches) for (let k = 0; k < 196; k++) avg[k] += p[k] / K;
    pic.draw(6 + K * 58, 2 + i * 58, avg, 14, 14, { scale: 4, cmap: 'heat' });
  });
  pic.save(path.join(o.out, 'conv2-top-patches.png'));

  return {
    trainImages: tr.n, testImages: te.n, epochs, accuracy: round(acc, 4),
    receptiveFields: rf.map((l) => ({ layer: l.name, size: Math.min(l.size, 28), jump: l.jump })),
    gradientChecks: checks,
    topK: K,
    strongest: rows.map((r, i) => ({ channel: r.channel, meanActivation: round(r.meanActivation, 4), top: r.top.map((t) => ({ ...t, value: round(t.value, 3) })), similarity: round(r.similarity, 4), baseline: round(baseline[i], 4) })),
  };
});
