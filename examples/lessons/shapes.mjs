// @ts-check
/**
 * Lesson 3 — shapes: padding, stride, channels.
 *
 * The output-size rule, along each spatial dim of width w with kernel k, total padding p and
 * stride s:    n = ⌊(w + p − k + s) / s⌋    (with dilation d, k becomes d·(k − 1) + 1).
 * So p = k − 1 keeps the size at stride 1; for an even k that p is odd and is split ⌈p/2⌉
 * top/left and ⌊p/2⌋ bottom/right. Channels: a kernel [Cout, Cin, k, k] maps Cin channels to
 * Cout, each output channel summing over all the inputs; a 1×1 convolution does only that, per
 * pixel — a channel expander or reducer.
 *
 * Every row of the table is computed three ways — the rule written out here, blasnet's
 * nn.functional.convOutputShape, and the shape of a real convolution's output — and the lesson
 * fails if any disagree.
 *
 *   npm run lesson -- shapes
 */
import { nn, randn, tidy, noGrad } from 'blasnet';
import { lesson, table, count } from './common.mjs';

const F = nn.functional;

/**
 * The rule, on its own: total padding per dim, n = ⌊(w + p − k_eff + s)/s⌋.
 * @param {number} w @param {number} k @param {number} p @param {number} s @param {number} [d]
 */
export const outSize = (w, k, p, s, d = 1) => Math.floor((w + p - (d * (k - 1) + 1) + s) / s);

/**
 * @typedef {{ name: string, x: number[], w: number[], opts: Record<string, any>, pads: number[], note?: string }} Case
 *   pads: the total padding of each spatial dim, as the rule takes it
 */

/** @returns {Case[]} */
function cases() {
  return [
    { name: 'k 5, no padding: loses k − 1', x: [1, 1, 28, 28], w: [1, 1, 5, 5], opts: {}, pads: [0, 0] },
    { name: 'k 5, p = k − 1 = 4 keeps the size', x: [1, 1, 28, 28], w: [1, 1, 5, 5], opts: { padding: 2 }, pads: [4, 4] },
    { name: 'even k 4: p 3 = 2 top/left + 1 bottom/right', x: [1, 1, 28, 28], w: [1, 1, 4, 4], opts: { padding: [2, 1, 2, 1] }, pads: [3, 3] },
    { name: "even k 4, 'same': 1 + 2 (PyTorch's split)", x: [1, 1, 28, 28], w: [1, 1, 4, 4], opts: { padding: 'same' }, pads: [3, 3] },
    { name: 'k 3, p 2, stride 2 halves', x: [1, 1, 28, 28], w: [1, 1, 3, 3], opts: { padding: 1, stride: 2 }, pads: [2, 2] },
    { name: 'k 5, stride 3', x: [1, 1, 28, 28], w: [1, 1, 5, 5], opts: { stride: 3 }, pads: [0, 0] },
    { name: 'k 3, p 2, stride [2, 1]', x: [1, 1, 32, 20], w: [1, 1, 3, 3], opts: { padding: 1, stride: [2, 1] }, pads: [2, 2] },
    { name: 'k 3, dilation 2: spans 5', x: [1, 1, 28, 28], w: [1, 1, 3, 3], opts: { dilation: 2 }, pads: [0, 0] },
    { name: 'RGB in, 4 channels out', x: [1, 3, 28, 28], w: [4, 3, 3, 3], opts: { padding: 1 }, pads: [2, 2] },
    { name: '1×1 expander: 4 → 16', x: [1, 4, 28, 28], w: [16, 4, 1, 1], opts: {}, pads: [0, 0] },
    { name: '1×1 reducer: 16 → 2', x: [1, 16, 28, 28], w: [2, 16, 1, 1], opts: {}, pads: [0, 0] },
    { name: 'LeNet conv2: 6 → 16', x: [1, 6, 14, 14], w: [16, 6, 5, 5], opts: {}, pads: [0, 0] },
    { name: 'conv1d: k 7, stride 3', x: [1, 1, 100], w: [2, 1, 7], opts: { stride: 3 }, pads: [0] },
    { name: 'conv3d: p = k − 1', x: [1, 1, 8, 16, 32], w: [2, 1, 3, 5, 5], opts: { padding: [1, 2, 2] }, pads: [2, 4, 4] },
  ];
}

const convs = [F.conv1d, F.conv2d, F.conv3d];
/** @param {number[]} s */
const show = (s) => s.join('×');

export default lesson(import.meta.url, { name: 'shapes', title: 'padding, stride and channels: the output-size rule' }, () => {
  const rows = cases().map((c) => {
    const nd = c.x.length - 2, d = c.opts.dilation ?? 1;
    const st = /** @type {number[]} */ ([].concat(c.opts.stride ?? 1));
    const stride = st.length === 1 ? new Array(nd).fill(st[0]) : st;
    const rule = [c.x[0], c.w[0], ...c.x.slice(2).map((w, i) => outSize(w, c.w[2 + i], c.pads[i], stride[i], d))];
    const helper = F.convOutputShape(c.x, c.w, c.opts);
    const real = tidy(() => convs[nd - 1](randn(c.x), randn(c.w), randn([c.w[0]]), c.opts).shape.slice());
    const agree = [helper, real].every((s) => s.join() === rule.join());
    const params = c.w.reduce((a, b) => a * b, 1) + c.w[0];
    return { ...c, rule, helper, real, agree, params };
  });
  console.log('n = ⌊(w + p − k + s) / s⌋ per spatial dim (p: total padding; with dilation d, k → d·(k − 1) + 1):');
  table(['case', 'input', 'weight', 'p', 's', 'rule', 'convOutputShape', 'conv output', 'params', 'agree'],
    rows.map((r) => [r.name, show(r.x.slice(1)), show(r.w), r.pads.join(','), String(r.opts.stride ?? 1), show(r.rule.slice(1)), show(r.helper.slice(1)), show(r.real.slice(1)), count(r.params), r.agree ? 'yes' : 'NO']));
  const bad = rows.filter((r) => !r.agree);
  if (bad.length) throw new Error(`shapes: the rule, convOutputShape and the convolution disagree on: ${bad.map((r) => r.name).join('; ')}`);

  // Where the odd padding goes changes nothing in the size but moves the output by one pixel:
  // with 2 rows on top, output row i sees input rows i−2..i+1; with 'same' (1 on top), i−1..i+2.
  const [shift, matmulDiff] = noGrad(() => tidy(() => {
    const x = randn([1, 1, 28, 28]), w = randn([1, 1, 4, 4]);
    const notes = F.conv2d(x, w, null, { padding: [2, 1, 2, 1] }).data(), same = F.conv2d(x, w, null, { padding: 'same' }).data();
    let m = 0;
    for (let i = 0; i < 27; i++) for (let j = 0; j < 27; j++) m = Math.max(m, Math.abs(notes[(i + 1) * 28 + j + 1] - same[i * 28 + j]));
    // A 1×1 convolution is a matrix product over channels at every pixel: W [16, 4] · X [4, 28·28].
    const x4 = randn([1, 4, 28, 28]), w1 = randn([16, 4, 1, 1]);
    const conv = F.conv2d(x4, w1).data(), mm = w1.reshape([16, 4]).matmul(x4.reshape([4, 784])).data();
    let m2 = 0;
    for (let i = 0; i < conv.length; i++) m2 = Math.max(m2, Math.abs(conv[i] - mm[i]));
    return [m, m2];
  }));
  console.log(`\neven kernel: the [2,1,2,1]-padded output, moved up-left by one pixel, equals the 'same' one (max |difference| ${shift.toExponential(1)})`);
  console.log(`1×1 convolution 4 → 16 equals the matrix product W[16×4] · X[4×784] (max |difference| ${matmulDiff.toExponential(1)})`);

  return {
    rows: rows.map((r) => ({ name: r.name, input: r.x, weight: r.w, options: r.opts, pads: r.pads, rule: r.rule, convOutputShape: r.helper, conv: r.real, params: r.params })),
    evenPaddingShiftMaxDiff: shift,
    oneByOneVsMatmulMaxDiff: matmulDiff,
  };
});
