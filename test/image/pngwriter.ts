// A test-side PNG writer for every colour type, bit depth, filter and Adam7
// interlacing, from raw samples: what the decoder under test must read. Its
// output is cross-checked against pngjs's decoder, an independent reference.
import * as zlib from 'node:zlib';

export interface RawPngSpec {
  width: number;
  height: number;
  colorType: 0 | 2 | 3 | 4 | 6;
  bitDepth: 1 | 2 | 4 | 8 | 16;
  interlace?: boolean;
  /** samples[y][x * channels + c], full precision (0..2^depth - 1) */
  samples: number[][];
  /** RGB triples for colour type 3 */
  palette?: number[][];
  /** tRNS payload bytes */
  trns?: number[];
  /** filter per scanline (default: cycles 0..4) */
  filter?: (row: number) => number;
}

const CH: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];

export function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(data, zlib.crc32(head.subarray(4, 8))), 0);
  return Buffer.concat([head, Buffer.from(data), crc]);
}

export function ihdr(w: number, h: number, bitDepth: number, colorType: number, interlace = 0): Buffer {
  const b = Buffer.alloc(13);
  b.writeUInt32BE(w, 0);
  b.writeUInt32BE(h, 4);
  b[8] = bitDepth;
  b[9] = colorType;
  b[12] = interlace;
  return chunk('IHDR', b);
}

export const SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function packRow(spec: RawPngSpec, row: number[]): Uint8Array {
  const bits = row.length * spec.bitDepth;
  const out = new Uint8Array(Math.ceil(bits / 8));
  row.forEach((v, i) => {
    if (spec.bitDepth === 16) {
      out[2 * i] = v >> 8;
      out[2 * i + 1] = v & 255;
    } else if (spec.bitDepth === 8) out[i] = v;
    else {
      const bit = i * spec.bitDepth;
      out[bit >> 3] |= v << (8 - spec.bitDepth - (bit & 7));
    }
  });
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** The filtered scanlines of one pass. */
function filterRows(spec: RawPngSpec, rows: Uint8Array[], rowIndex0: number): Buffer {
  const bpp = Math.max(1, (CH[spec.colorType] * spec.bitDepth) >> 3);
  const parts: Buffer[] = [];
  let prev = new Uint8Array(rows[0]?.length ?? 0);
  rows.forEach((cur, r) => {
    const f = spec.filter ? spec.filter(rowIndex0 + r) : (rowIndex0 + r) % 5;
    const out = Buffer.alloc(cur.length + 1);
    out[0] = f;
    for (let i = 0; i < cur.length; i++) {
      const a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
      const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : paeth(a, b, c);
      out[i + 1] = (cur[i] - pred) & 255;
    }
    parts.push(out);
    prev = cur;
  });
  return Buffer.concat(parts);
}

/** The raw (uncompressed) image data of a spec. */
export function rawData(spec: RawPngSpec): Buffer {
  const ch = CH[spec.colorType];
  if (!spec.interlace) return filterRows(spec, spec.samples.map((r) => packRow(spec, r)), 0);
  const parts: Buffer[] = [];
  let k = 0;
  for (const [x0, y0, dx, dy] of ADAM7) {
    const rows: Uint8Array[] = [];
    for (let y = y0; y < spec.height; y += dy) {
      const row: number[] = [];
      for (let x = x0; x < spec.width; x += dx) for (let c = 0; c < ch; c++) row.push(spec.samples[y][x * ch + c]);
      if (row.length) rows.push(packRow(spec, row));
    }
    if (rows.length) parts.push(filterRows(spec, rows, k));
    k += rows.length;
  }
  return Buffer.concat(parts);
}

export function writePng(spec: RawPngSpec, opts: { idatSplit?: number } = {}): Buffer {
  const parts = [SIG, ihdr(spec.width, spec.height, spec.bitDepth, spec.colorType, spec.interlace ? 1 : 0)];
  if (spec.palette) parts.push(chunk('PLTE', Uint8Array.from(spec.palette.flat())));
  if (spec.trns) parts.push(chunk('tRNS', Uint8Array.from(spec.trns)));
  parts.push(chunk('tEXt', Buffer.from('Comment\0written by the blasnet tests', 'latin1')));
  const z = zlib.deflateSync(rawData(spec));
  const n = opts.idatSplit ?? 1;
  const step = Math.ceil(z.length / n);
  for (let i = 0; i < z.length; i += step) parts.push(chunk('IDAT', z.subarray(i, i + step)));
  parts.push(chunk('IEND', new Uint8Array(0)));
  return Buffer.concat(parts);
}
