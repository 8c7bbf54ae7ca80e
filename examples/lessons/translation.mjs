// @ts-check
/**
 * Lesson 1 — why not an MLP: translation invariance.
 *
 * Three models with the same budget (≈ 62k parameters, the same images, epochs
 * and optimizer), all trained on centred MNIST digits:
 *   - an MLP on the flattened pixels (784 → 78 → 10: 62,020 parameters);
 *   - LeNet-5 (61,706): convolutions and pooling, then fully connected layers on a 5×5 map;
 *   - the same LeNet made fully convolutional: its 400 → 120 layer becomes a 16 → 120 5×5
 *     convolution (the same 48,120 weights) slid over the whole map, then a global max pool
 *     (61,706 parameters, and it accepts any image size).
 * Each is tested on digits shifted by 0…8 pixels (a seeded random direction per image), and on
 * digits placed anywhere on a 40×40 canvas. The notes' claim: the MLP learns a template per
 * position and fails off-centre; convolution shares its weights across positions, so what it
 * learned at the centre it finds anywhere — once pooling over positions lets it.
 *
 *   npm run lesson -- translation [--quick]
 */
import * as path from 'node:path';
import { nn, models } from 'blasnet';
import { lesson, mnistArrays, train, accuracy, rng, table, pct, count, round, saveLineChart, saveGrid, GlobalMaxPool } from './common.mjs';

const SHIFTS = [0, 1, 2, 3, 4, 5, 6, 7, 8];
const CANVAS = 40;

/** LeNet with its first fully connected layer as a convolution and a global max pool: any input size. */
export function fullyConvolutionalLeNet() {
  return new nn.Sequential(
    new nn.Conv2d(1, 6, 5, { padding: 2 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(6, 16, 5, { padding: 2 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(16, 120, 5, { padding: 2 }), new nn.ReLU(), new GlobalMaxPool(),
    new nn.Linear(120, 84), new nn.ReLU(),
    new nn.Linear(84, 10),
  );
}

/** @param {number} inputs @param {number} hidden */
export const mlp = (inputs, hidden) => new nn.Sequential(new nn.Flatten(), new nn.Linear(inputs, hidden), new nn.ReLU(), new nn.Linear(hidden, 10));

/**
 * Each 28×28 image moved by `s` pixels right, left, down or up (chosen per image), zero-filled.
 * @param {Float32Array} x @param {number} s @param {number} seed
 */
export function shiftImages(x, s, seed) {
  const n = x.length / 784, out = new Float32Array(x.length), r = rng(seed);
  for (let i = 0; i < n; i++) {
    const d = Math.floor(4 * r());
    const dx = [s, -s, 0, 0][d], dy = [0, 0, s, -s][d];
    for (let y = Math.max(0, dy); y < Math.min(28, 28 + dy); y++)
      for (let xx = Math.max(0, dx); xx < Math.min(28, 28 + dx); xx++) out[i * 784 + y * 28 + xx] = x[i * 784 + (y - dy) * 28 + xx - dx];
  }
  return out;
}

/**
 * Each 28×28 image pasted on a size×size black canvas, centred or at a seeded random position.
 * @param {Float32Array} x @param {number} size @param {number | null} seed  null: centred
 */
export function onCanvas(x, size, seed) {
  const n = x.length / 784, out = new Float32Array(n * size * size), r = seed === null ? null : rng(seed), room = size - 28;
  for (let i = 0; i < n; i++) {
    const ox = r ? Math.floor(r() * (room + 1)) : room / 2, oy = r ? Math.floor(r() * (room + 1)) : room / 2;
    for (let y = 0; y < 28; y++) out.set(x.subarray(i * 784 + y * 28, i * 784 + y * 28 + 28), i * size * size + (oy + y) * size + ox);
  }
  return out;
}

/**
 * Area-resamples size×size images to 28×28 (what a fixed-input model needs).
 * @param {Float32Array} x @param {number} size
 */
export function resizeTo28(x, size) {
  const n = x.length / (size * size), out = new Float32Array(n * 784), f = size / 28;
  for (let i = 0; i < n; i++)
    for (let oy = 0; oy < 28; oy++)
      for (let ox = 0; ox < 28; ox++) {
        // exact area coverage of output pixel (ox, oy) over the input grid
        let s = 0;
        for (let y = Math.floor(oy * f); y < Math.ceil((oy + 1) * f); y++) {
          const wy = Math.min(y + 1, (oy + 1) * f) - Math.max(y, oy * f);
          for (let xx = Math.floor(ox * f); xx < Math.ceil((ox + 1) * f); xx++) {
            const wx = Math.min(xx + 1, (ox + 1) * f) - Math.max(xx, ox * f);
            s += wy * wx * x[i * size * size + y * size + xx];
          }
        }
        out[i * 784 + oy * 28 + ox] = s / (f * f);
      }
  return out;
}

export default lesson(import.meta.url, { name: 'translation', title: 'why not an MLP: translation invariance' }, (o) => {
  const nTrain = o.quick ? 5000 : 60000, nTest = o.quick ? 1000 : 10000, epochs = o.quick ? 2 : 3;
  const tr = mnistArrays('train', nTrain), te = mnistArrays('test', nTest);
  console.log(`${count(tr.n)} training images (centred), ${count(te.n)} test images, ${epochs} epochs of Adam for every model`);

  const mlp28 = mlp(784, 78), lenet = models.LeNet(), fcn = fullyConvolutionalLeNet();
  const contenders = [
    { key: 'mlp', name: 'MLP 784-78-10', model: mlp28 },
    { key: 'lenet', name: 'LeNet-5', model: lenet },
    { key: 'fcn', name: 'LeNet, fully conv. + global max pool', model: fcn },
  ];
  const shape28 = [1, 28, 28];
  for (const c of contenders) train(c.model, tr.x, tr.y, shape28, { epochs, seed: o.seed, label: c.key });

  // Accuracy against shift.
  /** @type {Record<string, number[]>} */
  const curve = { mlp: [], lenet: [], fcn: [] };
  const show = [0, 1, 2, 3], examples = show.map(() => /** @type {Float32Array[]} */ ([]));
  for (const s of SHIFTS) {
    const xs = shiftImages(te.x, s, o.seed + 1);
    show.forEach((i, j) => examples[j].push(xs.slice(i * 784, (i + 1) * 784)));
    for (const c of contenders) curve[c.key].push(accuracy(c.model, xs, te.y, shape28));
  }
  console.log('\naccuracy on test digits shifted by s pixels:');
  table(['model', 'params', ...SHIFTS.map((s) => `s=${s}`)], contenders.map((c) => [c.name, count(c.model.numParameters()), ...curve[c.key].map(pct)]));

  // Digits anywhere on a 40×40 canvas. The MLP needs its own 1600-input version, trained on the
  // digits centred on the canvas, and so does the fully convolutional LeNet for a fair match (its
  // 28×28 weights also run on the canvas unchanged); LeNet-5's flatten fixes its input at 28×28,
  // so it sees the canvas resized.
  const nCanvas = o.quick ? 3000 : tr.n, shape40 = [1, CANVAS, CANVAS];
  const trainCanvas = onCanvas(tr.x.subarray(0, nCanvas * 784), CANVAS, null), canvasLabels = tr.y.subarray(0, nCanvas);
  const mlp40 = mlp(CANVAS * CANVAS, 38), fcn40 = fullyConvolutionalLeNet();
  train(mlp40, trainCanvas, canvasLabels, shape40, { epochs, seed: o.seed, label: 'mlp40' });
  train(fcn40, trainCanvas, canvasLabels, shape40, { epochs, seed: o.seed, label: 'fcn40' });
  const centred = onCanvas(te.x, CANVAS, null), anywhere = onCanvas(te.x, CANVAS, o.seed + 2);
  const canvasRows = [
    { key: 'mlp', name: `MLP 1600-38-10 (trained on the centred canvas)`, params: mlp40.numParameters(),
      centred: accuracy(mlp40, centred, te.y, shape40), anywhere: accuracy(mlp40, anywhere, te.y, shape40) },
    { key: 'lenet', name: 'LeNet-5 on the canvas resized to 28×28', params: lenet.numParameters(),
      centred: accuracy(lenet, resizeTo28(centred, CANVAS), te.y, shape28), anywhere: accuracy(lenet, resizeTo28(anywhere, CANVAS), te.y, shape28) },
    { key: 'fcn40', name: 'LeNet, fully conv. (trained on the centred canvas)', params: fcn40.numParameters(),
      centred: accuracy(fcn40, centred, te.y, shape40), anywhere: accuracy(fcn40, anywhere, te.y, shape40) },
    { key: 'fcn', name: 'LeNet, fully conv. (the 28×28 weights as they are)', params: fcn.numParameters(),
      centred: accuracy(fcn, centred, te.y, shape40), anywhere: accuracy(fcn, anywhere, te.y, shape40) },
  ];
  console.log(`\naccuracy on a ${CANVAS}×${CANVAS} canvas (${count(nCanvas)} training images, centred), the test digit centred or anywhere:`);
  table(['model', 'params', 'centred', 'anywhere'], canvasRows.map((r) => [r.name, count(r.params), pct(r.centred), pct(r.anywhere)]));

  saveLineChart(path.join(o.out, 'accuracy-vs-shift.svg'), {
    title: 'Accuracy on shifted MNIST test digits (trained centred)',
    xLabel: 'shift (pixels)', yLabel: 'test accuracy (%)', yRange: [0, 100],
    series: contenders.map((c) => ({ name: c.key === 'fcn' ? 'LeNet, global max pool' : c.name, points: SHIFTS.map((s, i) => /** @type {[number, number]} */ ([s, 100 * curve[c.key][i]])) })),
  });
  saveGrid(path.join(o.out, 'shifted-digits.png'), examples, 28, 28, { scale: 2, range: [0, 1] });
  saveGrid(path.join(o.out, 'canvas-digits.png'), [show.map((i) => anywhere.subarray(i * 1600, (i + 1) * 1600))], CANVAS, CANVAS, { scale: 2, range: [0, 1] });

  const at = (/** @type {string} */ k, /** @type {number} */ s) => round(curve[k][SHIFTS.indexOf(s)], 4);
  return {
    trainImages: tr.n, testImages: te.n, epochs,
    params: Object.fromEntries(contenders.map((c) => [c.key, c.model.numParameters()])),
    shifts: SHIFTS,
    accuracyVsShift: Object.fromEntries(Object.entries(curve).map(([k, v]) => [k, v.map((a) => round(a, 4))])),
    gapAt6: { fcnMinusMlp: round(at('fcn', 6) - at('mlp', 6), 4), lenetMinusMlp: round(at('lenet', 6) - at('mlp', 6), 4) },
    canvas: { size: CANVAS, trainImages: nCanvas, rows: canvasRows.map((r) => ({ ...r, centred: round(r.centred, 4), anywhere: round(r.anywhere, 4) })) },
  };
});
