// @ts-check
/**
 * Lesson 6 — gradients with respect to the input: saliency maps.
 *
 * Training differentiates the loss with respect to the parameters: `optimizer.zeroGrad()`,
 * `loss.backward()`, `optimizer.step()`. The same machinery differentiates anything with
 * respect to anything that asks for it. Here the input asks — `x.requiresGrad_()` — and the
 * parameters do not (`p.requiresGrad_(false)`, PyTorch's `model.requires_grad_(False)`): backprop
 * the class score and `x.grad` holds ∂score/∂x, one number per pixel. |∂score/∂x| is a saliency
 * map: the pixels whose change would move the score most. No optimizer is involved and the
 * parameters' gradients stay unset (the lesson checks). The lesson also shows what happens
 * without freezing: the same backward writes gradients into every parameter — which is what
 * `optimizer.zeroGrad()` exists to clear before the next training step.
 *
 * Checks: the gradient against finite differences of the score; saliency concentrated on and
 * around the strokes; and a deletion test — erasing the most salient ink pixels lowers the
 * class score far more than erasing as many random ink pixels.
 *
 *   npm run lesson -- saliency [--quick]
 */
import * as path from 'node:path';
import { models, tensor, tidy, noGrad } from 'blasnet';
import { lesson, mnistArrays, train, accuracy, forwardAll, rng, table, pct, round, Picture } from './common.mjs';

/**
 * ∂ score_c / ∂x and its magnitude for each image, c its label, one backward per 1000 images
 * (the images of a batch do not interact in eval mode, so the gradient of the summed scores is
 * each image's own).
 * @param {import('blasnet').nn.Module} model @param {Float32Array} x @param {Int32Array} labels
 */
export function saliency(model, x, labels) {
  const n = labels.length, grad = new Float32Array(n * 784);
  for (let b = 0; b < n; b += 1000) {
    const m = Math.min(1000, n - b);
    tidy(() => {
      const input = tensor(x.subarray(b * 784, (b + m) * 784), [m, 1, 28, 28]).requiresGrad_();
      const logits = model.forward(input), pick = new Float32Array(m * 10);
      for (let i = 0; i < m; i++) pick[i * 10 + labels[b + i]] = 1;
      logits.mul(tensor(pick, [m, 10])).sum().backward();
      grad.set(/** @type {import('blasnet').Tensor} */ (input.grad).data(), b * 784);
      input.dispose(); // a leaf that requires grad outlives tidy; its gradient goes with it
    });
  }
  return { grad, abs: grad.map(Math.abs) };
}

/** The class-c logit of each image. @param {import('blasnet').nn.Module} model @param {Float32Array} x @param {Int32Array} labels */
function scores(model, x, labels) {
  const logits = forwardAll(model, x, [1, 28, 28]);
  return Array.from(labels, (c, i) => logits[i * 10 + c]);
}

export default lesson(import.meta.url, { name: 'saliency', title: 'gradients with respect to the input: saliency maps' }, (o) => {
  const nTrain = o.quick ? 5000 : 60000, nTest = o.quick ? 500 : 10000, epochs = 2;
  const tr = mnistArrays('train', nTrain), te = mnistArrays('test', nTest);
  const model = models.LeNet();
  train(model, tr.x, tr.y, [1, 28, 28], { epochs, seed: o.seed, label: 'lenet' });
  const acc = accuracy(model, te.x, te.y, [1, 28, 28]);
  console.log(`LeNet trained on ${tr.n} images for ${epochs} epochs: ${pct(acc)} on ${te.n} test images`);
  model.eval();
  const params = model.parameters();

  // 1. The input asks for gradients; the parameters do not.
  for (const p of params) p.requiresGrad_(false);
  const sal = saliency(model, te.x, te.y);
  const withGrad = params.filter((p) => p.grad !== null).length;
  console.log(`\nsaliency of ${te.n} test images (one backward per 1000): parameters with a gradient afterwards: ${withGrad} of ${params.length}`);
  if (withGrad) throw new Error('saliency: a parameter got a gradient although every parameter had requiresGrad false');

  // 2. Finite differences of the score at the 8 most salient pixels of the first digit.
  const first = te.x.slice(0, 784), label0 = te.y.subarray(0, 1), h = 1e-2;
  const top0 = Array.from({ length: 784 }, (_, i) => i).sort((a, b) => sal.abs[b] - sal.abs[a]).slice(0, 8);
  let fdErr = 0;
  for (const i of top0) {
    const up = first.slice(), down = first.slice();
    up[i] += h;
    down[i] -= h;
    const fd = (scores(model, up, label0)[0] - scores(model, down, label0)[0]) / (2 * h);
    fdErr = Math.max(fdErr, Math.abs(fd - sal.grad[i]) / Math.max(1e-3, Math.abs(sal.grad[i])));
  }
  console.log(`∂score/∂x at the 8 most salient pixels of the first digit vs central differences (h = ${h}): max relative difference ${fdErr.toExponential(2)}`);

  // 3. Where the saliency lies: on the ink, within 2 pixels of it, elsewhere.
  let onInk = 0, nearInk = 0, total = 0, inkArea = 0, nearArea = 0;
  for (let k = 0; k < te.n; k++) {
    const img = te.x.subarray(k * 784, (k + 1) * 784);
    for (let y = 0; y < 28; y++)
      for (let x = 0; x < 28; x++) {
        const v = sal.abs[k * 784 + y * 28 + x];
        total += v;
        let near = false;
        for (let dy = -2; dy <= 2 && !near; dy++) for (let dx = -2; dx <= 2 && !near; dx++) near = (img[(y + dy) * 28 + x + dx] ?? 0) > 0.2 && x + dx >= 0 && x + dx < 28;
        if (img[y * 28 + x] > 0.2) (onInk += v, inkArea++);
        if (near) (nearInk += v, nearArea++);
      }
  }
  const where = { onInk: onInk / total, inkArea: inkArea / (te.n * 784), nearInk: nearInk / total, nearArea: nearArea / (te.n * 784) };
  console.log(`share of |∂score/∂x| on the ink: ${pct(where.onInk)} (the ink is ${pct(where.inkArea)} of the pixels); within 2 pixels of it: ${pct(where.nearInk)} (${pct(where.nearArea)} of the pixels)`);

  // 4. Deletion: erase the k most salient ink pixels, or k random ink pixels, and re-score.
  const r = rng(o.seed + 3), fractions = [0.1, 0.2, 0.3];
  const base = scores(model, te.x, te.y);
  const deletion = fractions.map((f) => {
    const bySal = te.x.slice(), byRand = te.x.slice();
    for (let k = 0; k < te.n; k++) {
      const ink = [];
      for (let i = 0; i < 784; i++) if (te.x[k * 784 + i] > 0.2) ink.push(i);
      const m = Math.round(f * ink.length);
      const salOrder = ink.slice().sort((a, b) => sal.abs[k * 784 + b] - sal.abs[k * 784 + a]);
      for (const i of salOrder.slice(0, m)) bySal[k * 784 + i] = 0;
      for (let j = ink.length - 1; j > 0; j--) {
        const t = Math.floor(r() * (j + 1));
        [ink[j], ink[t]] = [ink[t], ink[j]];
      }
      for (const i of ink.slice(0, m)) byRand[k * 784 + i] = 0;
    }
    const s1 = scores(model, bySal, te.y), s2 = scores(model, byRand, te.y);
    const drop = (/** @type {number[]} */ s) => s.reduce((a, v, i) => a + base[i] - v, 0) / te.n;
    return { fraction: f, salientDrop: drop(s1), randomDrop: drop(s2), salientAccuracy: accuracy(model, bySal, te.y, [1, 28, 28]), randomAccuracy: accuracy(model, byRand, te.y, [1, 28, 28]) };
  });
  console.log(`\nerasing ink pixels (set to 0): mean drop of the class score (logit ${(base.reduce((a, b) => a + b, 0) / te.n).toFixed(2)} on average) and accuracy`);
  table(['ink erased', 'most salient: score drop', 'accuracy', 'random: score drop', 'accuracy'],
    deletion.map((d) => [pct(d.fraction), d.salientDrop.toFixed(2), pct(d.salientAccuracy), d.randomDrop.toFixed(2), pct(d.randomAccuracy)]));

  // 5. The contrast: leave the parameters trainable and the same backward fills their gradients.
  for (const p of params) p.requiresGrad_(true);
  saliency(model, first, label0);
  const filled = params.filter((p) => p.grad !== null).length;
  console.log(`\nthe same backward with the parameters trainable: ${filled} of ${params.length} parameters now hold a gradient — in a training loop, optimizer.zeroGrad() clears them before the next step`);
  model.zeroGrad();

  // The picture: the first test image of each class, its saliency, and the two overlaid.
  const shown = Array.from({ length: 10 }, (_, c) => te.y.indexOf(c)).filter((i) => i >= 0);
  const cell = 28 * 3 + 2, pic = new Picture(2 + shown.length * cell, 2 + 3 * cell);
  shown.forEach((k, j) => {
    const img = te.x.subarray(k * 784, (k + 1) * 784), s = sal.abs.subarray(k * 784, (k + 1) * 784);
    pic.draw(2 + j * cell, 2, img, 28, 28, { scale: 3, range: [0, 1] });
    pic.draw(2 + j * cell, 2 + cell, s, 28, 28, { scale: 3, cmap: 'heat' });
    pic.draw(2 + j * cell, 2 + 2 * cell, img, 28, 28, { scale: 3, range: [0, 1] });
    pic.draw(2 + j * cell, 2 + 2 * cell, s, 28, 28, { scale: 3, cmap: 'heat', alpha: 0.6 });
  });
  pic.save(path.join(o.out, 'saliency.png'));

  return {
    trainImages: tr.n, testImages: te.n, epochs, accuracy: round(acc, 4),
    parametersWithGradAfterSaliency: withGrad,
    parameterCount: params.length,
    parametersWithGradWhenTrainable: filled,
    finiteDifferenceMaxRelError: fdErr,
    where: Object.fromEntries(Object.entries(where).map(([k, v]) => [k, round(v, 4)])),
    deletion: deletion.map((d) => Object.fromEntries(Object.entries(d).map(([k, v]) => [k, round(v, 4)]))),
  };
});
