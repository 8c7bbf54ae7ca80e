import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeIdx, parseIdx, readIdx, serializeIdx, writeIdx, type IdxArray } from '../../src/data/idx';
import { makeRng as mulberry32 } from '../helpers';

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------


/** Builds an IDX header (type code, dims) followed by `dataBytes` bytes of 0xAB. */
function rawIdx(code: number, dims: number[], dataBytes: number): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + dataBytes);
  const dv = new DataView(out.buffer);
  out[2] = code;
  out[3] = dims.length;
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  out.fill(0xab, 4 + 4 * dims.length);
  return out;
}

/** Expects `fn` to throw a plain Error whose message matches `re` (and has the prefix). */
function expectIdxError(fn: () => unknown, re: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected an error').toBeInstanceOf(Error);
  const err = caught as Error;
  expect(err.constructor).toBe(Error);
  expect(err.message).toMatch(/^idx: /);
  expect(err.message).toMatch(re);
}

/** One sample array per dtype, including extreme and special values. */
const SAMPLES: IdxArray[] = [
  { dtype: 'uint8', dims: [2, 3], data: new Uint8Array([0, 1, 127, 128, 254, 255]) },
  { dtype: 'int8', dims: [4], data: new Int8Array([-128, -1, 0, 127]) },
  { dtype: 'int16', dims: [1, 2, 2], data: new Int16Array([-32768, -2, 258, 32767]) },
  { dtype: 'int32', dims: [3], data: new Int32Array([-(2 ** 31), 0x01020304, 2 ** 31 - 1]) },
  { dtype: 'float32', dims: [2, 2], data: new Float32Array([1.5, -0, Infinity, NaN]) },
  { dtype: 'float64', dims: [1, 1, 1, 1, 1, 1, 1, 3], data: new Float64Array([Math.PI, -1e-300, -Infinity]) },
];

function expectSameArray(a: IdxArray, b: IdxArray): void {
  expect(a.dtype).toBe(b.dtype);
  expect(a.dims).toEqual(b.dims);
  expect(a.data.constructor).toBe(b.data.constructor);
  expect(a.data.length).toBe(b.data.length);
  for (let i = 0; i < a.data.length; i++) {
    expect(Object.is(a.data[i], b.data[i]), `${a.dtype}[${i}]: ${a.data[i]} vs ${b.data[i]}`).toBe(true);
  }
}

// ---------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------

describe('IDX round trip', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-idx-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const sample of SAMPLES) {
    it(`round-trips ${sample.dtype} plain and gzipped`, () => {
      const plain = path.join(dir, `${sample.dtype}.idx`);
      const gz = path.join(dir, `${sample.dtype}.idx.gz`);
      writeIdx(plain, sample);
      writeIdx(gz, sample, { gzip: true });
      const p = fs.readFileSync(plain);
      const g = fs.readFileSync(gz);
      expect([p[0], p[1]]).toEqual([0, 0]);
      expect([g[0], g[1]]).toEqual([0x1f, 0x8b]);
      expectSameArray(readIdx(plain), sample);
      expectSameArray(readIdx(gz), sample);
      expectSameArray(parseIdx(serializeIdx(sample)), sample);
      expect(fs.readdirSync(dir).sort()).toEqual([`${sample.dtype}.idx`, `${sample.dtype}.idx.gz`]);
    });
  }

  it('detects gzip by content, not by file name', () => {
    const sample = SAMPLES[2];
    const gzNoExt = path.join(dir, 'looks-plain.idx');
    const plainGzExt = path.join(dir, 'looks-gzipped.gz');
    writeIdx(gzNoExt, sample, { gzip: true });
    writeIdx(plainGzExt, sample);
    expectSameArray(readIdx(gzNoExt), sample);
    expectSameArray(readIdx(plainGzExt), sample);
  });

  it('writes the big-endian header and data byte for byte', () => {
    const bytes = serializeIdx({ dtype: 'int16', dims: [2, 1], data: new Int16Array([0x0102, -2]) });
    expect(Array.from(bytes)).toEqual([0, 0, 0x0b, 2, 0, 0, 0, 2, 0, 0, 0, 1, 0x01, 0x02, 0xff, 0xfe]);
    const u8 = serializeIdx({ dtype: 'uint8', dims: [3], data: new Uint8Array([7, 8, 9]) });
    expect(Array.from(u8)).toEqual([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 8, 9]);
  });

  it('parses MNIST-style headers and copies the data', () => {
    const buf = rawIdx(0x08, [2, 2, 2], 8);
    buf.set([1, 2, 3, 4, 5, 6, 7, 8], 16);
    const arr = parseIdx(buf);
    expect(arr.dims).toEqual([2, 2, 2]);
    expect(Array.from(arr.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    buf.fill(0);
    expect(Array.from(arr.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('never aliases a Node Buffer (whose slice() is a view into a shared pool)', () => {
    for (const sample of SAMPLES.slice(0, 2)) {
      const buf = Buffer.from(serializeIdx(sample)); // small Buffers come from the pool
      const arr = parseIdx(buf);
      expect(arr.data.constructor).toBe(sample.data.constructor);
      expect(arr.data.buffer.byteLength).toBe(arr.data.byteLength);
      buf.fill(0x55, 8);
      expectSameArray(arr, sample);
    }
  });

  it('reads from an unaligned view into a larger buffer', () => {
    const file = serializeIdx(SAMPLES[5]);
    const host = new Uint8Array(file.length + 1);
    host.set(file, 1);
    expectSameArray(parseIdx(host.subarray(1)), SAMPLES[5]);
  });
});

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

describe('IDX validation', () => {
  it('rejects files too short for the magic number', () => {
    expectIdxError(() => parseIdx(new Uint8Array([0, 0, 8])), /^idx: <buffer>: file is 3 bytes, but an IDX header needs at least 4/);
    expectIdxError(() => parseIdx(new Uint8Array(0), 'empty.idx'), /^idx: empty\.idx: file is 0 bytes/);
  });

  it('rejects a bad magic number', () => {
    const buf = rawIdx(0x08, [1], 1);
    buf[1] = 0x03;
    expectIdxError(() => parseIdx(buf), /bad magic number: expected first two bytes 0x00 0x00, got 0x00 0x03/);
    const gz = zlib.gzipSync(rawIdx(0x08, [1], 1));
    expectIdxError(() => parseIdx(gz), /got 0x1f 0x8b \(this looks gzip-compressed/);
  });

  it('rejects unknown type codes', () => {
    for (const code of [0x00, 0x07, 0x0a, 0x0f, 0xff]) {
      expectIdxError(
        () => parseIdx(rawIdx(code, [1], 1)),
        new RegExp(`unknown type code 0x${code.toString(16).padStart(2, '0')}, expected one of 0x08 uint8, 0x09 int8, 0x0b int16`),
      );
    }
  });

  it('rejects 0 or more than 8 dimensions', () => {
    expectIdxError(() => parseIdx(rawIdx(0x08, [], 0)), /header declares 0 dimensions, expected 1 to 8/);
    expectIdxError(() => parseIdx(rawIdx(0x08, [1, 1, 1, 1, 1, 1, 1, 1, 1], 1)), /header declares 9 dimensions/);
  });

  it('rejects a truncated header', () => {
    expectIdxError(
      () => parseIdx(rawIdx(0x08, [5, 5, 5], 0).subarray(0, 10)),
      /file is 10 bytes, but a header with 3 dimensions needs 16/,
    );
  });

  it('rejects zero-sized and overflowing dimensions', () => {
    expectIdxError(() => parseIdx(rawIdx(0x08, [3, 0], 0)), /dimension 1 is 0, expected a positive size/);
    expectIdxError(
      () => parseIdx(rawIdx(0x0e, [0xffffffff, 0xffffffff, 2], 0)),
      /dims \[4294967295,4294967295,...\] describe more than 9007199254740991 bytes of float64 data/,
    );
  });

  it('rejects truncated data with the documented message', () => {
    const buf = rawIdx(0x08, [60000, 28, 28], 1000);
    expect(() => parseIdx(buf, 'train-images-idx3-ubyte.gz')).toThrow(
      new Error('idx: train-images-idx3-ubyte.gz: file has 1000 bytes of data but dims [60000,28,28] need 47040000'),
    );
    expectIdxError(
      () => parseIdx(rawIdx(0x0c, [2, 2], 15)),
      /file has 15 bytes of data but dims \[2,2\] need 16 \(4 int32 items of 4 bytes\)/,
    );
  });

  it('rejects extra trailing data', () => {
    expectIdxError(() => parseIdx(rawIdx(0x08, [2, 3], 7)), /file has 7 bytes of data but dims \[2,3\] need 6/);
  });

  describe('on disk', () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-idx-'));
    });
    afterEach(() => {
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('turns a corrupt gzip stream into an idx: error', () => {
      const file = path.join(dir, 'bad.gz');
      const gz = zlib.gzipSync(serializeIdx(SAMPLES[3]));
      const flipped = Buffer.from(gz);
      flipped[flipped.length - 6] ^= 0xff; // CRC32 trailer
      fs.writeFileSync(file, flipped);
      expectIdxError(() => readIdx(file), new RegExp(`^idx: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: corrupt gzip stream: `));
      fs.writeFileSync(file, gz.subarray(0, gz.length - 10));
      expectIdxError(() => readIdx(file), /corrupt gzip stream: unexpected end of file/);
      fs.writeFileSync(file, Buffer.from([0x1f, 0x8b]));
      expectIdxError(() => readIdx(file), /corrupt gzip stream/);
    });

    it('reports IDX errors found inside a valid gzip stream', () => {
      const file = path.join(dir, 'short.gz');
      fs.writeFileSync(file, zlib.gzipSync(rawIdx(0x08, [4], 3)));
      expectIdxError(() => readIdx(file), /short\.gz: file has 3 bytes of data but dims \[4\] need 4/);
    });

    it('wraps read errors', () => {
      expectIdxError(() => readIdx(path.join(dir, 'missing.idx')), /missing\.idx: cannot read file: ENOENT/);
    });

    it('writeIdx validates its input and leaves an existing file untouched', () => {
      const file = path.join(dir, 'labels.idx');
      writeIdx(file, SAMPLES[0]);
      const before = fs.readFileSync(file);
      const bad: Array<[unknown, RegExp]> = [
        [{ dtype: 'uint8', dims: [2], data: new Int8Array(2) }, /dtype uint8 needs data as Uint8Array, got \[object Int8Array\]/],
        [{ dtype: 'int32', dims: [3], data: new Int32Array(2) }, /dims \[3\] need 3 elements, but data has 2/],
        [{ dtype: 'uint8', dims: [], data: new Uint8Array(1) }, /expected 1 to 8 dims, got 0/],
        [{ dtype: 'uint8', dims: [0], data: new Uint8Array(0) }, /must be integers in 1\.\.4294967295, got 0/],
        [{ dtype: 'uint8', dims: [1.5], data: new Uint8Array(1) }, /got 1\.5/],
        [{ dtype: 'uint8', dims: [2 ** 32], data: new Uint8Array(1) }, /got 4294967296/],
        [{ dtype: 'uint16', dims: [1], data: new Uint16Array(1) }, /unknown dtype uint16/],
        [{ dtype: 'toString', dims: [1], data: new Uint8Array(1) }, /unknown dtype toString/],
      ];
      for (const [arr, re] of bad) {
        expectIdxError(() => writeIdx(file, arr as IdxArray, { gzip: true }), re);
      }
      expect(fs.readFileSync(file).equals(before)).toBe(true);
      expect(fs.readdirSync(dir)).toEqual(['labels.idx']);
    });
  });
});

// ---------------------------------------------------------------------------
// Hostile-input fuzz
// ---------------------------------------------------------------------------

describe('decodeIdx hostile-mutation fuzz', () => {
  const plainBases = [
    serializeIdx({ dtype: 'int16', dims: [2, 3], data: new Int16Array([1, -2, 3, -4, 5, -6]) }),
    serializeIdx({ dtype: 'uint8', dims: [3, 2, 2], data: Uint8Array.from({ length: 12 }, (_, i) => i) }),
    serializeIdx({ dtype: 'float64', dims: [2], data: new Float64Array([0.5, -1]) }),
  ];
  const gzBases = plainBases.map((b) => new Uint8Array(zlib.gzipSync(b)));
  const SIZE: Record<string, number> = { uint8: 1, int8: 1, int16: 2, int32: 4, float32: 4, float64: 8 };

  /** Applies one random raw mutation to a copy of `src`. */
  function mutateBytes(src: Uint8Array, rng: () => number): { buf: Uint8Array; kind: string } {
    const int = (n: number) => Math.floor(rng() * n);
    const buf = src.slice();
    const dv = new DataView(buf.buffer);
    switch (int(9)) {
      case 0:
        return { buf: buf.subarray(0, int(buf.length)), kind: 'truncate' };
      case 1: {
        const k = 1 + int(4);
        for (let i = 0; i < k; i++) buf[int(buf.length)] ^= 1 << int(8);
        return { buf, kind: 'flip' };
      }
      case 2:
        buf[int(Math.min(4, buf.length))] = int(256);
        return { buf, kind: 'magic/type/ndims' };
      case 3:
        buf[3] = int(12);
        return { buf, kind: 'ndims' };
      case 4: {
        const ndims = buf[3];
        const i = int(ndims);
        const v = [0, 1, 2, 3, 0xffffffff, 0x80000000, int(2 ** 32), 60000][int(8)];
        if (4 + 4 * i + 4 <= buf.length) dv.setUint32(4 + 4 * i, v, false);
        return { buf, kind: 'dim' };
      }
      case 5:
        buf[2] = [0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e, int(256)][int(7)];
        return { buf, kind: 'typecode' };
      case 6: {
        const extra = Uint8Array.from({ length: 1 + int(9) }, () => int(256));
        const out = new Uint8Array(buf.length + extra.length);
        out.set(buf);
        out.set(extra, buf.length);
        return { buf: out, kind: 'append' };
      }
      case 7: {
        // Data-only change: must always still parse.
        const header = 4 + 4 * buf[3];
        if (buf.length > header) buf[header + int(buf.length - header)] ^= 1 << int(8);
        return { buf, kind: 'data-flip' };
      }
      default: {
        const k = 2 + int(8);
        for (let i = 0; i < k; i++) buf[int(buf.length)] = int(256);
        return { buf, kind: 'multi' };
      }
    }
  }

  function mutate(rng: () => number): { buf: Uint8Array; kind: string } {
    const which = Math.floor(rng() * plainBases.length);
    switch (Math.floor(rng() * 3)) {
      case 0: {
        const { buf, kind } = mutateBytes(plainBases[which], rng);
        return { buf, kind: `plain:${kind}` };
      }
      case 1: {
        // Corrupt the IDX content, then compress it validly.
        const { buf, kind } = mutateBytes(plainBases[which], rng);
        return { buf: new Uint8Array(zlib.gzipSync(buf)), kind: `gz-content:${kind}` };
      }
      default: {
        // Corrupt the compressed stream itself (keeping the gzip magic sometimes).
        const { buf, kind } = mutateBytes(gzBases[which], rng);
        if (rng() < 0.7 && buf.length >= 2) {
          buf[0] = 0x1f;
          buf[1] = 0x8b;
        }
        return { buf, kind: `gz-stream:${kind}` };
      }
    }
  }

  it('never throws anything but an "idx:" Error over 12,000 seeded mutations', () => {
    const ITER = 12_000;
    const failures: string[] = [];
    let ok = 0;
    let errors = 0;
    let gzErrors = 0;
    for (let seed = 1; seed <= ITER; seed++) {
      const rng = mulberry32(seed * 2246822519);
      const { buf, kind } = mutate(rng);
      try {
        const arr = decodeIdx(buf);
        ok++;
        const count = arr.dims.reduce((a, b) => a * b, 1);
        if (
          !(arr.dtype in SIZE) ||
          arr.dims.length < 1 ||
          arr.dims.length > 8 ||
          !arr.dims.every((d) => Number.isInteger(d) && d > 0) ||
          arr.data.length !== count ||
          arr.data.buffer.byteLength !== arr.data.byteLength ||
          arr.data.byteOffset % SIZE[arr.dtype] !== 0
        ) {
          failures.push(`seed ${seed} (${kind}): inconsistent result ${arr.dtype} [${arr.dims}] len ${arr.data.length}`);
        }
      } catch (e) {
        errors++;
        if (!(e instanceof Error) || e.constructor !== Error || !e.message.startsWith('idx: <buffer>: ')) {
          failures.push(`seed ${seed} (${kind}): ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`);
        } else if (e.message.includes('corrupt gzip')) {
          gzErrors++;
        }
      }
      if (kind.endsWith('data-flip') && kind.startsWith('plain')) {
        // Flipping data bytes of a plain file never invalidates it.
        try {
          decodeIdx(buf);
        } catch (e) {
          failures.push(`seed ${seed} (${kind}): data-only change rejected: ${String(e)}`);
        }
      }
    }
    expect(failures.slice(0, 10)).toEqual([]);
    expect(ok).toBeGreaterThan(500);
    expect(errors).toBeGreaterThan(ITER / 3);
    expect(gzErrors).toBeGreaterThan(500);
  });
});
