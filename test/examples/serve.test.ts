// examples/serve.ts over real sockets on loopback: any PNG size through the
// shared preprocessing, hostile PNGs refused before decoding (400/413), empty
// images 422, slow clients cut off by the header and request timeouts while
// others are served, a connection cap, and client disconnects logged as one
// line each (never a 500). Timeouts are set small here; nothing asserts on
// durations, only on what the server did.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../cli/helpers';
import { SIG, chunk, ihdr } from '../image/pngwriter';

// The example as users run it: compiled by `npm run build:examples`, loaded with
// Node's own require together with the compiled library it imports as 'blasnet'.
type Blasnet = typeof import('../../src');
type Serve = typeof import('../../examples/serve');
type ServerOptions = import('../../examples/serve').ServerOptions;
const req = createRequire(__filename);
let b: Blasnet;
let serve: Serve;

let dir: string;
let session: import('../../src').InferenceSession;
let digit: { raw: Buffer; png: Buffer; label: number };

beforeAll(() => {
  const r = spawnSync('npm', ['run', '--silent', 'build:examples'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm run build:examples failed:\n${r.stdout}\n${r.stderr}`);
  b = req(path.join(ROOT, 'dist'));
  serve = req(path.join(ROOT, 'examples', 'dist', 'serve.js'));
  const { InferenceSession, data, image, manualSeed, models } = b;
  dir = tempDir('serve');
  manualSeed(1);
  session = new InferenceSession(models.LeNet().eval());
  const ds = data.mnist({ split: 'test', normalize: false, limit: 1 });
  const px = ds.x.data();
  const raw = Buffer.from(Array.from(px, (v) => Math.round(255 * v)));
  const rgba = new Uint8Array(4 * 784);
  for (let i = 0; i < 784; i++) rgba.set([raw[i], raw[i], raw[i], 255], 4 * i);
  digit = { raw, png: image.encodePng({ width: 28, height: 28, data: rgba }), label: ds.y.data()[0] };
  ds.dispose();
}, 120_000);
afterAll(() => {
  session?.dispose();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Starts a server on a loopback port; returns it, its URL, the log lines and a stop(). */
async function start(opts: ServerOptions = {}, predictor: Parameters<Serve['createServer']>[0] = session) {
  const logs: string[] = [];
  const server: Server = serve.createServer(predictor, { log: (l) => logs.push(l), ...opts });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const stop = () => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
  return { server, port, url: `http://127.0.0.1:${port}`, logs, stop };
}

async function post(url: string, body: Uint8Array, type = 'image/png'): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(`${url}/predict`, { method: 'POST', headers: { 'content-type': type }, body });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

/** A raw socket: write() pieces, collect what comes back, know when the server closed it. */
function rawSocket(port: number) {
  const s = net.connect(port, '127.0.0.1');
  let received = '';
  let closed = false;
  s.on('data', (d) => (received += d.toString('latin1')));
  s.on('error', () => {});
  const done = new Promise<void>((r) => s.on('close', () => {
    closed = true;
    r();
  }));
  return { s, done, get received() { return received; }, get closed() { return closed; } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function canvasPng(ink: 'black' | 'white', w = 400, h = 250, x0 = 260, y0 = 20, scale = 6): Buffer {
  const rgba = new Uint8Array(4 * w * h);
  for (let j = 0; j < h; j++)
    for (let i = 0; i < w; i++) {
      const u = Math.floor((i - x0) / scale), v = Math.floor((j - y0) / scale);
      const a = u >= 0 && u < 28 && v >= 0 && v < 28 ? digit.raw[v * 28 + u] : 0;
      const c = ink === 'black' ? 0 : 255;
      rgba.set([c, c, c, a], 4 * (j * w + i));
    }
  return b.image.encodePng({ width: w, height: h, data: rgba });
}

describe('examples/serve.ts: images', () => {
  it('takes a 28×28 PNG, the same digit as raw bytes, and an off-centre 400×250 transparent canvas PNG', async () => {
    const { url, logs, stop } = await start();
    try {
      const a = await post(url, digit.png);
      const a2 = await post(url, digit.raw, 'application/octet-stream');
      expect(a.status).toBe(200);
      expect(a2.status).toBe(200);
      expect(a.json).toEqual(a2.json);
      const probs = a.json.probabilities as number[];
      expect(probs).toHaveLength(10);
      expect(Math.abs(probs.reduce((s, p) => s + p, 0) - 1)).toBeLessThan(1e-9);
      // same preprocessing as the library: the answer equals a direct run on image.prepareImage's output
      const { image, noGrad } = b;
      const p = image.loadImage(canvasPng('black'));
      const x = image.toInput(p);
      const want = noGrad(() => session.runSync(x).softmax(1)).data();
      x.dispose();
      const c = await post(url, canvasPng('black'));
      expect(c.status, JSON.stringify(c.json)).toBe(200);
      (c.json.probabilities as number[]).forEach((v, k) => expect(v).toBeCloseTo(want[k], 5));
      expect(logs).toEqual([]);
    } finally {
      await stop();
    }
  });

  it('refuses hostile PNGs before decoding them: a huge declared size (413), a second IHDR, a bomb, truncated data (400)', async () => {
    const { url, logs, stop } = await start();
    try {
      const idat = chunk('IDAT', zlib.deflateSync(Buffer.alloc(16)));
      const iend = chunk('IEND', new Uint8Array(0));
      const huge = Buffer.concat([SIG, ihdr(30000, 30000, 8, 6), idat, iend]);
      const r1 = await post(url, huge);
      expect(r1.status).toBe(413);
      expect(r1.json.error).toMatch(/30000×30000/);
      const twoHeaders = Buffer.concat([SIG, ihdr(28, 28, 8, 6), ihdr(30000, 30000, 8, 6), idat, iend]);
      const r2 = await post(url, twoHeaders);
      expect(r2.status).toBe(400);
      expect(r2.json.error).toMatch(/second IHDR/);
      const bomb = Buffer.concat([SIG, ihdr(28, 28, 8, 6, 1), chunk('IDAT', zlib.deflateSync(Buffer.alloc(4 << 20))), iend]);
      expect(bomb.length).toBeLessThan(64 * 1024);
      const r3 = await post(url, bomb);
      expect(r3.status).toBe(400);
      expect(r3.json.error).toMatch(/decompresses to more/);
      const r4 = await post(url, digit.png.subarray(0, digit.png.length - 30));
      expect(r4.status).toBe(400);
      expect(r4.json.error).toMatch(/truncated/);
      const r5 = await post(url, Buffer.from('not a png at all'));
      expect(r5.status).toBe(400);
      expect(logs).toEqual([]);
    } finally {
      await stop();
    }
  });

  it('answers 422 for an empty image instead of a confident guess', async () => {
    const { url, stop } = await start();
    try {
      const blank = b.image.encodePng({ width: 300, height: 200, data: new Uint8Array(4 * 300 * 200) });
      const r = await post(url, blank);
      expect(r.status).toBe(422);
      expect(r.json.error).toMatch(/transparent|empty/);
      const white = await post(url, Buffer.alloc(784, 255), 'application/octet-stream');
      expect(white.status).toBe(422);
      expect(() => serve.decodeRaw(Buffer.alloc(783))).toThrow(/784 bytes/);
    } finally {
      await stop();
    }
  });

  it('prints class names when given (--classes)', async () => {
    const { data } = b;
    const { url, stop } = await start({ classes: [...data.FASHION_MNIST_CLASSES] });
    try {
      const r = await post(url, digit.png);
      expect(r.json.name).toBe(data.FASHION_MNIST_CLASSES[r.json.class as number]);
    } finally {
      await stop();
    }
  });
});

describe('examples/serve.ts: slow and vanishing clients', () => {
  it('a client trickling its headers is cut off by the header timeout (408) while another is served', async () => {
    const { port, url, logs, stop } = await start({ headersTimeoutMs: 300, requestTimeoutMs: 600 });
    try {
      const slow = rawSocket(port);
      const header = 'POST /predict HTTP/1.1\r\nHost: x\r\ncontent-type: image/png\r\ncontent-length: 10\r\nx-padding: ' + 'a'.repeat(200);
      let sent = 0;
      const trickle = (async () => {
        while (!slow.closed && sent < header.length) {
          slow.s.write(header[sent++]);
          await sleep(20);
        }
      })();
      // meanwhile a normal client is served
      const ok = await post(url, digit.png);
      expect(ok.status).toBe(200);
      await slow.done;
      await trickle;
      expect(sent, 'the server closed the connection before the headers were complete').toBeLessThan(header.length);
      expect(slow.received).toMatch(/^HTTP\/1\.1 408/);
      expect(logs.some((l) => /took longer/.test(l)), logs.join('\n')).toBe(true);
    } finally {
      await stop();
    }
  });

  it('a client trickling its body is cut off by the request timeout', async () => {
    const { port, logs, stop } = await start({ headersTimeoutMs: 300, requestTimeoutMs: 500 });
    try {
      const slow = rawSocket(port);
      slow.s.write('POST /predict HTTP/1.1\r\nHost: x\r\ncontent-type: image/png\r\ncontent-length: 1000\r\n\r\n');
      let sent = 0;
      while (!slow.closed && sent < 1000) {
        slow.s.write('x');
        sent++;
        await sleep(20);
      }
      await slow.done;
      expect(sent).toBeLessThan(1000);
      // Either the timeout's 408, or (when the request was already being read) a close; never a 500.
      expect(slow.received).not.toMatch(/HTTP\/1\.1 500/);
      expect(logs.filter((l) => /inference failed/.test(l))).toEqual([]);
    } finally {
      await stop();
    }
  });

  it('caps open connections: past maxConnections a connection is refused at once, and freed slots are reused', async () => {
    const { port, url, logs, stop } = await start({ maxConnections: 3, headersTimeoutMs: 400, requestTimeoutMs: 800, keepAliveTimeoutMs: 400 });
    try {
      const idle = [rawSocket(port), rawSocket(port), rawSocket(port)];
      for (const c of idle) c.s.write('POST /predict HTTP/1.1\r\n');
      await sleep(50);
      const extra = rawSocket(port);
      await extra.done;
      expect(extra.received).toBe('');
      expect(logs.some((l) => /refused a connection .*3 connections/.test(l)), logs.join('\n')).toBe(true);
      await Promise.all(idle.map((c) => c.done)); // the header timeout frees them
      const ok = await post(url, digit.png);
      expect(ok.status).toBe(200);
    } finally {
      await stop();
    }
  });

  it('a client that disconnects mid-body is logged as one line, not as a 500 with a stack', async () => {
    const { port, url, logs, stop } = await start();
    try {
      for (let i = 0; i < 3; i++) {
        const c = rawSocket(port);
        c.s.write('POST /predict HTTP/1.1\r\nHost: x\r\ncontent-type: image/png\r\ncontent-length: 1000\r\n\r\n0123456789');
        await sleep(30);
        c.s.destroy();
        await c.done;
      }
      await sleep(50);
      const ok = await post(url, digit.png);
      expect(ok.status).toBe(200);
      expect(logs, logs.join('\n')).toHaveLength(3);
      for (const l of logs) {
        expect(l).toMatch(/client closed the connection after 10 of 1000 bytes/);
        expect(l).not.toMatch(/\n|at .*:\d+:\d+|500|failed/);
      }
    } finally {
      await stop();
    }
  });
});

describe('examples/serve.ts: options, arguments and any model', () => {
  it('createServer rejects unknown options and bad values', () => {
    expect(() => serve.createServer(session, { maxConection: 3 } as never)).toThrow(/unknown option 'maxConection'/);
    expect(() => serve.createServer(session, { maxConnections: 0 })).toThrow(/maxConnections must be a positive integer/);
  });

  it('parseArgs: --help, one checkpoint, named errors', () => {
    const { parseArgs } = serve, { data } = b;
    expect(parseArgs(['--help'])).toBe('help');
    expect(parseArgs(['m.pt', '--port', '0', '--classes', 'fashion-mnist'])).toMatchObject({ checkpoint: 'm.pt', port: 0, classes: [...data.FASHION_MNIST_CLASSES] });
    expect(() => parseArgs(['--frob'])).toThrow(/unknown option --frob/);
    expect(() => parseArgs(['a', 'b'])).toThrow(/unexpected argument "b"/);
    expect(() => parseArgs(['--port', '70000'])).toThrow(/--port must be an integer in 0..65535/);
    expect(() => parseArgs(['--port'])).toThrow(/--port needs a value/);
    expect(() => parseArgs(['--preprocess', 'crop'])).toThrow(/--preprocess must be/);
  });

  it('serves a custom Module given as a --model factory file, agreeing with its eager forward', async () => {
    const modelFile = path.join(dir, 'tiny-model.js');
    fs.writeFileSync(modelFile, `
      const { nn } = require(${JSON.stringify(path.resolve(__dirname, '..', '..', 'dist'))});
      class Tiny extends nn.Module {
        constructor() { super(); this.conv = new nn.Conv2d(1, 4, 3); this.fc = new nn.Linear(4 * 26 * 26, 10); }
        forward(x) { return this.fc.forward(this.conv.forward(x).relu().flatten(1)); }
      }
      module.exports = () => new Tiny();
    `);
    const { manualSeed, save, noGrad, tensor } = b;
    const factory = req(modelFile) as () => import('../../src').nn.Module;
    manualSeed(3);
    const ref = factory();
    const ckpt = path.join(dir, 'tiny.safetensors');
    save(ref.stateDict(), ckpt);
    const predictor = serve.loadPredictor(ckpt, modelFile, () => {});
    expect(predictor, 'a custom Module is served compiled, not eagerly').toBeInstanceOf(b.InferenceSession);
    const x = new Float32Array(784).map((_, i) => (i % 7) / 7);
    const got = await predictor.run(x, [1, 1, 28, 28]);
    ref.eval();
    const want = noGrad(() => ref.forward(tensor(x, [1, 1, 28, 28])));
    expect(Array.from(got.data())).toEqual(Array.from(want.data()));
    const { url, stop } = await start({}, predictor);
    try {
      expect((await post(url, digit.png)).status).toBe(200);
    } finally {
      await stop();
    }
  });
});
