// MNIST-style preprocessing (src/image/digit.ts): alpha flattened onto the
// opposite tone, polarity from the border, crop to the ink, 20×20 keeping the
// aspect ratio, centre of mass at the centre of 28×28; empty images flagged.
// The reference is MNIST itself: its test digits were made this way, so a
// digit redrawn large, off-centre, on a transparent canvas must come back
// close to the original.
import { describe, expect, it } from 'vitest';
import { data } from '../../src';
import { prepareImage, loadImage, encodePng, toInput, type RgbaImage } from '../../src/image';

function mnistDigits(n: number): { px: Float32Array[]; labels: number[] } {
  const ds = data.mnist({ split: 'test', normalize: false, limit: n });
  const x = ds.x.data(), y = ds.y.data();
  const px = Array.from({ length: n }, (_, i) => x.slice(784 * i, 784 * (i + 1)));
  const labels = Array.from(y);
  ds.dispose();
  return { px, labels };
}

/** Pearson correlation of two images. */
function corr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** The best correlation over translations of up to one pixel (MNIST's own centring rounds to whole pixels). */
function shiftCorr(a: Float32Array, b: Float32Array): number {
  let best = -1;
  for (let dy = -1; dy <= 1; dy++)
    for (let dx = -1; dx <= 1; dx++) {
      const s = new Float32Array(784);
      for (let y = 0; y < 28; y++)
        for (let x = 0; x < 28; x++) {
          const sx = x + dx, sy = y + dy;
          if (sx >= 0 && sx < 28 && sy >= 0 && sy < 28) s[y * 28 + x] = a[sy * 28 + sx];
        }
      best = Math.max(best, corr(s, b));
    }
  return best;
}

/** `digit` (28×28 in [0,1], white ink) drawn `scale`× larger at (x, y) on a w×h canvas. */
function canvas(digit: Float32Array, w: number, h: number, x: number, y: number, scale: number, style: 'transparent-black' | 'transparent-white' | 'black-on-white' | 'white-on-black' | 'gray-bg'): RgbaImage {
  const out = new Uint8Array(4 * w * h);
  for (let j = 0; j < h; j++)
    for (let i = 0; i < w; i++) {
      // bilinear sample of the digit
      const u = (i - x) / scale - 0.5, v = (j - y) / scale - 0.5;
      const u0 = Math.floor(u), v0 = Math.floor(v), fu = u - u0, fv = v - v0;
      const at = (p: number, q: number) => (p >= 0 && p < 28 && q >= 0 && q < 28 ? digit[q * 28 + p] : 0);
      const ink = (1 - fu) * (1 - fv) * at(u0, v0) + fu * (1 - fv) * at(u0 + 1, v0) + (1 - fu) * fv * at(u0, v0 + 1) + fu * fv * at(u0 + 1, v0 + 1);
      const o = 4 * (j * w + i);
      const set = (g: number, a: number) => {
        out[o] = out[o + 1] = out[o + 2] = Math.round(g);
        out[o + 3] = Math.round(a);
      };
      if (style === 'transparent-black') set(0, 255 * ink);
      else if (style === 'transparent-white') set(255, 255 * ink);
      else if (style === 'black-on-white') set(255 * (1 - ink), 255);
      else if (style === 'white-on-black') set(255 * ink, 255);
      else set(120 + 135 * ink, 255);
    }
  return { width: w, height: h, data: out };
}

function centreOfMass(px: Float32Array, size = 28): [number, number] {
  let m = 0, mx = 0, my = 0;
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const v = px[y * size + x];
      m += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  return [mx / m, my / m];
}

function inkBox(px: Float32Array, size = 28): { w: number; h: number } {
  let x0 = size, x1 = -1, y0 = size, y1 = -1;
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++)
      if (px[y * size + x] > 0.1) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
  return { w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

describe('prepareImage', () => {
  const { px } = mnistDigits(20);

  it('leaves MNIST test digits close to themselves (they were made this way)', () => {
    for (let i = 0; i < px.length; i++) {
      const img = canvas(px[i], 28, 28, 0, 0, 1, 'white-on-black');
      const p = prepareImage(img);
      expect(p.empty).toBe(false);
      expect(p.inverted).toBe(false);
      expect(shiftCorr(p.pixels, px[i]), `digit ${i}`).toBeGreaterThan(0.85);
    }
  });

  it.each(['transparent-black', 'transparent-white', 'black-on-white', 'white-on-black', 'gray-bg'] as const)(
    'a digit drawn 8× larger, off-centre on a 400×250 canvas (%s) comes back centred and close to the original',
    (style) => {
      let sum = 0;
      for (let i = 0; i < 10; i++) {
        const p = prepareImage(canvas(px[i], 400, 250, 250 - (i % 3) * 40, 10 + (i % 2) * 15, 8, style));
        expect(p.empty, `${style} digit ${i}: ${p.warnings}`).toBe(false);
        expect(p.inverted).toBe(style === 'transparent-black' || style === 'black-on-white');
        const [cx, cy] = centreOfMass(p.pixels);
        expect(Math.abs(cx - 14.5), `centre of mass x ${cx}`).toBeLessThanOrEqual(0.5);
        expect(Math.abs(cy - 14.5), `centre of mass y ${cy}`).toBeLessThanOrEqual(0.5);
        const box = inkBox(p.pixels);
        expect(Math.max(box.w, box.h)).toBeLessThanOrEqual(20);
        expect(Math.max(box.w, box.h)).toBeGreaterThanOrEqual(18);
        sum += shiftCorr(p.pixels, px[i]);
      }
      expect(sum / 10, `mean correlation with the MNIST originals (${style})`).toBeGreaterThan(0.8);
    },
  );

  it('keeps the aspect ratio: a tall bar becomes 20 high and stays thin', () => {
    const w = 100, h = 300, img = new Uint8Array(4 * w * h).fill(255);
    for (let y = 50; y < 250; y++) for (let x = 40; x < 60; x++) img.fill(0, 4 * (y * w + x), 4 * (y * w + x) + 3);
    const p = prepareImage({ width: w, height: h, data: img });
    expect(p.bbox).toEqual({ x: 40, y: 50, width: 20, height: 200 });
    expect(inkBox(p.pixels)).toEqual({ w: 2, h: 20 });
  });

  it("'fit' mode scales the object's longer side to the full size and centres it", () => {
    const p = prepareImage(canvas(px[0], 400, 250, 100, 20, 8, 'white-on-black'), { mode: 'fit' });
    const box = inkBox(p.pixels);
    expect(Math.max(box.w, box.h)).toBeGreaterThanOrEqual(27);
  });

  it('flags empty images with a warning: fully transparent, uniform, faint noise', () => {
    const flat = (v: number, a = 255): RgbaImage => {
      const d = new Uint8Array(4 * 50 * 40);
      for (let i = 0; i < 2000; i++) d.set([v, v, v, a], 4 * i);
      return { width: 50, height: 40, data: d };
    };
    const cases: [string, RgbaImage, RegExp][] = [
      ['transparent', flat(0, 0), /fully transparent/],
      ['white', flat(255), /looks empty/],
      ['black', flat(0), /looks empty/],
      ['gray', flat(128), /looks empty/],
    ];
    const noisy = flat(200);
    for (let i = 0; i < 2000; i += 7) noisy.data.fill(190, 4 * i, 4 * i + 3);
    cases.push(['faint noise', noisy, /looks empty/]);
    for (const [name, img, re] of cases) {
      const p = prepareImage(img);
      expect(p.empty, name).toBe(true);
      expect(p.warnings.join(' '), name).toMatch(re);
      expect(p.pixels.every((v) => v === 0), name).toBe(true);
    }
  });

  it('validates its options and input', () => {
    const img = canvas(px[0], 28, 28, 0, 0, 1, 'white-on-black');
    expect(() => prepareImage(img, { modee: 'fit' } as never)).toThrow(/unknown option 'modee'/);
    expect(() => prepareImage(img, { mode: 'crop' as never })).toThrow(/mode must be 'mnist', 'fit' or 'resize'/);
    expect(() => prepareImage(img, { size: 0 })).toThrow(/size must be an integer/);
    expect(() => prepareImage({ width: 2, height: 2, data: new Uint8Array(3) })).toThrow(/needs 16 bytes/);
    expect(() => prepareImage(null as never)).toThrow(TypeError);
  });

  it('loadImage decodes bytes and toInput normalises like data.mnist()', () => {
    const buf = encodePng(canvas(px[3], 28, 28, 0, 0, 1, 'white-on-black'));
    const p = loadImage(buf);
    const x = toInput(p);
    expect(x.shape).toEqual([1, 1, 28, 28]);
    const v = x.data();
    expect(v[0]).toBeCloseTo((0 - data.MNIST_MEAN) / data.MNIST_STD, 5);
    x.dispose();
    expect(() => loadImage('/no/such/file.png')).toThrow(/png: \/no\/such\/file.png: no such file/);
    expect(() => loadImage('/tmp')).toThrow(/not a regular file/);
  });
});
