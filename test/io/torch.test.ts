// PyTorch .pt checkpoints read natively (src/io/torch*.ts): files written by the
// PyTorch installed here (test/fixtures/gen_torch_pt.py → test/fixtures/torch/),
// compared value by value and through LeNet's output; hostile pickles refused
// by name without running anything; crafted archives and views bounded by the
// file; and a mutation fuzz of the pickle, the archive and the legacy stream.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InferenceSession, io, models, noGrad, tensor } from '../../src';
import { loadWithMetadata, deserialize } from '../../src/io/checkpoint';
import { makeRng, randInt, fixture } from '../helpers';
import { PYTHON, pytorch, requireOrSkip } from '../helpers/requirements';
import { P, tensorDictPickle, torchZip, writeZip } from './zipwriter';
import { ZipArchive } from '../../src/io/torch_zip';

const DIR = path.join(__dirname, '..', 'fixtures', 'torch');
interface Expected {
  torch: string;
  files: Record<string, {
    same_as?: string;
    refused?: string;
    metadata?: Record<string, string>;
    output?: number[];
    tensors?: Record<string, { shape: number[]; dtype: string; values?: number[]; sum?: number; sumsq?: number; first?: number[]; last?: number[] }>;
  }>;
}
const expected = fixture<Expected>('torch/expected.json');
const file = (n: string) => path.join(DIR, n);

/** Throws, and the message starts with 'torch: ' and matches re. */
function expectTorchError(f: () => unknown, re: RegExp): string {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, 'should throw').toBeInstanceOf(Error);
  const msg = (err as Error).message;
  expect(msg).toMatch(/^((load|loadWithMetadata|deserialize): )?torch: /); // the public op, then the reader
  expect(msg).toMatch(re);
  return msg;
}

function checkAgainst(name: string, got: { tensors: Record<string, import('../../src').Tensor>; metadata: Record<string, string> }): void {
  let e = expected.files[name];
  if (e.same_as) e = expected.files[e.same_as];
  expect(Object.keys(got.tensors).sort(), name).toEqual(Object.keys(e.tensors!).sort());
  for (const [k, want] of Object.entries(e.tensors!)) {
    const t = got.tensors[k];
    expect(t.shape, `${name} ${k}`).toEqual(want.shape);
    const v = Array.from(t.data());
    if (want.values) {
      expect(v.length).toBe(want.values.length);
      want.values.forEach((w, i) => expect(v[i], `${name} ${k}[${i}]`).toBe(Math.fround(w)));
    } else {
      want.first!.forEach((w, i) => expect(v[i], `${name} ${k}[${i}]`).toBe(Math.fround(w)));
      want.last!.forEach((w, i) => expect(v[v.length - want.last!.length + i], `${name} ${k} last`).toBe(Math.fround(w)));
      expect(v.reduce((a, b) => a + b, 0)).toBeCloseTo(want.sum!, 4);
      expect(v.reduce((a, b) => a + b * b, 0)).toBeCloseTo(want.sumsq!, 3);
    }
  }
  expect(got.metadata, name).toEqual(e.metadata);
}

describe('PyTorch files written by torch.save', () => {
  it(`were written by PyTorch (${expected.torch}) and are committed`, () => {
    for (const n of Object.keys(expected.files)) expect(fs.existsSync(file(n)), n).toBe(true);
  });

  for (const name of ['lenet.pt', 'lenet_legacy.pt', 'lenet_proto4.pt', 'dtypes.pt', 'views.pt', 'checkpoint.pt', 'params.pt']) {
    it(`${name}: every tensor, shape and metadata value as PyTorch wrote it (io.loadWithMetadata)`, () => {
      const got = loadWithMetadata(file(name));
      try {
        checkAgainst(name, got);
      } finally {
        for (const t of Object.values(got.tensors)) t.dispose();
      }
    });
  }

  it("lenet.pt loads into models.LeNet() (strict) and gives PyTorch's output on the same input", () => {
    const out = expected.files['lenet.pt'].output!;
    const x = tensor(Float32Array.from({ length: 784 }, (_, i) => -1 + (2 * i) / 783), [1, 1, 28, 28]);
    for (const name of ['lenet.pt', 'lenet_legacy.pt', 'lenet_proto4.pt']) {
      const model = models.LeNet().eval();
      const sd = io.load(file(name));
      model.loadStateDict(sd);
      const y = noGrad(() => model.forward(x)).data();
      out.forEach((v, i) => expect(Math.abs(y[i] - v), `${name} logit ${i}`).toBeLessThan(1e-5));
    }
    // InferenceSession.load reads it too
    const session = InferenceSession.load(file('lenet.pt'));
    const y = session.runSync(x).data();
    out.forEach((v, i) => expect(Math.abs(y[i] - v), `session logit ${i}`).toBeLessThan(1e-5));
    session.dispose();
  });

  it('deserialize() and io.parseTorch() read the bytes; the legacy and zip files give identical tensors', () => {
    const a = deserialize(fs.readFileSync(file('lenet.pt')));
    const b = io.parseTorch(fs.readFileSync(file('lenet_legacy.pt')));
    expect(Object.keys(a.tensors)).toEqual(Object.keys(b.tensors));
    for (const [k, t] of Object.entries(a.tensors)) expect(Array.from(io.toFloat32(b.tensors[k])), k).toEqual(Array.from(t.data()));
  });

  it('refuses pickles that name os.system, builtins.eval or a whole nn.Module, without running them', () => {
    const marker = '/tmp/blasnet-pwned';
    fs.rmSync(marker, { force: true });
    for (const name of ['evil_system.pt', 'evil_eval.pt', 'whole_model.pt']) {
      const refused = expected.files[name].refused!;
      const msg = expectTorchError(() => io.load(file(name)), new RegExp(refused.replace(/[.]/g, '\\.')));
      expect(msg).toContain(file(name));
      if (name === 'whole_model.pt') expect(msg).toMatch(/whole pickled model.*state_dict\(\)/);
      else expect(msg).toMatch(/never needs; it is refused/);
    }
    expect(fs.existsSync(marker), 'nothing ran').toBe(false);
  });
});

describe('crafted archives and pickles', () => {
  const f32 = (xs: number[]) => new Uint8Array(Float32Array.from(xs).buffer);

  it('a minimal hand-built archive reads, including a strided view and a ZIP64 directory', () => {
    const pkl = tensorDictPickle('w', [2, 2], [1, 2], 1, 5);
    for (const zip64 of [false, true]) {
      const buf = writeZip([{ name: 'a/data.pkl', data: pkl }, { name: 'a/data/0', data: f32([9, 1, 2, 3, 4]) }], { zip64 });
      const r = io.parseTorch(buf, 'crafted');
      expect(r.tensors.w.shape).toEqual([2, 2]);
      expect(Array.from(io.toFloat32(r.tensors.w))).toEqual([1, 3, 2, 4]);
    }
    // deflated entries inflate to their declared size
    const deflated = writeZip([{ name: 'a/data.pkl', data: pkl, deflate: true }, { name: 'a/data/0', data: f32([9, 1, 2, 3, 4]), deflate: true }]);
    expect(Array.from(io.toFloat32(io.parseTorch(deflated).tensors.w))).toEqual([1, 3, 2, 4]);
  });

  it('views outside their storage, missing storages and short storages are refused', () => {
    const zip = (pkl: Buffer, data: Uint8Array) => torchZip(pkl, { '0': data });
    expectTorchError(() => io.parseTorch(zip(tensorDictPickle('w', [3, 3], [3, 1], 0, 4), f32([1, 2, 3, 4]))), /reaches element 8 of a storage of 4/);
    expectTorchError(() => io.parseTorch(zip(tensorDictPickle('w', [2], [1], 3, 4), f32([1, 2, 3, 4]))), /reaches element 4 of a storage of 4/);
    expectTorchError(() => io.parseTorch(zip(tensorDictPickle('w', [4], [1], 0, 4), f32([1, 2]))), /fewer than its 4 F32 elements/);
    expectTorchError(() => io.parseTorch(torchZip(tensorDictPickle('w', [1], [1], 0, 1), {})), /storage 0 is referenced but archive\/data\/0 is not in the archive/);
    expectTorchError(() => io.parseTorch(zip(tensorDictPickle('w', [65536, 65536], [65536, 1], 0, 1), f32([1]))), /4294967296 elements is more than the limit/);
    expectTorchError(() => io.parseTorch(zip(tensorDictPickle('w', [2], [1], 0, 2, 'QUInt8Storage'), f32([1, 2]))), /names the global torch\.QUInt8Storage/);
  });

  it('opcodes and constructs a state dict never uses are refused by name', () => {
    const cases: [string, Buffer, RegExp][] = [
      ['INST', Buffer.concat([P.proto, P.op(P.MARK), Buffer.from('ios\nsystem\n'), P.op(P.STOP)]), /opcode 0x69/],
      ['OBJ', Buffer.concat([P.proto, P.op(P.MARK), P.op(0x6f), P.op(P.STOP)]), /opcode 0x6f/],
      ['EXT1', Buffer.concat([P.proto, P.op(0x82, 1), P.op(P.STOP)]), /opcode 0x82/],
      ['STACK_GLOBAL os.system', Buffer.concat([P.proto, P.str('os'), P.str('system'), P.op(0x93), P.op(P.STOP)]), /names the global os\.system/],
      ['GLOBAL builtins.exec', Buffer.concat([P.proto, P.global('builtins', 'exec'), P.op(P.STOP)]), /builtins\.exec/],
      ['REDUCE on a string', Buffer.concat([P.proto, P.str('x'), P.op(P.EMPTY_TUPLE, P.REDUCE, P.STOP)]), /REDUCE calls a string/],
      ['OrderedDict with arguments', Buffer.concat([P.proto, P.global('collections', 'OrderedDict'), P.op(P.MARK), P.int(1), P.op(P.TUPLE, P.REDUCE, P.STOP)]), /OrderedDict with arguments/],
      ['a list holding itself', Buffer.concat([P.proto, P.op(P.EMPTY_DICT), P.str('k'), P.op(P.EMPTY_LIST, P.BINPUT, 0, P.BINGET, 0, P.APPEND, P.SETITEM, P.STOP)]), /contains itself/],
      ['a memo key never stored', Buffer.concat([P.proto, P.op(P.BINGET, 7, P.STOP)]), /memo key 7/],
      ['stack underflow', Buffer.concat([P.proto, P.op(P.SETITEM, P.STOP)]), /underflow/],
      ['no STOP', Buffer.concat([P.proto, P.op(P.EMPTY_DICT)]), /no STOP/],
      ['a bare tensor list', Buffer.concat([P.proto, P.op(P.EMPTY_LIST, P.STOP)]), /holds a list, not a state dict/],
      ['a BUILD that sets other attributes', Buffer.concat([P.proto, P.op(P.EMPTY_DICT, P.EMPTY_DICT), P.str('__class__'), P.int(1), P.op(P.SETITEM, 0x62, P.STOP)]), /BUILD sets the attribute __class__/],
    ];
    for (const [name, pkl, re] of cases) expectTorchError(() => io.parseTorch(torchZip(pkl, {}), name), re);
  });

  it('archive damage is refused: truncation, CRC errors, lying sizes, two data.pkl, big-endian files', () => {
    const good = fs.readFileSync(file('lenet.pt'));
    for (const cut of [10, 1000, good.length >> 1, good.length - 30, good.length - 1])
      expectTorchError(() => io.parseTorch(good.subarray(0, cut)), /truncated|end-of-central-directory|outside|past/);
    const flipped = Buffer.from(good);
    flipped[good.length >> 1] ^= 0x40; // inside the largest stored storage (7.weight)
    expectTorchError(() => io.parseTorch(flipped), /CRC-32 mismatch/);
    const pkl = tensorDictPickle('w', [1], [1], 0, 1);
    expectTorchError(() => io.parseTorch(writeZip([{ name: 'a/data.pkl', data: pkl, deflate: true, declaredSize: 10 }])), /cannot be inflated to its declared 10 bytes/);
    const bomb = writeZip([{ name: 'a/data.pkl', data: pkl }, { name: 'a/data/0', data: Buffer.alloc(8 << 20), deflate: true, declaredSize: 4 }]);
    expect(bomb.length).toBeLessThan(64 * 1024);
    expectTorchError(() => io.parseTorch(bomb), /cannot be inflated to its declared 4 bytes/);
    expectTorchError(() => io.parseTorch(writeZip([{ name: 'a/data.pkl', data: pkl }, { name: 'b/data.pkl', data: pkl }])), /2 data\.pkl/);
    expectTorchError(() => io.parseTorch(torchZip(pkl, { '0': new Uint8Array(4) }, [{ name: 'archive/byteorder', data: Buffer.from('big') }])), /"big"-endian/);
    expectTorchError(() => io.parseTorch(writeZip([{ name: 'x.txt', data: Buffer.from('hi') }])), /no <name>\/data\.pkl/);
  });

  it('io.load on a directory, a FIFO-like non-file and a missing file names the problem', () => {
    expect(() => io.loadTorch(os.tmpdir())).toThrow(/not a regular file/);
    expect(() => io.loadTorch('/no/such.pt')).toThrow(/torch: \/no\/such\.pt: no such file/);
  });
});

describe('mutation fuzz', () => {
  /** data.pkl and the storages of a committed file, as the archive holds them. */
  function parts(name: string): { pkl: Uint8Array; storages: Record<string, Uint8Array> } {
    const zip = new ZipArchive(fs.readFileSync(file(name)), name);
    const prefix = [...zip.entries.keys()].find((n) => n.endsWith('/data.pkl'))!.slice(0, -'data.pkl'.length);
    const storages: Record<string, Uint8Array> = {};
    for (const n of zip.entries.keys()) if (n.startsWith(`${prefix}data/`)) storages[n.slice(prefix.length + 5)] = zip.read(n);
    return { pkl: zip.read(`${prefix}data.pkl`), storages };
  }

  function mutate(r: () => number, b: Uint8Array): Buffer {
    const m = Buffer.from(b);
    const edits = randInt(r, 1, 4);
    for (let e = 0; e < edits; e++) {
      const k = randInt(r, 0, m.length - 1);
      const kind = r();
      if (kind < 0.6) m[k] = randInt(r, 0, 255);
      else if (kind < 0.8) m[k] ^= 1 << randInt(r, 0, 7);
      else return Buffer.concat([m.subarray(0, k), m.subarray(k + randInt(r, 1, 8))]); // delete a few bytes
    }
    return m;
  }

  function expectOnlyTorchErrors(n: number, make: (r: () => number) => Buffer, seed: number): { ok: number; refused: number } {
    const r = makeRng(seed);
    let ok = 0, refused = 0;
    for (let i = 0; i < n; i++) {
      const buf = make(r);
      try {
        const f = io.parseTorch(buf, 'fuzz');
        for (const t of Object.values(f.tensors)) expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
        ok++;
      } catch (e) {
        if (!(e instanceof Error) || !e.message.startsWith('torch: fuzz: ')) throw new Error(`mutation ${i}: ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`);
        refused++;
      }
    }
    return { ok, refused };
  }

  it('6,000 mutated pickles (in otherwise valid archives) load or throw a torch: Error', () => {
    const sources = ['dtypes.pt', 'checkpoint.pt', 'views.pt'].map(parts);
    const { ok, refused } = expectOnlyTorchErrors(6000, (r) => {
      const s = sources[randInt(r, 0, sources.length - 1)];
      return torchZip(mutate(r, s.pkl), s.storages);
    }, 1);
    expect(refused).toBeGreaterThan(1000);
    expect(ok).toBeGreaterThan(50);
  });

  it('4,000 mutated archives and 2,000 mutated legacy files load or throw a torch: Error', () => {
    const small = torchZip(tensorDictPickle('w', [2, 3], [3, 1], 0, 6), { '0': new Uint8Array(24) });
    expectOnlyTorchErrors(4000, (r) => mutate(r, small), 2);
    const legacy = fs.readFileSync(file('lenet_legacy.pt'));
    const head = legacy.subarray(0, 3000); // the pickles; storages follow
    expectOnlyTorchErrors(2000, (r) => Buffer.concat([mutate(r, head), legacy.subarray(3000)]), 3);
  });
});

describe('with the PyTorch installed here', () => {
  it('a state dict of random shapes and dtypes written now by torch.save reads back exactly', (ctx) => {
    requireOrSkip(ctx, pytorch());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-pt-'));
    const out = path.join(dir, 'fresh.pt');
    const script = `
import torch, json, sys
g = torch.Generator().manual_seed(7)
sd = {}
for i, dt in enumerate([torch.float32, torch.float64, torch.float16, torch.int64, torch.uint8]):
    shape = [int(v) for v in torch.randint(1, 5, (i % 3 + 1,), generator=g)]
    t = (torch.randn(*shape, generator=g) * 10).to(dt)
    sd[f"t{i}"] = t.t() if t.ndim == 2 else t
torch.save(sd, sys.argv[1])
print(json.dumps({k: {"shape": list(v.shape), "values": v.double().flatten().tolist()} for k, v in sd.items()}))
`;
    const r = spawnSync(PYTHON, ['-c', script, out], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const want = JSON.parse(r.stdout) as Record<string, { shape: number[]; values: number[] }>;
    const got = io.load(out);
    for (const [k, w] of Object.entries(want)) {
      expect(got[k].shape).toEqual(w.shape);
      expect(Array.from(got[k].data())).toEqual(w.values.map(Math.fround));
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the committed fixtures hold what the generator writes with this PyTorch', (ctx) => {
    requireOrSkip(ctx, pytorch());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-ptgen-'));
    const r = spawnSync(PYTHON, [path.join(__dirname, '..', 'fixtures', 'gen_torch_pt.py'), dir], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const fresh = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected;
    // PyTorch's own forward (LeNet's `output`) rounds differently across CPUs and OpenBLAS kernels: compared
    // to float32 rounding; everything read from the files themselves exactly.
    const strip = (f: Expected['files']) => Object.fromEntries(Object.entries(f).map(([k, v]) => [k, { ...v, output: undefined }]));
    expect(strip(fresh.files)).toEqual(strip(expected.files));
    const outFresh = fresh.files['lenet.pt'].output!, outCommitted = expected.files['lenet.pt'].output!;
    expect(outFresh.length).toBe(outCommitted.length);
    outFresh.forEach((v, i) => expect(Math.abs(v - outCommitted[i]), `output[${i}]`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(v))));
    // and the regenerated files read the same as the committed ones
    for (const name of ['lenet.pt', 'dtypes.pt', 'views.pt']) {
      const a = io.load(path.join(dir, name)), b = io.load(file(name));
      for (const k of Object.keys(b)) expect(Array.from(a[k].data()), `${name} ${k}`).toEqual(Array.from(b[k].data()));
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
