/**
 * A small, bounded ZIP reader for PyTorch checkpoints (`torch.save` writes a
 * zip archive of stored entries): the end-of-central-directory record (and its
 * ZIP64 form), the central directory, and each entry's local header; stored and
 * deflated entries, the latter inflated by zlib to exactly their declared size;
 * every entry's CRC-32 checked. Every offset and size is checked against the
 * archive before it is used; multi-disk, encrypted and other compression
 * methods are refused.
 *
 * Errors are `Error`s whose message starts with `torch: <source>: `.
 *
 * @module
 */
import * as zlib from 'node:zlib';

/** At most this many entries in an archive (a state dict has one per storage, plus a few). */
export const MAX_ZIP_ENTRIES = 1_000_000;

export interface ZipEntry {
  name: string;
  method: 0 | 8;
  crc32: number;
  compressedSize: number;
  size: number;
  /** Offset of the entry's data (after its local header). */
  dataOffset: number;
}

function fail(source: string, msg: string): never {
  throw new Error(`torch: ${source}: ${msg}`);
}

const EOCD = 0x06054b50, ZIP64_LOCATOR = 0x07064b50, ZIP64_EOCD = 0x06064b50, CENTRAL = 0x02014b50, LOCAL = 0x04034b50;

/** A 64-bit little-endian integer that must be a safe number within `max`. */
function u64(v: DataView, o: number, max: number, source: string, what: string): number {
  const n = v.getBigUint64(o, true);
  if (n > BigInt(max)) fail(source, `${what} ${n} is past the end of the ${max}-byte archive`);
  return Number(n);
}

/** Whether `buf` starts like a ZIP archive. */
export function isZip(buf: Uint8Array): boolean {
  return buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 0x03 && buf[3] === 0x04;
}

export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array, private readonly source: string) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.readDirectory();
  }

  private readDirectory(): void {
    const { buf, view, source } = this;
    const n = buf.length;
    if (n < 22) fail(source, `truncated or not a zip archive (${n} bytes)`);
    // The EOCD record is at the end, before a comment of at most 65535 bytes.
    let eocd = -1;
    for (let o = n - 22; o >= Math.max(0, n - 22 - 0xffff); o--)
      if (view.getUint32(o, true) === EOCD && o + 22 + view.getUint16(o + 20, true) === n) {
        eocd = o;
        break;
      }
    if (eocd < 0) fail(source, 'truncated or not a zip archive: no end-of-central-directory record');
    if (view.getUint16(eocd + 4, true) !== 0 || view.getUint16(eocd + 6, true) !== 0) fail(source, 'multi-disk zip archives are not supported');
    let count = view.getUint16(eocd + 10, true);
    let cdSize = view.getUint32(eocd + 12, true);
    let cdOffset = view.getUint32(eocd + 16, true);
    let cdEnd = eocd;
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || view.getUint32(loc, true) !== ZIP64_LOCATOR) fail(source, 'a ZIP64 archive without its ZIP64 locator');
      const z = u64(view, loc + 8, n - 56, source, 'the ZIP64 record offset');
      if (view.getUint32(z, true) !== ZIP64_EOCD) fail(source, 'the ZIP64 end-of-central-directory record is missing');
      count = u64(view, z + 32, n, source, 'the entry count');
      cdSize = u64(view, z + 40, n, source, 'the central directory size');
      cdOffset = u64(view, z + 48, n, source, 'the central directory offset');
      cdEnd = z;
    }
    if (cdOffset + cdSize > cdEnd) fail(source, `the central directory (${cdSize} bytes at ${cdOffset}) overlaps its end record at ${cdEnd}`);
    if (count > MAX_ZIP_ENTRIES || count * 46 > cdSize) fail(source, `${count} entries cannot fit in a ${cdSize}-byte central directory`);
    let o = cdOffset;
    for (let i = 0; i < count; i++) {
      if (o + 46 > cdOffset + cdSize || view.getUint32(o, true) !== CENTRAL) fail(source, `central directory entry ${i} is malformed`);
      const flags = view.getUint16(o + 8, true);
      const method = view.getUint16(o + 10, true);
      const crc32 = view.getUint32(o + 16, true);
      let compressedSize = view.getUint32(o + 20, true);
      let size = view.getUint32(o + 24, true);
      const nameLen = view.getUint16(o + 28, true), extraLen = view.getUint16(o + 30, true), commentLen = view.getUint16(o + 32, true);
      let localOffset = view.getUint32(o + 42, true);
      const end = o + 46 + nameLen + extraLen + commentLen;
      if (end > cdOffset + cdSize) fail(source, `central directory entry ${i} runs past the directory`);
      const name = Buffer.from(buf.buffer, buf.byteOffset + o + 46, nameLen).toString('utf8');
      if (flags & 1) fail(source, `${name} is encrypted`);
      if (method !== 0 && method !== 8) fail(source, `${name} uses compression method ${method} (only stored and deflate are supported)`);
      // ZIP64 extended information: the 64-bit values of the fields that are 0xFFFFFFFF, in this order.
      let e = o + 46 + nameLen;
      const extraEnd = e + extraLen;
      while (e + 4 <= extraEnd) {
        const id = view.getUint16(e, true), len = view.getUint16(e + 2, true);
        if (e + 4 + len > extraEnd) fail(source, `${name}: a malformed extra field`);
        if (id === 1) {
          let p = e + 4;
          const take = (what: string): number => {
            if (p + 8 > e + 4 + len) fail(source, `${name}: the ZIP64 extra field is too short for its ${what}`);
            const v = u64(view, p, n, source, `${name}'s ${what}`);
            p += 8;
            return v;
          };
          if (size === 0xffffffff) size = take('size');
          if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
          if (localOffset === 0xffffffff) localOffset = take('offset');
        }
        e += 4 + len;
      }
      if (localOffset + 30 > cdOffset) fail(source, `${name}: its local header at ${localOffset} is outside the archive's data`);
      if (view.getUint32(localOffset, true) !== LOCAL) fail(source, `${name}: no local header at ${localOffset}`);
      const dataOffset = localOffset + 30 + view.getUint16(localOffset + 26, true) + view.getUint16(localOffset + 28, true);
      if (dataOffset + compressedSize > cdOffset) fail(source, `${name}: its ${compressedSize} bytes at ${dataOffset} run past the archive's data`);
      if (method === 0 && compressedSize !== size) fail(source, `${name} is stored with ${compressedSize} bytes but declares ${size}`);
      if (this.entries.has(name)) fail(source, `${name} appears twice in the archive`);
      this.entries.set(name, { name, method: method as 0 | 8, crc32, compressedSize, size, dataOffset });
      o = end;
    }
  }

  /** The bytes of an entry (a view for stored entries), checked against its CRC-32. */
  read(name: string): Uint8Array {
    const e = this.entries.get(name);
    if (!e) fail(this.source, `the archive has no ${name}`);
    const raw = this.buf.subarray(e.dataOffset, e.dataOffset + e.compressedSize);
    let data: Uint8Array;
    if (e.method === 0) data = raw;
    else {
      try {
        data = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) });
      } catch (err) {
        fail(this.source, `${name} cannot be inflated to its declared ${e.size} bytes (${(err as Error).message})`);
      }
      if (data.length !== e.size) fail(this.source, `${name} inflates to ${data.length} bytes but declares ${e.size}`);
    }
    if (zlib.crc32(data) !== e.crc32) fail(this.source, `${name} is corrupt (CRC-32 mismatch)`);
    return data;
  }
}
