// @ts-check
/**
 * Lesson 7 — 1-D and 3-D data.
 *
 * Convolution is not about images: it slides a kernel along whatever axes the data has.
 *
 * 1-D: sequences of noise carrying one short motif — a rising ramp, a falling ramp, a sine
 * burst or a square pulse — somewhere; the class is the motif. A conv1d net (two layers and a
 * global max pool over time) against an MLP with as many parameters, tested on motifs at random
 * positions and at positions never seen in training (trained in the first half of the
 * sequence, tested in the second): translation invariance again, in time.
 *
 * 3-D: videos of an MNIST digit moving left or right across 8 frames; the class is the
 * direction. Both directions pass through the same positions, so every single frame is equally
 * likely under either class — only the order of the frames tells them apart. A conv3d net whose
 * kernels span 3 frames sees motion; the same net with kernels one frame deep (a 2-D
 * convolution of each frame, then pooling over time) cannot do better than chance.
 *
 *   npm run lesson -- conv1d-conv3d [--quick]
 */
import * as path from 'node:path';
import { nn, randn, tidy, noGrad } from 'blasnet';
import { lesson, mnistArrays, train, accuracy, rng, gauss, table, pct, count, round, saveGrid, saveLineChart, GlobalMaxPool } from './common.mjs';

const F = nn.functional;
const L = 128, MOTIF = 16, MOTIFS = ['rising ramp', 'falling ramp', 'sine burst', 'square pulse'];

/** @param {number} c @param {number} t  the motif of class c at step t of MOTIF */
function motif(c, t) {
  const u = t / (MOTIF - 1);
  return [2 * u - 1, 1 - 2 * u, Math.sin(4 * Math.PI * u), t >= 4 && t < 12 ? 1 : -1][c];
}

/**
 * n sequences of length L: noise (std 0.5) with one motif (amplitude 1) at a position drawn from
 * [lo, hi]; returns the sequences, the labels and the positions.
 * @param {number} n @param {number} lo @param {number} hi @param {number} seed
 */
export function sequences(n, lo, hi, seed) {
  const r = rng(seed), x = new Float32Array(n * L), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(4 * r()), at = lo + Math.floor(r() * (hi - lo + 1));
    y[i] = c;
    for (let t = 0; t < L; t++) x[i * L + t] = 0.5 * gauss(r);
    for (let t = 0; t < MOTIF; t++) x[i * L + at + t] += motif(c, t);
  }
  return { x, y };
}

const T = 8, FH = 16, FW = 32, D = 14, V = 2;

/**
 * Videos [n, 1, T, FH, FW] of 14×14 digits (MNIST halved) moving V pixels a frame, right
 * (label 1) or left (label 0). Right-movers start at x ∈ [0, 4], left-movers at x ∈ [14, 18], so
 * both visit the same positions; the row is jittered by 0–2 pixels.
 * @param {Float32Array} digits  28×28 images @param {number} n @param {number} seed
 */
export function videos(digits, n, seed) {
  const r = rng(seed), x = new Float32Array(n * T * FH * FW), y = new Int32Array(n), travel = V * (T - 1), nd = digits.length / 784;
  const small = new Float32Array(D * D);
  for (let i = 0; i < n; i++) {
    const d = Math.floor(r() * nd);
    for (let a = 0; a < D; a++)
      for (let b = 0; b < D; b++)
        small[a * D + b] = (digits[d * 784 + 2 * a * 28 + 2 * b] + digits[d * 784 + 2 * a * 28 + 2 * b + 1] + digits[d * 784 + (2 * a + 1) * 28 + 2 * b] + digits[d * 784 + (2 * a + 1) * 28 + 2 * b + 1]) / 4;
    const right = r() < 0.5, slack = FW - D - travel, x0 = Math.floor(r() * (slack + 1)), row = Math.floor(r() * (FH - D + 1));
    y[i] = right ? 1 : 0;
    for (let t = 0; t < T; t++) {
      const col = right ? x0 + V * t : x0 + travel - V * t;
      for (let a = 0; a < D; a++) for (let b = 0; b < D; b++) x[((i * T + t) * FH + row + a) * FW + col + b] = small[a * D + b];
    }
  }
  return { x, y };
}

/** The video net; kt = 3 convolves across frames, kt = 1 convolves each frame on its own. @param {number} kt */
export function videoNet(kt) {
  return new nn.Sequential(
    new nn.Conv3d(1, 8, [kt, 5, 5], { padding: [(kt - 1) / 2, 2, 2] }), new nn.ReLU(), new nn.MaxPool3d([1, 2, 2]),
    new nn.Conv3d(8, 16, [kt, 3, 3], { padding: [(kt - 1) / 2, 1, 1] }), new nn.ReLU(), new GlobalMaxPool(),
    new nn.Linear(16, 2),
  );
}

export default lesson(import.meta.url, { name: 'conv1d-conv3d', title: '1-D sequences and 3-D video: what temporal convolution sees' }, (o) => {
  // ---- 1-D
  const nSeq = o.quick ? 1000 : 8000, nSeqTest = o.quick ? 400 : 2000, epochs1 = o.quick ? 5 : 10;
  const anywhere = sequences(nSeq, 0, L - MOTIF, o.seed), test = sequences(nSeqTest, 0, L - MOTIF, o.seed + 1);
  const firstHalf = sequences(nSeq, 0, L / 2 - MOTIF, o.seed + 2), firstHalfTest = sequences(nSeqTest, 0, L / 2 - MOTIF, o.seed + 4);
  const secondHalf = sequences(nSeqTest, L / 2, L - MOTIF, o.seed + 3);
  const convNet = () => new nn.Sequential(
    new nn.Conv1d(1, 16, 9, { padding: 4 }), new nn.ReLU(), new nn.MaxPool1d(2),
    new nn.Conv1d(16, 16, 9, { padding: 4 }), new nn.ReLU(), new GlobalMaxPool(), new nn.Linear(16, 4));
  const mlpNet = () => new nn.Sequential(new nn.Flatten(), new nn.Linear(L, 20), new nn.ReLU(), new nn.Linear(20, 4));
  const seqShape = [1, L];
  const seqRows = [];
  for (const [name, make] of /** @type {const} */ ([['conv1d + global max pool', convNet], ['MLP 128-20-4', mlpNet]])) {
    const a = make(), b = make();
    train(a, anywhere.x, anywhere.y, seqShape, { epochs: epochs1, seed: o.seed, batchSize: 64 });
    train(b, firstHalf.x, firstHalf.y, seqShape, { epochs: epochs1, seed: o.seed, batchSize: 64 });
    seqRows.push({ model: name, params: a.numParameters(), anywhere: accuracy(a, test.x, test.y, seqShape), unseenPositions: accuracy(b, secondHalf.x, secondHalf.y, seqShape), seenPositions: accuracy(b, firstHalfTest.x, firstHalfTest.y, seqShape) });
  }
  console.log(`1-D: ${count(nSeq)} training sequences of length ${L}, a ${MOTIF}-step motif (${MOTIFS.join(', ')}) in noise; ${epochs1} epochs; accuracy on ${count(nSeqTest)} test sequences:`);
  table(['model', 'params', 'motif anywhere', 'trained in 1st half: 1st half', '2nd half (unseen positions)'],
    seqRows.map((r) => [r.model, count(r.params), pct(r.anywhere), pct(r.seenPositions), pct(r.unseenPositions)]));
  saveLineChart(path.join(o.out, 'sequences.svg'), {
    title: 'Four test sequences and their motifs', xLabel: 'time step', yLabel: 'value',
    series: [0, 1, 2, 3].map((c) => {
      const i = test.y.indexOf(c);
      return { name: MOTIFS[c], points: Array.from(test.x.subarray(i * L, (i + 1) * L), (v, t) => /** @type {[number, number]} */ ([t, round(v + 4 * (3 - c), 3)])) };
    }),
  });

  // ---- 3-D
  const nVid = o.quick ? 400 : 4000, nVidTest = o.quick ? 300 : 1000, epochs3 = o.quick ? 3 : 6;
  const tr = mnistArrays('train', o.quick ? 2000 : 20000), te = mnistArrays('test', o.quick ? 1000 : 5000);
  const vTrain = videos(tr.x, nVid, o.seed + 5), vTest = videos(te.x, nVidTest, o.seed + 6);
  const vShape = [1, T, FH, FW];
  const vidRows = [];
  for (const [name, kt] of /** @type {const} */ ([['conv3d, kernels 3 frames deep', 3], ['frame-wise 2-D (kernels 1 frame deep)', 1]])) {
    const net = videoNet(kt), t0 = performance.now();
    train(net, vTrain.x, vTrain.y, vShape, { epochs: epochs3, seed: o.seed, batchSize: 32, label: `kt=${kt}` });
    vidRows.push({ model: name, kernelDepth: kt, params: net.numParameters(), trainAccuracy: accuracy(net, vTrain.x, vTrain.y, vShape), testAccuracy: accuracy(net, vTest.x, vTest.y, vShape), seconds: (performance.now() - t0) / 1000 });
  }
  console.log(`\n3-D: ${count(nVid)} training videos [${vShape.join('×')}] of a digit moving left or right; ${epochs3} epochs; accuracy on ${count(nVidTest)} test videos:`);
  table(['model', 'params', 'train', 'test'], vidRows.map((r) => [r.model, count(r.params), pct(r.trainAccuracy), pct(r.testAccuracy)]));

  // A conv3d whose kernel is one frame deep is a conv2d of every frame.
  const frameDiff = noGrad(() => tidy(() => {
    const v = randn([2, 1, T, FH, FW]), w = randn([4, 1, 1, 5, 5]);
    const a = F.conv3d(v, w, null, { padding: [0, 2, 2] }).data();
    const b = F.conv2d(v.reshape([2 * T, 1, FH, FW]), w.reshape([4, 1, 5, 5]), null, { padding: 2 }).data(); // [2·T, 4, FH, FW]
    let m = 0;
    for (let n = 0; n < 2; n++) for (let t = 0; t < T; t++) for (let c = 0; c < 4; c++) for (let p = 0; p < FH * FW; p++)
      m = Math.max(m, Math.abs(a[((n * 4 + c) * T + t) * FH * FW + p] - b[((n * T + t) * 4 + c) * FH * FW + p]));
    return m;
  }));
  console.log(`conv3d with a 1×5×5 kernel vs conv2d of each frame with the same 5×5 kernel: max |difference| ${frameDiff.toExponential(1)}`);
  // picture: two test videos, one per direction, frame by frame
  const show = [vTest.y.indexOf(1), vTest.y.indexOf(0)];
  saveGrid(path.join(o.out, 'videos.png'), show.map((i) => Array.from({ length: T }, (_, t) => vTest.x.subarray((i * T + t) * FH * FW, (i * T + t + 1) * FH * FW))), FH, FW, { scale: 3, range: [0, 1] });

  return {
    sequences: { length: L, motif: MOTIF, classes: MOTIFS, trainSequences: nSeq, testSequences: nSeqTest, epochs: epochs1, rows: seqRows.map((r) => ({ ...r, anywhere: round(r.anywhere, 4), seenPositions: round(r.seenPositions, 4), unseenPositions: round(r.unseenPositions, 4) })) },
    video: { frames: T, height: FH, width: FW, trainVideos: nVid, testVideos: nVidTest, epochs: epochs3, rows: vidRows.map((r) => ({ ...r, trainAccuracy: round(r.trainAccuracy, 4), testAccuracy: round(r.testAccuracy, 4), seconds: round(r.seconds, 1) })) },
    conv3dDepth1VsConv2dMaxDiff: frameDiff,
  };
});
