// The bounded PNG decoder (src/image/png.ts) against pngjs on every colour
// type, bit depth, filter and interlacing; hostile files (huge declared sizes,
// a second IHDR, decompression bombs, truncation, bad CRCs) refused before any
// large allocation; and a seeded mutation fuzz.
import * as zlib from 'node:zlib';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { decodePng, encodePng, readPngHeader, MAX_PNG_PIXELS } from '../../src/image';
import { makeRng, randInt, pick } from '../helpers';
import { SIG, chunk, ihdr, writePng, rawData, type RawPngSpec } from './pngwriter';

const DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
const CH: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

function randomSpec(seed: number): RawPngSpec {
  const r = makeRng(seed);
  const colorType = pick(r, [0, 2, 3, 4, 6] as const);
  const bitDepth = pick(r, DEPTHS[colorType]) as RawPngSpec['bitDepth'];
  const width = randInt(r, 1, 37), height = randInt(r, 1, 29);
  const max = colorType === 3 ? Math.min(2 ** bitDepth, randInt(r, 1, 2 ** bitDepth)) - 1 : 2 ** bitDepth - 1;
  const samples = Array.from({ length: height }, () => Array.from({ length: width * CH[colorType] }, () => randInt(r, 0, max)));
  const spec: RawPngSpec = { width, height, colorType, bitDepth, interlace: r() < 0.5, samples };
  if (colorType === 3) {
    spec.palette = Array.from({ length: max + 1 }, () => [randInt(r, 0, 255), randInt(r, 0, 255), randInt(r, 0, 255)]);
    if (r() < 0.5) spec.trns = Array.from({ length: randInt(r, 1, max + 1) }, () => randInt(r, 0, 255));
  }
  return spec;
}

function pngjsRgba(buf: Buffer): Uint8Array {
  return new Uint8Array(PNG.sync.read(buf).data);
}

/** Throws, and the message starts with png: and matches `re`. */
function expectPngError(f: () => unknown, re: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, 'should throw').toBeInstanceOf(Error);
  expect((err as Error).message).toMatch(/^png: /);
  expect((err as Error).message).toMatch(re);
}

describe('decodePng agrees with pngjs', () => {
  it('on 300 random images of every colour type, bit depth, filter, with and without Adam7 interlacing', () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 300; seed++) {
      const spec = randomSpec(seed);
      seen.add(`${spec.colorType}/${spec.bitDepth}/${spec.interlace ? 'i' : 'p'}`);
      const buf = writePng(spec, { idatSplit: 1 + (seed % 3) });
      const mine = decodePng(buf, { source: `seed ${seed}` });
      expect([mine.width, mine.height]).toEqual([spec.width, spec.height]);
      const ref = pngjsRgba(buf);
      const at = mine.data.findIndex((v, i) => v !== ref[i]);
      expect(at, `seed ${seed} (${JSON.stringify({ ...spec, samples: undefined, palette: undefined })}) differs at byte ${at}`).toBe(-1);
    }
    expect(seen.size, 'combinations covered').toBeGreaterThanOrEqual(20);
  });

  it('applies tRNS for gray and RGB images', () => {
    const gray: RawPngSpec = { width: 3, height: 1, colorType: 0, bitDepth: 8, samples: [[0, 7, 255]], trns: [0, 7] };
    expect(Array.from(decodePng(writePng(gray)).data)).toEqual([0, 0, 0, 255, 7, 7, 7, 0, 255, 255, 255, 255]);
    const rgb: RawPngSpec = { width: 2, height: 1, colorType: 2, bitDepth: 16, samples: [[1, 2, 3, 4, 5, 6]], trns: [0, 4, 0, 5, 0, 6] };
    expect(Array.from(decodePng(writePng(rgb)).data).filter((_, i) => i % 4 === 3)).toEqual([255, 0]);
  });

  it('encodePng round-trips through pngjs and decodePng', () => {
    const r = makeRng(5);
    const img = { width: 13, height: 7, data: Uint8Array.from({ length: 4 * 13 * 7 }, () => randInt(r, 0, 255)) };
    const buf = encodePng(img);
    expect(Array.from(pngjsRgba(buf))).toEqual(Array.from(img.data));
    expect(Array.from(decodePng(buf).data)).toEqual(Array.from(img.data));
  });
});

describe('hostile PNGs are refused before decompression or allocation', () => {
  const tiny = (w: number, h: number, extra: Buffer[] = [], interlace = 0): Buffer =>
    Buffer.concat([SIG, ihdr(w, h, 8, 6, interlace), ...extra, chunk('IDAT', zlib.deflateSync(Buffer.alloc(16))), chunk('IEND', new Uint8Array(0))]);

  it('a 69-byte file declaring 30000×30000 names the size and the limit', () => {
    const buf = tiny(30000, 30000);
    expect(buf.length).toBeLessThan(120);
    expectPngError(() => decodePng(buf, { source: 'big.png' }), /30000×30000 .*limit is 16777216 pixels/);
    expectPngError(() => readPngHeader(buf), /limit/);
    expectPngError(() => decodePng(tiny(2 ** 31, 2)), /limit/);
  });

  it('a second IHDR (declaring a small size after a large one, or the reverse) is refused', () => {
    const smallFirst = Buffer.concat([SIG, ihdr(28, 28, 8, 6), ihdr(30000, 30000, 8, 6), chunk('IDAT', zlib.deflateSync(Buffer.alloc(16))), chunk('IEND', new Uint8Array(0))]);
    expectPngError(() => decodePng(smallFirst), /second IHDR/);
    expectPngError(() => readPngHeader(smallFirst), /second IHDR/);
  });

  it('image data that inflates past what the header declares (a bomb, interlaced or not) is refused', () => {
    for (const interlace of [0, 1]) {
      const bomb = Buffer.concat([SIG, ihdr(64, 64, 8, 6, interlace), chunk('IDAT', zlib.deflateSync(Buffer.alloc(50 * 1024 * 1024))), chunk('IEND', new Uint8Array(0))]);
      expect(bomb.length).toBeLessThan(100_000);
      expectPngError(() => decodePng(bomb), /decompresses to more than/);
    }
  });

  it('a truncated file is refused at every cut, never padded with black', () => {
    const r = makeRng(11);
    const spec: RawPngSpec = { width: 19, height: 13, colorType: 6, bitDepth: 8, samples: Array.from({ length: 13 }, () => Array.from({ length: 19 * 4 }, () => randInt(r, 0, 255))) };
    const buf = writePng(spec);
    for (let cut = 0; cut < buf.length; cut += Math.max(1, Math.floor(buf.length / 97))) {
      expectPngError(() => decodePng(buf.subarray(0, cut)), /truncated|not a PNG|no image data|no IEND/);
    }
    // a complete chunk stream whose compressed data stops early
    const z = zlib.deflateSync(rawData(spec));
    const cutIdat = Buffer.concat([SIG, ihdr(spec.width, spec.height, spec.bitDepth, spec.colorType), chunk('IDAT', z.subarray(0, z.length >> 1)), chunk('IEND', new Uint8Array(0))]);
    expectPngError(() => decodePng(cutIdat), /truncated/);
    // complete zlib data with too few rows
    const short = Buffer.concat([SIG, ihdr(8, 8, 8, 0), chunk('IDAT', zlib.deflateSync(Buffer.alloc(4 * 9))), chunk('IEND', new Uint8Array(0))]);
    expectPngError(() => decodePng(short), /truncated: the image data holds 36 of the 72 bytes/);
  });

  it('bad CRCs, a missing IHDR, unknown critical chunks, bad depths and filters are refused', () => {
    const good = writePng(randomSpec(3));
    const badCrc = Buffer.from(good);
    badCrc[good.length - 20] ^= 0xff;
    expectPngError(() => decodePng(badCrc), /CRC|truncated|decompress/);
    expectPngError(() => decodePng(Buffer.concat([SIG, chunk('IDAT', new Uint8Array(4))])), /first chunk is IDAT/);
    expectPngError(() => decodePng(Buffer.concat([SIG, ihdr(2, 2, 8, 6), chunk('ABCD', new Uint8Array(1)), chunk('IEND', new Uint8Array(0))])), /unknown critical chunk ABCD/);
    expectPngError(() => decodePng(Buffer.concat([SIG, ihdr(2, 2, 3, 2), chunk('IEND', new Uint8Array(0))])), /bit depth 3/);
    expectPngError(() => decodePng(Buffer.concat([SIG, ihdr(2, 2, 8, 3), chunk('IDAT', zlib.deflateSync(Buffer.alloc(6))), chunk('IEND', new Uint8Array(0))])), /without a PLTE/);
    const badFilter = Buffer.concat([SIG, ihdr(2, 1, 8, 0), chunk('IDAT', zlib.deflateSync(Buffer.from([9, 1, 2]))), chunk('IEND', new Uint8Array(0))]);
    expectPngError(() => decodePng(badFilter), /filter type 9/);
    const badIndex = Buffer.concat([SIG, ihdr(1, 1, 8, 3), chunk('PLTE', new Uint8Array(3)), chunk('IDAT', zlib.deflateSync(Buffer.from([0, 5]))), chunk('IEND', new Uint8Array(0))]);
    expectPngError(() => decodePng(badIndex), /palette index 5/);
    expectPngError(() => decodePng(Buffer.from('GIF89a........')), /not a PNG/);
  });

  it('maxPixels bounds what is decoded', () => {
    const buf = encodePng({ width: 40, height: 40, data: new Uint8Array(4 * 1600) });
    expect(decodePng(buf, { maxPixels: 1600 }).width).toBe(40);
    expectPngError(() => decodePng(buf, { maxPixels: 1599 }), /40×40 .*limit is 1599/);
    expect(MAX_PNG_PIXELS).toBe(4096 * 4096);
  });
});

describe('mutation fuzz', () => {
  it('12,000 mutated PNGs decode to the declared size or throw a png: Error, nothing else', () => {
    const seeds = [randomSpec(21), randomSpec(22), { ...randomSpec(23), interlace: true }, randomSpec(24)];
    const bases = seeds.map((s) => writePng(s, { idatSplit: 2 }));
    const r = makeRng(99);
    let decoded = 0, refused = 0;
    for (let i = 0; i < 12_000; i++) {
      const base = bases[i % bases.length];
      const m = Buffer.from(base);
      const edits = randInt(r, 1, 4);
      for (let e = 0; e < edits; e++) {
        const k = randInt(r, 0, m.length - 1);
        m[k] = r() < 0.5 ? randInt(r, 0, 255) : m[k] ^ (1 << randInt(r, 0, 7));
      }
      // Half the time, repair every CRC so mutations reach the header checks and the decompressor.
      if (r() < 0.5) {
        let off = 8;
        while (off + 12 <= m.length) {
          const len = m.readUInt32BE(off);
          if (off + 12 + len > m.length) break;
          m.writeUInt32BE(zlib.crc32(m.subarray(off + 8, off + 8 + len), zlib.crc32(m.subarray(off + 4, off + 8))), off + 8 + len);
          off += 12 + len;
        }
      }
      const input = r() < 0.1 ? m.subarray(0, randInt(r, 0, m.length)) : m;
      try {
        const img = decodePng(input, { maxPixels: 1 << 16 });
        expect(img.data.length).toBe(4 * img.width * img.height);
        decoded++;
      } catch (e) {
        if (!(e instanceof Error) || !e.message.startsWith('png: ')) throw new Error(`mutation ${i}: unexpected ${String(e)}`);
        refused++;
      }
    }
    expect(decoded).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(1000);
  });
});
