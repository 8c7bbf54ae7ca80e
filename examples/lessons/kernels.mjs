// @ts-check
/**
 * Lesson 2 — kernels as feature detectors, and what max pooling adds.
 *
 * Part 1: five hand-made kernels — Sobel for vertical and for horizontal edges, the Laplacian,
 * sharpen and a 5×5 Gaussian blur — run as ONE conv2d with five output channels (a filter bank
 * is a convolution with Cout = 5) on an MNIST digit and on a 192×192 scene this lesson draws.
 * The numbers say what each kernel responds to: mean |response| on the scene's vertical edges,
 * on its horizontal edges and on a smooth gradient, and how much pixel noise it lets through.
 *
 * Part 2: the notes' pooling claim. A vertical-edge detector fires on the pixels of the edge;
 * tilt the edge and, row by row, the edge moves sideways, so the detector fires elsewhere. Max
 * pooling reports "an edge somewhere in this window", which survives small moves. Measured as
 * the cosine similarity between the response map of the tilted edge and of the upright one,
 * without pooling and after 2×2 and 4×4 max pooling, for tilts of 0–45°.
 *
 *   npm run lesson -- kernels [--quick]
 */
import * as path from 'node:path';
import { nn, tensor, noGrad, tidy } from 'blasnet';
import { lesson, mnistArrays, rng, gauss, table, round, saveLineChart, Picture } from './common.mjs';

const F = nn.functional;

/** The five kernels, each padded into 5×5 so one conv2d runs them all (padding 2 keeps the size). */
export function kernelBank() {
  const sobelX = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]];
  const sobelY = [[-1, -2, -1], [0, 0, 0], [1, 2, 1]];
  const laplacian = [[0, 1, 0], [1, -4, 1], [0, 1, 0]];
  const sharpen = [[0, -1, 0], [-1, 5, -1], [0, -1, 0]];
  const g = [-2, -1, 0, 1, 2].map((d) => Math.exp(-(d * d) / 2)); // σ = 1
  const gs = g.reduce((a, b) => a + b, 0) ** 2;
  const blur = g.map((a) => g.map((b) => (a * b) / gs));
  /** @param {number[][]} k */
  const to5 = (k) => (k.length === 5 ? k : [[0, 0, 0, 0, 0], ...k.map((r) => [0, ...r, 0]), [0, 0, 0, 0, 0]]);
  const names = ['sobel x (vertical edges)', 'sobel y (horizontal edges)', 'laplacian', 'sharpen', 'gaussian blur 5x5'];
  const kernels = [sobelX, sobelY, laplacian, sharpen, blur];
  return { names, kernels, weight: tensor(kernels.map((k) => [to5(k)])) }; // [5, 1, 5, 5]
}

/**
 * The scene: a sky with a linear gradient, a house (a bright wall with a dark door and window,
 * a roof), a sun and the ground, drawn with 4×4 supersampling; `noise` adds Gaussian noise of
 * that standard deviation. Returns the pixels and the wall's box (in pixels).
 * @param {number} size @param {number} noise @param {number} seed
 */
export function drawScene(size, noise, seed) {
  const s = size / 192, r = rng(seed), img = new Float32Array(size * size);
  /** @param {number} x @param {number} y  intensity at a point, in units of a 192×192 scene */
  const at = (x, y) => {
    if (x >= 40 && x < 136 && y >= 88 && y < 168) {
      if (x >= 64 && x < 84 && y >= 124) return 0.15; // door
      if (x >= 100 && x < 124 && y >= 104 && y < 124) return 0.1; // window
      return 0.85; // wall
    }
    if (y >= 168) return 0.3; // ground
    if (y >= 48 && y < 88 && Math.abs(x - 88) < (y - 48) * 1.3) return 0.55; // roof
    if ((x - 160) ** 2 + (y - 34) ** 2 < 16 ** 2) return 0.95; // sun
    return 0.2 + 0.25 * (x / 192); // sky: a linear gradient
  };
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      let v = 0;
      for (let j = 0; j < 4; j++) for (let i = 0; i < 4; i++) v += at((x + (i + 0.5) / 4) / s, (y + (j + 0.5) / 4) / s);
      img[y * size + x] = v / 16 + (noise ? noise * gauss(r) : 0);
    }
  return { img, wall: { x0: 40 * s, x1: 136 * s, y0: 88 * s, y1: 168 * s, door0: 64 * s, door1: 84 * s } };
}

/**
 * A step edge (dark left, bright right) through the centre of a size×size image, tilted by
 * `deg` degrees from vertical, drawn with 8×8 supersampling.
 * @param {number} size @param {number} deg
 */
export function tiltedEdge(size, deg) {
  const t = (deg * Math.PI) / 180, c = Math.cos(t), sn = Math.sin(t), img = new Float32Array(size * size), m = size / 2;
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      let v = 0;
      for (let j = 0; j < 8; j++)
        for (let i = 0; i < 8; i++) {
          const px = x + (i + 0.5) / 8 - m, py = y + (j + 0.5) / 8 - m;
          if (px * c + py * sn > 0) v++; // right of the tilted line
        }
      img[y * size + x] = v / 64;
    }
  return img;
}

/** @param {Float32Array} a @param {Float32Array} b */
function cosine(a, b) {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) (ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i]);
  return ab / Math.sqrt(aa * bb || 1);
}

export default lesson(import.meta.url, { name: 'kernels', title: 'kernels as feature detectors, and max pooling against a tilted edge' }, (o) => {
  // ---- Part 1: the filter bank on a digit and on the scene
  const { names, kernels, weight } = kernelBank();
  const digit = mnistArrays('test', 1).x; // the first test digit (a 7)
  const size = o.quick ? 96 : 192, noise = 0.02;
  const { img: scene, wall } = drawScene(size, noise, o.seed), { img: clean } = drawScene(size, 0, o.seed);
  /** @param {Float32Array} img @param {number} h @param {number} w */
  const bank = (img, h, w) => tidy(() => F.conv2d(tensor(img, [1, 1, h, w]), weight, null, { padding: 2 }).data());
  const digitOut = bank(digit, 28, 28), sceneOut = bank(scene, size, size), cleanOut = bank(clean, size, size);
  console.log(`one conv2d: input [1, 1, ${size}, ${size}], weight [${weight.shape.join(', ')}] (5 kernels), padding 2 → [1, 5, ${size}, ${size}]`);

  // Regions of the scene, from its geometry: the wall's left and right sides (vertical edges),
  // its bottom against the ground (a horizontal edge of about the same contrast; not the door),
  // and the sky, which is flat but for its linear gradient.
  const plane = size * size, inner = Math.round(6 * (size / 192));
  /** @type {Record<string, number[]>} */
  const regions = { vertical: [], horizontal: [], sky: [] };
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const cx = x + 0.5, cy = y + 0.5;
      if ((Math.abs(cx - wall.x0) < 1 || Math.abs(cx - wall.x1) < 1) && cy > wall.y0 + inner && cy < wall.y1 - inner) regions.vertical.push(y * size + x);
      if (Math.abs(cy - wall.y1) < 1 && cx > wall.x0 + inner && cx < wall.x1 - inner && (cx < wall.door0 - inner || cx > wall.door1 + inner)) regions.horizontal.push(y * size + x);
      if (y >= 4 && cy < 36 * (size / 192) && x >= 4 && cx < 120 * (size / 192)) regions.sky.push(y * size + x);
    }
  /** @param {Float32Array} out @param {number} k @param {number[]} idx */
  const meanAbs = (out, k, idx) => idx.reduce((a, i) => a + Math.abs(out[k * plane + i]), 0) / idx.length;
  // The noise each kernel passes: the std of (output on the noisy scene − output on the clean one)
  // over the interior, over the input noise; for white noise it is the kernel's L2 norm.
  /** @param {number} k */
  const noiseGain = (k) => {
    let s2 = 0, m = 0;
    for (let y = 2; y < size - 2; y++) for (let x = 2; x < size - 2; x++) (s2 += (sceneOut[k * plane + y * size + x] - cleanOut[k * plane + y * size + x]) ** 2, m++);
    return Math.sqrt(s2 / m) / noise;
  };
  // How sharp the wall's left side is: the largest step between neighbouring pixels across it,
  // on the middle row of the clean scene (for the two kernels that output an image).
  /** @param {Float32Array} img */
  const steepness = (img) => {
    const y = Math.floor((wall.y0 + wall.y1) / 2), x0 = Math.floor(wall.x0);
    let best = 0;
    for (let x = x0 - 3; x <= x0 + 3; x++) best = Math.max(best, Math.abs(img[y * size + x + 1] - img[y * size + x]));
    return best;
  };
  const responses = names.map((name, k) => ({
    kernel: name,
    sum: round(kernels[k].flat().reduce((a, b) => a + b, 0), 6),
    vertical: round(meanAbs(sceneOut, k, regions.vertical), 4),
    horizontal: round(meanAbs(sceneOut, k, regions.horizontal), 4),
    sky: round(meanAbs(cleanOut, k, regions.sky), 4),
    noiseGain: round(noiseGain(k), 3),
    edgeSteepness: kernels[k].flat().reduce((a, b) => a + b, 0) === 0 ? null : round(steepness(cleanOut.subarray(k * plane, (k + 1) * plane)) / steepness(clean), 3),
    l2: round(Math.sqrt(kernels[k].flat().reduce((a, b) => a + b * b, 0)), 3),
  }));
  console.log(`\nmean |response| on the scene's vertical edges (${regions.vertical.length} pixels) and horizontal edges (${regions.horizontal.length}), on the clean sky (a linear gradient, ${regions.sky.length}),`);
  console.log(`the noise each kernel passes (output noise / input noise std ${noise}; for white noise, the kernel's L2 norm), and for the`);
  console.log(`two kernels that output an image, the steepest step across the wall's side relative to the input's:`);
  table(['kernel', 'sum of weights', 'vertical edges', 'horizontal edges', 'sky (gradient)', 'noise gain', 'L2 norm', 'edge steepness'],
    responses.map((r) => [r.kernel, r.sum.toFixed(2), r.vertical.toFixed(3), r.horizontal.toFixed(3), r.sky.toFixed(4), r.noiseGain.toFixed(2), r.l2.toFixed(2), r.edgeSteepness === null ? '-' : `${r.edgeSteepness.toFixed(2)}×`]));

  // The picture: input and the five outputs, for the digit and for the scene (without its noise,
  // which would hide the thin edge responses). Edge detectors and the Laplacian are signed
  // (blue < 0 < red); sharpen and blur are images (clamped to 0..1).
  /** @param {Picture} pic @param {number} y0 @param {Float32Array} img @param {Float32Array} out @param {number} n @param {number} scale */
  const row = (pic, y0, img, out, n, scale) => {
    const cell = n * scale + 4;
    pic.draw(2, y0, img, n, n, { scale, range: [0, 1] });
    for (let k = 0; k < 5; k++) {
      const map = out.subarray(k * n * n, (k + 1) * n * n);
      pic.draw(2 + (k + 1) * cell, y0, map, n, n, k < 3 ? { scale, cmap: 'diverging', symmetric: true } : { scale, range: [0, 1] });
    }
  };
  const ds = Math.round(size / 28), cell = size + 4;
  const pic = new Picture(2 + 6 * cell, 2 + 28 * ds + 4 + size + 2);
  row(pic, 2, digit, digitOut, 28, ds);
  row(pic, 2 + 28 * ds + 4, clean, cleanOut, size, 1); // the clean scene: the noise is in the numbers
  pic.save(path.join(o.out, 'kernels.png'));

  // ---- Part 2: a vertical-edge detector against a tilted edge, with and without max pooling
  const n = 32, angles = o.quick ? [0, 5, 10, 20, 30, 45] : [0, 2.5, 5, 7.5, 10, 15, 20, 25, 30, 35, 40, 45];
  const sobel = tensor([[[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]]]);
  const pools = [{ name: 'no pooling', k: 1 }, { name: 'max pool 2×2', k: 2 }, { name: 'max pool 4×4', k: 4 }];
  /** @param {number} deg @returns {Float32Array[]} the response map, raw and after each pooling */
  const respond = (deg) => noGrad(() => tidy(() => {
    const r = F.conv2d(tensor(tiltedEdge(n, deg), [1, 1, n, n]), sobel); // [1, 1, 30, 30]
    return pools.map((p) => (p.k === 1 ? r : F.maxPool2d(r, { kernelSize: p.k })).data());
  }));
  const upright = respond(0);
  const similarity = angles.map((a) => respond(a).map((m, i) => cosine(m, upright[i])));
  const peak = angles.map((a) => Math.max(...respond(a)[0]));
  console.log(`\ncosine similarity of the vertical-edge response to a tilted edge (${n}×${n}) with the response to the upright edge:`);
  table(['tilt', 'peak response', ...pools.map((p) => p.name)], angles.map((a, i) => [`${a}°`, peak[i].toFixed(2), ...similarity[i].map((v) => v.toFixed(3))]));
  saveLineChart(path.join(o.out, 'pooling-vs-tilt.svg'), {
    title: 'Vertical-edge detector on a tilted edge',
    xLabel: 'tilt from vertical (degrees)', yLabel: 'similarity to the upright response', yRange: [0, 1],
    series: pools.map((p, j) => ({ name: p.name, points: angles.map((a, i) => /** @type {[number, number]} */ ([a, similarity[i][j]])) })),
  });
  // the edges and their raw responses, for the README
  // the edges (top), their raw responses (middle) and the 4×4 max-pooled responses (bottom)
  const shown = [0, 10, 30], c = n * 4 + 4, pooled = Math.floor((n - 2) / 4);
  const ep = new Picture(2 + shown.length * c, 2 + 3 * c);
  shown.forEach((a, i) => {
    const r = respond(a);
    ep.draw(2 + i * c, 2, tiltedEdge(n, a), n, n, { scale: 4, range: [0, 1] });
    ep.draw(2 + i * c + 4, 2 + c + 4, r[0], n - 2, n - 2, { scale: 4, cmap: 'heat', range: [0, 4] });
    ep.draw(2 + i * c + 4, 2 + 2 * c + 4, r[2], pooled, pooled, { scale: 16, cmap: 'heat', range: [0, 4] });
  });
  ep.save(path.join(o.out, 'tilted-edges.png'));

  return {
    sceneSize: size,
    noise,
    responses,
    tilt: { size: n, angles, pools: pools.map((p) => p.name), similarity: similarity.map((r) => r.map((v) => round(v, 4))), peak: peak.map((v) => round(v, 4)) },
  };
});
