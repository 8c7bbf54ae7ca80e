// A test-side ZIP writer (stored or deflated entries, optional ZIP64 records)
// for crafting PyTorch-like archives: hostile pickles, corrupt directories and
// the mutation fuzz. Independent of src/io/torch_zip.ts, which reads them.
import * as zlib from 'node:zlib';

export interface ZipInput {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
  /** Override the declared uncompressed size (to lie about it). */
  declaredSize?: number;
}

export function writeZip(entries: ZipInput[], opts: { zip64?: boolean } = {}): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const body = e.deflate ? zlib.deflateRawSync(e.data) : Buffer.from(e.data);
    const crc = zlib.crc32(e.data);
    const size = e.declaredSize ?? e.data.length;
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(e.deflate ? 8 : 0, 8);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(size, 22);
    lh.writeUInt16LE(name.length, 26);
    locals.push(lh, name, body);
    const extra = opts.zip64 ? Buffer.alloc(28) : Buffer.alloc(0);
    if (opts.zip64) {
      extra.writeUInt16LE(1, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(size), 4);
      extra.writeBigUInt64LE(BigInt(body.length), 12);
      extra.writeBigUInt64LE(BigInt(offset), 20);
    }
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(45, 4);
    ch.writeUInt16LE(45, 6);
    ch.writeUInt16LE(e.deflate ? 8 : 0, 10);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(opts.zip64 ? 0xffffffff : body.length, 20);
    ch.writeUInt32LE(opts.zip64 ? 0xffffffff : size, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt16LE(extra.length, 30);
    ch.writeUInt32LE(opts.zip64 ? 0xffffffff : offset, 42);
    centrals.push(ch, name, extra);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const tail: Buffer[] = [];
  if (opts.zip64) {
    const z = Buffer.alloc(56);
    z.writeUInt32LE(0x06064b50, 0);
    z.writeBigUInt64LE(44n, 4);
    z.writeBigUInt64LE(BigInt(entries.length), 24);
    z.writeBigUInt64LE(BigInt(entries.length), 32);
    z.writeBigUInt64LE(BigInt(cd.length), 40);
    z.writeBigUInt64LE(BigInt(offset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(offset + cd.length), 8);
    loc.writeUInt32LE(1, 16);
    tail.push(z, loc);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(opts.zip64 ? 0xffff : entries.length, 8);
  eocd.writeUInt16LE(opts.zip64 ? 0xffff : entries.length, 10);
  eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : cd.length, 12);
  eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : offset, 16);
  return Buffer.concat([...locals, cd, ...tail, eocd]);
}

/** Pickle building blocks (protocol 2), for hand-made hostile pickles. */
export const P = {
  proto: Buffer.from([0x80, 0x02]),
  global: (module: string, name: string) => Buffer.from(`c${module}\n${name}\n`, 'latin1'),
  str: (s: string) => {
    const b = Buffer.from(s, 'utf8');
    const h = Buffer.alloc(5);
    h[0] = 0x58;
    h.writeUInt32LE(b.length, 1);
    return Buffer.concat([h, b]);
  },
  int: (n: number) => {
    const b = Buffer.alloc(5);
    b[0] = 0x4a;
    b.writeInt32LE(n, 1);
    return b;
  },
  op: (...codes: number[]) => Buffer.from(codes),
  MARK: 0x28, TUPLE: 0x74, EMPTY_TUPLE: 0x29, EMPTY_DICT: 0x7d, EMPTY_LIST: 0x5d, REDUCE: 0x52, SETITEM: 0x73, SETITEMS: 0x75,
  BINPERSID: 0x51, STOP: 0x2e, NEWFALSE: 0x89, APPEND: 0x61, BINPUT: 0x71, BINGET: 0x68, TUPLE1: 0x85,
};

/**
 * The pickle of `{key: tensor}` for one float32 tensor of `size`/`stride`/`offset`
 * on storage '0' of `numel` elements: what torch.save writes, op for op.
 */
export function tensorDictPickle(key: string, size: number[], stride: number[], offset: number, numel: number, storageType = 'FloatStorage'): Buffer {
  const tuple = (xs: number[]) => Buffer.concat([P.op(P.MARK), ...xs.map(P.int), P.op(P.TUPLE)]);
  return Buffer.concat([
    P.proto, P.global('collections', 'OrderedDict'), P.op(P.EMPTY_TUPLE, P.REDUCE),
    P.str(key),
    P.global('torch._utils', '_rebuild_tensor_v2'),
    P.op(P.MARK),
    P.op(P.MARK), P.str('storage'), P.global('torch', storageType), P.str('0'), P.str('cpu'), P.int(numel), P.op(P.TUPLE, P.BINPERSID),
    P.int(offset), tuple(size), tuple(stride), P.op(P.NEWFALSE),
    P.global('collections', 'OrderedDict'), P.op(P.EMPTY_TUPLE, P.REDUCE),
    P.op(P.TUPLE, P.REDUCE),
    P.op(P.SETITEM, P.STOP),
  ]);
}

/** A PyTorch-layout archive: archive/data.pkl plus archive/data/<key> entries. */
export function torchZip(pickle: Uint8Array, storages: Record<string, Uint8Array>, extra: ZipInput[] = []): Buffer {
  return writeZip([
    { name: 'archive/data.pkl', data: pickle },
    ...Object.entries(storages).map(([k, data]) => ({ name: `archive/data/${k}`, data })),
    { name: 'archive/version', data: Buffer.from('3\n') },
    ...extra,
  ]);
}
