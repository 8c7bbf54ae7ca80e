// Files that cost unbounded work or memory, or confuse the returned dicts:
// non-regular files (/dev/zero, FIFOs, directories), gzip IDX bombs, headers
// of millions of empty tensors, tensors named __proto__, and the temp files of
// a save that was killed mid-write.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { execFileSync, spawn } from 'node:child_process';
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { io, data, nn, tensor, Tensor } from '../../src';
import { MAX_TENSORS } from '../../src/io/safetensors';
import { removeStaleTempFiles } from '../../src/io/atomic';
import { runNode, runNodeJson, UNDER_SANITIZER } from '../helpers/child';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-hostile-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A safetensors file from a raw header string and data bytes. */
function rawSafetensors(header: string, dataBytes: Uint8Array = new Uint8Array(0)): Buffer {
  const h = Buffer.from(header);
  const out = Buffer.alloc(8 + h.length + dataBytes.length);
  out.writeBigUInt64LE(BigInt(h.length));
  h.copy(out, 8);
  out.set(dataBytes, 8 + h.length);
  return out;
}

describe('only regular files are read, and opening never blocks', () => {
  it('io.load, loadSafetensors, readIdx and mnist refuse /dev/zero, a FIFO and a directory at once (child process with a time limit)', () => {
    const fifo = path.join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const mnistDir = path.join(dir, 'mnist');
    fs.mkdirSync(mnistDir);
    fs.symlinkSync('/dev/zero', path.join(mnistDir, 'train-images-idx3-ubyte'));
    fs.symlinkSync('/dev/zero', path.join(mnistDir, 'train-labels-idx1-ubyte'));
    // before the fix each of these read forever or blocked forever; the child has 30 s for all of them
    const out = runNodeJson<Record<string, string>>(`
      const r = {};
      const tryIt = (k, f) => { try { f(); r[k] = 'returned'; } catch (e) { r[k] = e.message; } };
      for (const [name, p] of [['zero', '/dev/zero'], ['fifo', ${JSON.stringify(fifo)}], ['dir', ${JSON.stringify(dir)}]]) {
        tryIt('load ' + name, () => blasnet.io.load(p));
        tryIt('loadSafetensors ' + name, () => blasnet.io.loadSafetensors(p));
        tryIt('readIdx ' + name, () => blasnet.data.readIdx(p));
      }
      tryIt('mnist', () => blasnet.data.mnist({ dir: ${JSON.stringify(mnistDir)} }));
      process.stdout.write(JSON.stringify(r));
    `, { timeout: 30_000 });
    for (const name of ['zero', 'fifo', 'dir']) {
      const what = { zero: 'a character device', fifo: 'a FIFO \\(named pipe\\)', dir: 'a directory' }[name];
      expect(out[`load ${name}`]).toMatch(new RegExp(`^load: safetensors: .*: cannot read file: .* is ${what}, not a regular file`));
      expect(out[`loadSafetensors ${name}`]).toMatch(new RegExp(`is ${what}, not a regular file`));
      expect(out[`readIdx ${name}`]).toMatch(new RegExp(`^idx: .*: cannot read file: .* is ${what}, not a regular file`));
    }
    expect(out.mnist).toMatch(/a character device, not a regular file/);
  });

  it('a plain IDX file is read only after its header matches its size', () => {
    const f = path.join(dir, 'labels');
    const buf = Buffer.alloc(8 + 5);
    buf[2] = 0x08;
    buf[3] = 1;
    buf.writeUInt32BE(1_000_000, 4); // declares 1e6 bytes, has 5
    fs.writeFileSync(f, buf);
    expect(() => data.readIdx(f)).toThrow(/labels: file has 5 bytes of data but dims \[1000000\] need 1000000/);
  });
});

describe('gzip IDX: the header is checked first and the inflate is bounded by what it declares', () => {
  /** One gzip member per chunk: `members` × 1 MiB of zeros after an IDX header (a ~1 MB file that inflates to GBs). */
  function bomb(header: Buffer, members: number): Buffer {
    const zeros = zlib.gzipSync(Buffer.alloc(1 << 20), { level: 9 });
    return Buffer.concat([zlib.gzipSync(header), ...new Array<Buffer>(members).fill(zeros)]);
  }
  const idxHeader = (code: number, dims: number[], magic = 0): Buffer => {
    const h = Buffer.alloc(4 + 4 * dims.length);
    h[0] = magic;
    h[2] = code;
    h[3] = dims.length;
    dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
    return h;
  };

  it('a 1 MB file that inflates to 1 GiB fails fast, with bounded memory (child process, peak RSS)', () => {
    const small = path.join(dir, 'small.gz'), bad = path.join(dir, 'bad.gz'), huge = path.join(dir, 'huge.gz');
    fs.writeFileSync(small, bomb(idxHeader(0x08, [10]), 1024)); // declares 10 bytes
    fs.writeFileSync(bad, bomb(idxHeader(0x08, [10], 7), 1024)); // bad magic
    fs.writeFileSync(huge, bomb(idxHeader(0x08, [4_000_000_000]), 4)); // declares 4 GB, has 4 MiB
    expect(fs.statSync(small).size).toBeLessThan(1.5e6);
    const out = runNodeJson<{ msgs: string[]; rssMiB: number }>(`
      const base = process.memoryUsage().rss;
      const msgs = [];
      for (const f of ${JSON.stringify([small, bad, huge])}) {
        try { blasnet.data.readIdx(f); msgs.push('returned'); } catch (e) { msgs.push(e.message); }
      }
      process.stdout.write(JSON.stringify({ msgs, rssMiB: (process.resourceUsage().maxRSS * 1024 - base) / 2 ** 20 }));
    `, { timeout: 60_000 });
    expect(out.msgs[0]).toMatch(/small\.gz: the gzip stream inflates to more than the 18 bytes its header declares \(dims \[10\]\): extra trailing data/);
    expect(out.msgs[1]).toMatch(/bad\.gz: bad magic number: expected first two bytes 0x00 0x00, got 0x07 0x00/);
    expect(out.msgs[2]).toMatch(/huge\.gz: dims \[4000000000\] need 4000000008 bytes, more than a \d+-byte gzip stream can inflate to/);
    // the whole file is read (1 MB); nothing near the 1 GiB it inflates to is ever allocated
    if (!UNDER_SANITIZER) expect(out.rssMiB).toBeLessThan(64);
  });

  it('decodeIdx (in memory) is bounded the same way, and valid gzip files still decode', () => {
    expect(() => data.decodeIdx(bomb(idxHeader(0x08, [3]), 64), 'mem')).toThrow(/^idx: mem: the gzip stream inflates to more than the 11 bytes its header declares/);
    const arr = { dtype: 'int16' as const, dims: [3, 2], data: Int16Array.from([1, -2, 3, -4, 5, 32767]) };
    const gz = zlib.gzipSync(data.serializeIdx(arr));
    expect(data.decodeIdx(gz)).toEqual(arr);
    // a header split across gzip members, and a highly compressible valid file
    const raw = data.serializeIdx({ dtype: 'uint8', dims: [1 << 20], data: new Uint8Array(1 << 20) });
    const split = Buffer.concat([zlib.gzipSync(raw.subarray(0, 3)), zlib.gzipSync(raw.subarray(3))]);
    expect(data.decodeIdx(split).dims).toEqual([1 << 20]);
    expect(data.decodeIdx(zlib.gzipSync(raw, { level: 9 })).data.length).toBe(1 << 20);
  });
});

describe('safetensors: a header of millions of empty tensors is refused before it is parsed', () => {
  const empties = (n: number) => {
    const parts = new Array<string>(n);
    for (let i = 0; i < n; i++) parts[i] = `"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`;
    return rawSafetensors(`{${parts.join(',')}}`);
  };

  it(`one more than MAX_TENSORS (${MAX_TENSORS}) empty tensors throws; a million costs no seconds or gigabytes (child process)`, () => {
    expect(() => io.deserialize(empties(MAX_TENSORS + 1), 'f')).toThrow(/^deserialize: safetensors: f: header describes 65537 tensors, more than the 65536 one file may hold/);
    const file = path.join(dir, 'many.safetensors');
    fs.writeFileSync(file, empties(1_000_000));
    const r = runNodeJson<{ msg: string; ms: number; rssMiB: number }>(`
      const base = process.memoryUsage().rss;
      const t = Date.now();
      let msg = 'returned';
      try { blasnet.io.load(${JSON.stringify(file)}); } catch (e) { msg = e.message; }
      process.stdout.write(JSON.stringify({ msg, ms: Date.now() - t, rssMiB: (process.resourceUsage().maxRSS * 1024 - base) / 2 ** 20 }));
    `, { timeout: 60_000 });
    expect(r.msg).toMatch(/^load: safetensors: .*many\.safetensors: header describes more than 65536 tensors \(the most one file may hold\)/);
    // was 22 s and 2.2 GB; the file itself is 59 MB and is read once
    if (!UNDER_SANITIZER) expect(r.rssMiB).toBeLessThan(200);
  });

  it('exactly MAX_TENSORS empty tensors load; braces inside strings are not counted', () => {
    const t = io.deserialize(empties(MAX_TENSORS)).tensors;
    expect(Object.keys(t).length).toBe(MAX_TENSORS);
    for (const v of Object.values(t)) v.dispose();
    const meta = { notes: '{'.repeat(MAX_TENSORS + 10), quoted: '\\"{{"' };
    const buf = io.serialize({ w: tensor([1, 2]) }, meta);
    const back = io.deserialize(buf);
    expect(back.metadata).toEqual(meta);
    expect(Array.from(back.tensors.w.data())).toEqual([1, 2]);
  });
});

describe('names are data: __proto__, constructor and friends are ordinary keys', () => {
  const header = '{"__proto__":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"constructor":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
  const file = () => rawSafetensors(header, new Uint8Array(new Float32Array([1.5, 2.5]).buffer));

  it('io.load / io.deserialize return a dict without a prototype holding both tensors', () => {
    const p = path.join(dir, 'proto.safetensors');
    fs.writeFileSync(p, file());
    for (const dict of [io.load(p), io.deserialize(file()).tensors]) {
      expect(Object.getPrototypeOf(dict)).toBeNull();
      expect(Object.keys(dict).sort()).toEqual(['__proto__', 'constructor']);
      expect(dict['__proto__']).toBeInstanceOf(Tensor);
      expect(Array.from(dict['__proto__'].data())).toEqual([1.5]);
      expect(Array.from(dict['constructor'].data())).toEqual([2.5]);
      expect('toString' in dict).toBe(false);
    }
  });

  it('io.save round-trips a __proto__ tensor (it was silently dropped)', () => {
    const p = path.join(dir, 'rt.safetensors');
    io.save(io.deserialize(file()).tensors, p);
    const back = io.load(p);
    expect(Object.keys(back).sort()).toEqual(['__proto__', 'constructor']);
    expect(Array.from(back['__proto__'].data())).toEqual([1.5]);
  });

  it('loadStateDict counts only own keys: constructor or __proto__ in a checkpoint are unexpected, not "found"', () => {
    const m = new nn.Linear(1, 1);
    const sd = m.stateDict();
    expect(Object.getPrototypeOf(sd)).toBeNull();
    const ck = io.deserialize(file()).tensors;
    ck['weight'] = tensor([[3]]);
    ck['bias'] = tensor([4]);
    expect(() => m.loadStateDict(ck)).toThrow(/loadStateDict: keys do not match; unexpected: (__proto__, constructor|constructor, __proto__)/);
    const r = m.loadStateDict(ck, { strict: false });
    expect(r.unexpectedKeys.sort()).toEqual(['__proto__', 'constructor']);
    expect(m.weight.item()).toBe(3);
    // a plain-object checkpoint missing a key: 'toString' is inherited there, not a tensor
    expect(() => m.loadStateDict({ weight: tensor([[1]]), toString: tensor([1]) } as never)).toThrow(/missing: bias; unexpected: toString/);
  });
});

describe('a save killed mid-write leaves no temp file behind for long', () => {
  const target = () => path.join(dir, 'model.safetensors');

  it('the next save removes the temp file of the killed writer (child killed by SIGKILL inside writeSync)', () => {
    // the child dies in the middle of writing its temp file, as a crash or `kill -9` would leave it
    const r = runNode(`
      const fs = require('fs');
      const write = fs.writeSync;
      fs.writeSync = (fd, buf, off, len) => { write(fd, buf, off, Math.min(len, 1 << 20)); process.kill(process.pid, 'SIGKILL'); };
      blasnet.io.save({ w: blasnet.zeros([4 << 20]) }, ${JSON.stringify(target())});
    `);
    expect(r.signal).toBe('SIGKILL');
    const left = fs.readdirSync(dir);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(/^\.model\.safetensors\..+\.\d+\.[0-9a-f]{12}\.tmp$/);
    expect(fs.statSync(path.join(dir, left[0])).size).toBe(1 << 20);
    // an unrelated dot file and another target's temp stay
    fs.writeFileSync(path.join(dir, '.model.safetensors.notes'), 'x');
    const otherTemp = left[0].replace('.model.safetensors.', '.state.safetensors.');
    fs.writeFileSync(path.join(dir, otherTemp), 'x');
    io.save({ w: tensor([1]) }, target());
    expect(fs.readdirSync(dir).sort()).toEqual(['.model.safetensors.notes', otherTemp, 'model.safetensors'].sort());
    expect(Array.from(io.load(target()).w.data())).toEqual([1]);
  });

  it('temp files of live writers (this process, another running process) and of other hosts are left alone', async () => {
    const sleeper = spawn('sleep', ['30']);
    try {
      const host = os.hostname().replace(/[^A-Za-z0-9-]/g, '-').slice(0, 32);
      const mine = `.model.safetensors.${host}.${process.pid}.aaaaaaaaaaaa.tmp`;
      const live = `.model.safetensors.${host}.${sleeper.pid}.bbbbbbbbbbbb.tmp`;
      const otherHost = `.model.safetensors.elsewhere-9.999999.cccccccccccc.tmp`;
      const dead = `.model.safetensors.${host}.999999999.dddddddddddd.tmp`;
      for (const n of [mine, live, otherHost, dead]) fs.writeFileSync(path.join(dir, n), 'partial');
      expect(removeStaleTempFiles(target())).toEqual([dead]);
      expect(fs.readdirSync(dir).sort()).toEqual([mine, live, otherHost].sort());
    } finally {
      sleeper.kill();
    }
  });
});
