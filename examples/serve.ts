/**
 * A digit-classification HTTP service on node:http (no framework), with the
 * forward pass off the event loop (InferenceSession.run on a libuv worker).
 *
 *   POST /predict   body: a 28×28 PNG (Content-Type: image/png)
 *                   or 784 raw grayscale bytes, row-major, 0 = black (application/octet-stream)
 *                   → 200 {"class": 7, "probabilities": [10 numbers]}
 *   GET  /healthz   → 200 {"status": "ok", ...}
 *
 * Errors answer JSON {"error": "..."}: 400 (not a PNG, not 28×28, not 784
 * bytes), 404, 405 (wrong method), 413 (body over 64 KiB), 415 (other
 * Content-Type), 500 (inference failed).
 *
 * Build and run (in a clone, after `npm run build`; `blasnet` resolves to this
 * package through its own "exports"):
 *   npx tsc --outDir examples/dist --rootDir examples --module node16 --moduleResolution node16 \
 *     --target es2022 --lib es2022,esnext.disposable --strict --esModuleInterop --skipLibCheck \
 *     --types node examples/serve.ts examples/loadtest.ts
 *   node examples/dist/serve.js [checkpoint] [--port 8080] [--host 127.0.0.1]
 * The checkpoint defaults to $BLASNET_CHECKPOINT, then runs/lenet/model.safetensors
 * (written by `npm run train`).
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PNG } from 'pngjs';
import { InferenceSession, data } from 'blasnet';

export const SIZE = 28;
export const MAX_BODY_BYTES = 64 * 1024;

/** A client error with its HTTP status. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Decodes a PNG held in memory as a 28×28 digit in [0, 1], white on black like
 * MNIST (the in-memory variant of the CLI's readDigitPng): colour is averaged,
 * transparency composited over black, a light background inverted. The size is
 * read from the IHDR header first, so a small file that declares a huge image
 * is refused before anything is decompressed.
 */
export function decodeDigitPng(buf: Buffer): Float32Array {
  if (buf.length < 24 || !buf.subarray(0, 8).equals(PNG_SIGNATURE) || buf.toString('latin1', 12, 16) !== 'IHDR')
    throw new HttpError(400, 'the body is not a PNG');
  const w = buf.readUInt32BE(16), h = buf.readUInt32BE(20);
  if (w !== SIZE || h !== SIZE) throw new HttpError(400, `the PNG is ${w}×${h}; expected ${SIZE}×${SIZE}`);
  let png: PNG;
  try {
    png = PNG.sync.read(buf);
  } catch (e) {
    throw new HttpError(400, `the PNG cannot be decoded (${(e as Error).message})`);
  }
  const px = png.data; // RGBA, 8 bits per channel after pngjs's conversion
  const out = new Float32Array(SIZE * SIZE);
  let mean = 0;
  for (let i = 0; i < out.length; i++) {
    const a = px[4 * i + 3] / 255;
    out[i] = (((px[4 * i] + px[4 * i + 1] + px[4 * i + 2]) / 3) * a) / 255;
    mean += out[i];
  }
  if (mean / out.length > 0.5) for (let i = 0; i < out.length; i++) out[i] = 1 - out[i];
  return out;
}

/** 784 raw bytes (0 = black) as a digit in [0, 1]. */
export function decodeRaw(buf: Buffer): Float32Array {
  if (buf.length !== SIZE * SIZE) throw new HttpError(400, `expected ${SIZE * SIZE} bytes (28×28 grayscale), got ${buf.length}`);
  const out = new Float32Array(SIZE * SIZE);
  for (let i = 0; i < out.length; i++) out[i] = buf[i] / 255;
  return out;
}

/** Normalises pixels in [0, 1] as in training (MNIST mean and std). */
function normalize(px: Float32Array): Float32Array {
  const out = new Float32Array(px.length);
  for (let i = 0; i < px.length; i++) out[i] = (px[i] - data.MNIST_MEAN) / data.MNIST_STD;
  return out;
}

/** Softmax in float64 over one row of logits. */
function softmax(logits: Float32Array): number[] {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const e = Array.from(logits, (v) => Math.exp(v - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** The media type of a Content-Type header, lower-cased, without parameters. */
function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0].trim().toLowerCase();
}

/** Reads the body up to `limit` bytes; more is a 413 (checked on Content-Length first). */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      reject(new HttpError(413, `the body is ${declared} bytes; the limit is ${limit}`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0, done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        reject(new HttpError(413, `the body is over the limit of ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks, size));
      }
    });
    req.on('error', (e) => {
      if (!done) {
        done = true;
        reject(e);
      }
    });
  });
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json), ...headers });
  res.end(json);
}

export interface ServerOptions {
  /** Largest accepted request body, in bytes (default 64 KiB). */
  maxBodyBytes?: number;
}

/** An http.Server answering /predict and /healthz with `session`. */
export function createServer(session: InferenceSession, opts: ServerOptions = {}): http.Server {
  const limit = opts.maxBodyBytes ?? MAX_BODY_BYTES;
  const started = Date.now();
  let served = 0;

  async function predict(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== 'POST') throw new HttpError(405, `${req.method} is not allowed on /predict; use POST`);
    const type = mediaType(req.headers['content-type']);
    if (type !== 'image/png' && type !== 'application/octet-stream')
      throw new HttpError(415, `Content-Type must be image/png or application/octet-stream, got ${JSON.stringify(type || '(none)')}`);
    const body = await readBody(req, limit);
    const px = type === 'image/png' ? decodeDigitPng(body) : decodeRaw(body);
    const y = await session.run(normalize(px), [1, 1, SIZE, SIZE]);
    let probabilities: number[];
    try {
      probabilities = softmax(y.data());
    } finally {
      y.dispose();
    }
    let best = 0;
    for (let c = 1; c < probabilities.length; c++) if (probabilities[c] > probabilities[best]) best = c;
    served++;
    send(res, 200, { class: best, probabilities });
  }

  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const handle = async (): Promise<void> => {
      if (path === '/predict') return predict(req, res);
      if (path === '/healthz') {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `${req.method} is not allowed on /healthz; use GET`);
        send(res, 200, { status: 'ok', uptimeSeconds: Math.round((Date.now() - started) / 1000), served });
        return;
      }
      throw new HttpError(404, `no route for ${path}`);
    };
    handle().catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      const headers: Record<string, string> = {};
      if (status === 405) headers.allow = path === '/healthz' ? 'GET, HEAD' : 'POST';
      // An unread (413) body would be parsed as the next request: close the connection instead.
      if (status === 413) headers.connection = 'close';
      if (status === 500) console.error('predict failed:', e);
      if (res.headersSent) return res.destroy();
      send(res, status, { error: status === 500 ? 'inference failed' : (e as Error).message }, headers);
      if (status === 413) req.resume();
    });
  });
}

function parseArgs(argv: string[]): { checkpoint: string; port: number; host: string } {
  let checkpoint = process.env.BLASNET_CHECKPOINT || 'runs/lenet/model.safetensors';
  let port = Number(process.env.PORT ?? 8080), host = '127.0.0.1';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') port = Number(argv[++i]);
    else if (a === '--host') host = argv[++i];
    else if (a === '--help' || a === '-h') {
      console.log('usage: node examples/dist/serve.js [checkpoint] [--port 8080] [--host 127.0.0.1]');
      process.exit(0);
    } else if (a.startsWith('--')) {
      console.error(`serve: unknown option ${a}`);
      process.exit(2);
    } else checkpoint = a;
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error('serve: --port must be an integer in 0..65535');
    process.exit(2);
  }
  return { checkpoint, port, host };
}

function main(): void {
  const { checkpoint, port, host } = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(checkpoint)) {
    console.error(
      `serve: no checkpoint at ${checkpoint}. Train one first (\`npm run train\`, or \`node dist/cli/main.js train --epochs 1\` ` +
        'for a quick one), or pass a path: node examples/dist/serve.js path/to/model.safetensors',
    );
    process.exit(1);
  }
  let session: InferenceSession;
  try {
    session = InferenceSession.load(checkpoint);
  } catch (e) {
    console.error(`serve: cannot load ${checkpoint}: ${(e as Error).message}`);
    process.exit(1);
  }
  const server = createServer(session);
  server.listen(port, host, () => {
    const a = server.address() as AddressInfo;
    console.log(`serving ${checkpoint} on http://${a.address}:${a.port} (POST /predict, GET /healthz)`);
    process.send?.({ port: a.port }); // for a parent that forked us (examples/loadtest.ts)
  });
  const stop = (): void => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) main();
