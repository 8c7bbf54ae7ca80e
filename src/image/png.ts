/**
 * A bounded PNG decoder and a small encoder.
 *
 * The decoder treats its input as hostile. It walks every chunk before
 * decompressing anything: the signature, each chunk's length against the bytes
 * that are there and its CRC, exactly one IHDR (first), a size within
 * `maxPixels`, a valid bit depth / colour type pair, PLTE and tRNS where they
 * belong, and IEND at the end. It then inflates the image data with zlib
 * bounded to exactly the bytes the header implies (interlaced or not) and
 * refuses both more (a decompression bomb) and less (a truncated file): a
 * truncated PNG is an error, never an image padded with black.
 *
 * Every failure is an `Error` whose message starts with `png: <source>: `.
 *
 * @module
 */
import * as zlib from 'node:zlib';
import { checkOptions } from '../ops/args';

/** The largest image decoded by default: 4096 × 4096 pixels (64 MiB as RGBA). */
export const MAX_PNG_PIXELS = 4096 * 4096;

/** A decoded image: `width × height` RGBA pixels, 8 bits per channel, row-major. */
export interface RgbaImage {
  width: number;
  height: number;
  /** `4 · width · height` bytes: R, G, B, A per pixel. */
  data: Uint8Array;
}

/** What the header of a PNG declares (read without decompressing anything). */
export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  interlaced: boolean;
}

export interface DecodePngOptions {
  /** Refuse images with more pixels than this (default {@link MAX_PNG_PIXELS}). */
  maxPixels?: number;
  /** Named in error messages (a path, or 'the request body'). */
  source?: string;
}

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
/** Channels per colour type (0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA). */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
/** Adam7 passes: x0, y0, dx, dy. */
const ADAM7 = [
  [0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2],
] as const;

class PngError extends Error {}

function fail(source: string, msg: string): never {
  throw new PngError(`png: ${source}: ${msg}`);
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

interface Parsed {
  header: PngHeader;
  palette: Uint8Array | null; // RGBA entries
  /** tRNS for gray / RGB: the transparent sample values (16-bit range). */
  transparent: number[] | null;
  idat: Uint8Array[];
  idatBytes: number;
}

/** Validates the chunk structure; decompresses nothing. */
function parseChunks(buf: Uint8Array, source: string, maxPixels: number): Parsed {
  if (!(buf instanceof Uint8Array)) fail(source, 'expected the file bytes as a Buffer or Uint8Array');
  if (buf.length < SIGNATURE.length || SIGNATURE.some((v, i) => buf[i] !== v)) fail(source, 'not a PNG file (no PNG signature)');
  let off = SIGNATURE.length;
  let header: PngHeader | null = null;
  let palette: Uint8Array | null = null;
  let transparent: number[] | null = null;
  const idat: Uint8Array[] = [];
  let idatBytes = 0, idatDone = false, ended = false;
  while (!ended) {
    if (off + 12 > buf.length) fail(source, `truncated: the file ends inside a chunk header at byte ${off} (no IEND chunk)`);
    const len = u32(buf, off);
    const type = String.fromCharCode(buf[off + 4], buf[off + 5], buf[off + 6], buf[off + 7]);
    if (!/^[A-Za-z]{4}$/.test(type)) fail(source, `invalid chunk type at byte ${off + 4}`);
    if (len > 0x7fffffff || off + 12 + len > buf.length)
      fail(source, `truncated: chunk ${type} at byte ${off} declares ${len} bytes but only ${Math.max(0, buf.length - off - 12)} follow`);
    const data = buf.subarray(off + 8, off + 8 + len);
    const crc = u32(buf, off + 8 + len);
    if (zlib.crc32(data, zlib.crc32(buf.subarray(off + 4, off + 8))) !== crc) fail(source, `chunk ${type} at byte ${off} has a bad CRC (corrupt file)`);
    off += 12 + len;
    if (header === null && type !== 'IHDR') fail(source, `the first chunk is ${type}, not IHDR`);
    if (idat.length > 0 && type !== 'IDAT') idatDone = true;
    switch (type) {
      case 'IHDR': {
        if (header !== null) fail(source, 'a second IHDR chunk (only one is allowed)');
        if (len !== 13) fail(source, `IHDR is ${len} bytes, expected 13`);
        const width = u32(data, 0), height = u32(data, 4);
        const [bitDepth, colorType, compression, filter, interlace] = data.subarray(8, 13);
        if (width < 1 || height < 1) fail(source, `invalid size ${width}×${height}`);
        if (width * height > maxPixels) fail(source, `the image is ${width}×${height} (${width * height} pixels); the limit is ${maxPixels} pixels`);
        if (!(colorType in CHANNELS)) fail(source, `invalid colour type ${colorType}`);
        if (!DEPTHS[colorType].includes(bitDepth)) fail(source, `bit depth ${bitDepth} is not valid for colour type ${colorType}`);
        if (compression !== 0 || filter !== 0) fail(source, `unknown compression (${compression}) or filter method (${filter})`);
        if (interlace > 1) fail(source, `unknown interlace method ${interlace}`);
        header = { width, height, bitDepth, colorType, interlaced: interlace === 1 };
        break;
      }
      case 'PLTE': {
        if (idat.length > 0) fail(source, 'PLTE after the image data');
        if (palette !== null) fail(source, 'a second PLTE chunk');
        if (len % 3 !== 0 || len === 0 || len > 768) fail(source, `PLTE is ${len} bytes (expected 3 per entry, at most 256 entries)`);
        palette = new Uint8Array((len / 3) * 4);
        for (let i = 0; i < len / 3; i++) {
          palette[4 * i] = data[3 * i];
          palette[4 * i + 1] = data[3 * i + 1];
          palette[4 * i + 2] = data[3 * i + 2];
          palette[4 * i + 3] = 255;
        }
        break;
      }
      case 'tRNS': {
        const h = header!;
        if (idat.length > 0) fail(source, 'tRNS after the image data');
        if (h.colorType === 3) {
          if (palette === null) fail(source, 'tRNS before PLTE');
          if (len > palette.length / 4) fail(source, `tRNS has ${len} entries but the palette ${palette.length / 4}`);
          for (let i = 0; i < len; i++) palette[4 * i + 3] = data[i];
        } else if (h.colorType === 0 && len === 2) transparent = [(data[0] << 8) | data[1]];
        else if (h.colorType === 2 && len === 6) transparent = [(data[0] << 8) | data[1], (data[2] << 8) | data[3], (data[4] << 8) | data[5]];
        else fail(source, `tRNS of ${len} bytes is not valid for colour type ${h.colorType}`);
        break;
      }
      case 'IDAT':
        if (idatDone) fail(source, 'IDAT chunks are not consecutive');
        idat.push(data);
        idatBytes += len;
        break;
      case 'IEND':
        ended = true;
        break;
      default:
        // Ancillary chunks (lower-case first letter) are skipped; an unknown critical one is an error.
        if (type.charCodeAt(0) < 97) fail(source, `unknown critical chunk ${type}`);
    }
  }
  const h = header!;
  if (h.colorType === 3 && palette === null) fail(source, 'a palette image without a PLTE chunk');
  if (idat.length === 0) fail(source, 'no image data (IDAT)');
  return { header: h, palette, transparent, idat, idatBytes };
}

/** Reads and validates the header (every chunk's framing and CRC, one IHDR) without decompressing the image. */
export function readPngHeader(buf: Uint8Array, opts: DecodePngOptions = {}): PngHeader {
  opts = checkOptions('readPngHeader', opts, ['maxPixels', 'source']);
  return parseChunks(buf, opts.source ?? '<buffer>', opts.maxPixels ?? MAX_PNG_PIXELS).header;
}

/** Bits per pixel and the byte size of one filtered scanline of `w` pixels (filter byte included). */
function rowBytes(h: PngHeader, w: number): number {
  return 1 + Math.ceil((w * CHANNELS[h.colorType] * h.bitDepth) / 8);
}

/** The passes of the image: [x0, y0, dx, dy, width, height] (one pass when not interlaced). */
function passes(h: PngHeader): number[][] {
  if (!h.interlaced) return [[0, 0, 1, 1, h.width, h.height]];
  return ADAM7.map(([x0, y0, dx, dy]) => [x0, y0, dx, dy, Math.ceil(Math.max(0, h.width - x0) / dx), Math.ceil(Math.max(0, h.height - y0) / dy)]);
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Decodes a PNG into 8-bit RGBA. Gray, RGB, palette, gray+alpha and RGBA at
 * every bit depth, tRNS transparency and Adam7 interlacing are supported;
 * 16-bit samples are rounded to 8 bits (v · 255 / 65535).
 */
export function decodePng(buf: Uint8Array, opts: DecodePngOptions = {}): RgbaImage {
  checkOptions('decodePng', opts, ['maxPixels', 'source']);
  const source = opts.source ?? '<buffer>';
  const maxPixels = opts.maxPixels ?? MAX_PNG_PIXELS;
  if (!(Number.isInteger(maxPixels) && maxPixels >= 1)) throw new RangeError(`decodePng: maxPixels must be a positive integer, got ${maxPixels}`);
  const { header: h, palette, transparent, idat, idatBytes } = parseChunks(buf, source, maxPixels);
  const ps = passes(h);
  let expected = 0;
  for (const [, , , , pw, ph] of ps) if (pw > 0 && ph > 0) expected += ph * rowBytes(h, pw);

  const compressed = idat.length === 1 ? idat[0] : Buffer.concat(idat, idatBytes);
  let raw: Buffer;
  try {
    // One byte more than the header implies, to tell "exactly right" from "too much".
    raw = zlib.inflateSync(compressed, { maxOutputLength: expected + 1 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError)
      fail(source, `the image data decompresses to more than the ${expected} bytes a ${h.width}×${h.height} image needs`);
    if (/unexpected end/i.test(err.message)) fail(source, `truncated: the compressed image data ends early (the file is cut short)`);
    fail(source, `the image data cannot be decompressed (${err.message})`);
  }
  if (raw.length > expected) fail(source, `the image data decompresses to more than the ${expected} bytes a ${h.width}×${h.height} image needs`);
  if (raw.length < expected) fail(source, `truncated: the image data holds ${raw.length} of the ${expected} bytes a ${h.width}×${h.height} image needs`);

  const out = new Uint8Array(4 * h.width * h.height);
  const channels = CHANNELS[h.colorType], depth = h.bitDepth;
  const bpp = Math.max(1, (channels * depth) >> 3); // bytes per complete pixel, for the filters
  let pos = 0;
  for (const [x0, y0, dx, dy, pw, ph] of ps) {
    if (pw === 0 || ph === 0) continue;
    const stride = rowBytes(h, pw) - 1;
    let prev = new Uint8Array(stride), cur = new Uint8Array(stride);
    for (let y = 0; y < ph; y++) {
      const filter = raw[pos];
      const line = raw.subarray(pos + 1, pos + 1 + stride);
      pos += stride + 1;
      switch (filter) {
        case 0: cur.set(line); break;
        case 1: for (let i = 0; i < stride; i++) cur[i] = (line[i] + (i >= bpp ? cur[i - bpp] : 0)) & 255; break;
        case 2: for (let i = 0; i < stride; i++) cur[i] = (line[i] + prev[i]) & 255; break;
        case 3: for (let i = 0; i < stride; i++) cur[i] = (line[i] + (((i >= bpp ? cur[i - bpp] : 0) + prev[i]) >> 1)) & 255; break;
        case 4: for (let i = 0; i < stride; i++) cur[i] = (line[i] + paeth(i >= bpp ? cur[i - bpp] : 0, prev[i], i >= bpp ? prev[i - bpp] : 0)) & 255; break;
        default: fail(source, `unknown filter type ${filter} on a scanline`);
      }
      const oy = y0 + y * dy;
      for (let x = 0; x < pw; x++) {
        const o = 4 * (oy * h.width + x0 + x * dx);
        // samples of pixel x: sample(k) returns the k-th channel at full precision (0..2^depth-1)
        const sample = (k: number): number => {
          if (depth === 8) return cur[x * channels + k];
          if (depth === 16) return (cur[2 * (x * channels + k)] << 8) | cur[2 * (x * channels + k) + 1];
          const bit = (x * channels + k) * depth;
          return (cur[bit >> 3] >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
        };
        const to8 = (v: number): number => (depth === 8 ? v : Math.round((v * 255) / ((1 << depth) - 1)));
        switch (h.colorType) {
          case 0: {
            const v = sample(0), g = to8(v);
            out[o] = out[o + 1] = out[o + 2] = g;
            out[o + 3] = transparent && transparent[0] === v ? 0 : 255;
            break;
          }
          case 2: {
            const r = sample(0), g = sample(1), b = sample(2);
            out[o] = to8(r);
            out[o + 1] = to8(g);
            out[o + 2] = to8(b);
            out[o + 3] = transparent && transparent[0] === r && transparent[1] === g && transparent[2] === b ? 0 : 255;
            break;
          }
          case 3: {
            const i = sample(0);
            if (4 * i >= palette!.length) fail(source, `palette index ${i} is past the ${palette!.length / 4}-entry palette`);
            out[o] = palette![4 * i];
            out[o + 1] = palette![4 * i + 1];
            out[o + 2] = palette![4 * i + 2];
            out[o + 3] = palette![4 * i + 3];
            break;
          }
          case 4: {
            const g = to8(sample(0));
            out[o] = out[o + 1] = out[o + 2] = g;
            out[o + 3] = to8(sample(1));
            break;
          }
          case 6:
            out[o] = to8(sample(0));
            out[o + 1] = to8(sample(1));
            out[o + 2] = to8(sample(2));
            out[o + 3] = to8(sample(3));
            break;
        }
      }
      [prev, cur] = [cur, prev];
    }
  }
  return { width: h.width, height: h.height, data: out };
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(data, zlib.crc32(head.subarray(4, 8))), 0);
  return Buffer.concat([head, data, crc]);
}

/** Encodes 8-bit RGBA pixels as a PNG (colour type 6, no interlacing). */
export function encodePng(img: RgbaImage): Buffer {
  const { width: w, height: h, data } = img;
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1) throw new RangeError(`encodePng: invalid size ${w}×${h}`);
  if (!(data instanceof Uint8Array) || data.length !== 4 * w * h) throw new RangeError(`encodePng: expected ${4 * w * h} bytes of RGBA, got ${data?.length}`);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 6;
  const raw = Buffer.alloc(h * (1 + 4 * w));
  for (let y = 0; y < h; y++) raw.set(data.subarray(4 * w * y, 4 * w * (y + 1)), y * (1 + 4 * w) + 1);
  return Buffer.concat([Buffer.from(SIGNATURE), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}
