/**
 * An image-classification HTTP service on node:http (no framework), with the
 * forward pass off the event loop (InferenceSession.run on a libuv worker).
 *
 *   POST /predict   body: a PNG of any size (Content-Type: image/png), preprocessed like MNIST
 *                   (transparency flattened, polarity detected, cropped to the ink, centred;
 *                   the same preprocessing as `blasnet predict`),
 *                   or 784 raw grayscale bytes, row-major, 0 = black (application/octet-stream)
 *                   → 200 {"class": 7, "name": "7", "probabilities": [10 numbers]}
 *   GET  /healthz   → 200 {"status": "ok", ...}
 *
 * Errors answer JSON {"error": "..."}: 400 (not a PNG, truncated or corrupt, not
 * 784 bytes), 404, 405 (wrong method), 408 (the request took too long), 413 (body
 * over 64 KiB, or an image over the pixel limit), 415 (other Content-Type), 422
 * (the image looks empty: nothing to classify), 500 (inference failed).
 *
 * Limits (Node's defaults let one slow client hold a connection for minutes):
 * headers must arrive within 5 s and the whole request within 10 s, idle
 * keep-alive connections close after 5 s, at most 256 connections are open at
 * once (more are refused), PNGs are checked (every chunk, one IHDR, at most
 * 1024 × 1024 pixels) before anything is decompressed, and decompression is
 * bounded by what the header declares. A client that disconnects is logged as
 * one line, not as an error.
 *
 * Build and run (in a clone, after `npm run build`; `blasnet` resolves to this
 * package through its own "exports"):
 *   npm run build:examples
 *   node examples/dist/serve.js [checkpoint] [--port 8080] [--host 127.0.0.1]
 *        [--model my-model.js] [--classes fashion-mnist] [--preprocess mnist|fit|resize]
 * The checkpoint (safetensors or a PyTorch .pt state dict) defaults to
 * $BLASNET_CHECKPOINT, then runs/lenet/model.safetensors (written by `npm run train`).
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import * as path from 'node:path';
import { InferenceSession, data, image, nn, noGrad, tensor, type Tensor } from 'blasnet';

export const SIZE = 28;
export const MAX_BODY_BYTES = 64 * 1024;
/** The largest PNG the service decodes: 1024 × 1024 pixels. */
export const MAX_PNG_PIXELS = 1024 * 1024;

/** A client error with its HTTP status. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** The client went away before the request was complete: nothing to answer. */
class ClientGone extends Error {}

/** What runs the model: an InferenceSession, or anything with the same `run`. */
export interface Predictor {
  run(x: Float32Array, shape: number[]): Promise<Tensor>;
}

/**
 * Decodes a PNG held in memory and preprocesses it like `blasnet predict`
 * (src/image: bounded decoding, MNIST-style crop and centring). Malformed,
 * truncated or oversized images are 400/413; an empty one is 422.
 */
export function decodeImage(buf: Buffer, opts: { maxPixels?: number; mode?: image.PrepareMode } = {}): Float32Array {
  let img: image.RgbaImage;
  try {
    img = image.decodePng(buf, { maxPixels: opts.maxPixels ?? MAX_PNG_PIXELS, source: 'the body' });
  } catch (e) {
    const msg = (e as Error).message.replace(/^png: the body: /, '');
    throw new HttpError(/limit is/.test(msg) ? 413 : 400, `the PNG cannot be used: ${msg}`);
  }
  return prepared(image.prepareImage(img, { mode: opts.mode ?? 'mnist' }));
}

/** 784 raw bytes (0 = black), through the same preprocessing as a PNG. */
export function decodeRaw(buf: Buffer, opts: { mode?: image.PrepareMode } = {}): Float32Array {
  if (buf.length !== SIZE * SIZE) throw new HttpError(400, `expected ${SIZE * SIZE} bytes (28×28 grayscale), got ${buf.length}`);
  const rgba = new Uint8Array(4 * SIZE * SIZE);
  for (let i = 0; i < SIZE * SIZE; i++) rgba.set([buf[i], buf[i], buf[i], 255], 4 * i);
  return prepared(image.prepareImage({ width: SIZE, height: SIZE, data: rgba }, { mode: opts.mode ?? 'mnist' }));
}

function prepared(p: image.PreparedImage): Float32Array {
  if (p.empty) throw new HttpError(422, p.warnings[0] ?? 'the image looks empty');
  return p.pixels;
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

/** Reads the body up to `limit` bytes; more is a 413 (checked on Content-Length first). A client that leaves is ClientGone. */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      reject(new HttpError(413, `the body is ${declared} bytes; the limit is ${limit}`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0, done = false;
    const finish = (f: () => void) => {
      if (!done) {
        done = true;
        f();
      }
    };
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        finish(() => reject(new HttpError(413, `the body is over the limit of ${limit} bytes`)));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => finish(() => resolve(Buffer.concat(chunks, size))));
    const gone = () => finish(() => reject(new ClientGone(`the client closed the connection after ${size}${declared !== undefined ? ` of ${declared}` : ''} bytes of the body`)));
    req.on('aborted', gone);
    req.on('close', () => {
      if (!req.complete) gone();
    });
    req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || e.message === 'aborted' ? gone() : finish(() => reject(e))));
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
  /** Largest PNG decoded, in pixels (default 1024 × 1024). */
  maxPixels?: number;
  /** The request headers must arrive within this time (default 5000 ms). */
  headersTimeoutMs?: number;
  /** The whole request must arrive within this time (default 10000 ms). */
  requestTimeoutMs?: number;
  /** Idle keep-alive connections close after this time (default 5000 ms). */
  keepAliveTimeoutMs?: number;
  /** At most this many connections at once; more are refused (default 256). */
  maxConnections?: number;
  /** How often Node checks the timeouts (default: a quarter of the shortest timeout, at most 1000 ms). */
  checkIntervalMs?: number;
  /** Class names for the answers (default: indices). */
  classes?: string[];
  /** PNG preprocessing (default 'mnist'; see src/image). */
  preprocess?: image.PrepareMode;
  /** Where one-line diagnostics go (default console.error). */
  log?: (line: string) => void;
}

const OPTION_KEYS = ['maxBodyBytes', 'maxPixels', 'headersTimeoutMs', 'requestTimeoutMs', 'keepAliveTimeoutMs', 'maxConnections', 'checkIntervalMs', 'classes', 'preprocess', 'log'];

function positiveInt(name: string, v: unknown, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || (v as number) < 1) throw new RangeError(`createServer: ${name} must be a positive integer, got ${String(v)}`);
  return v as number;
}

/** An http.Server answering /predict and /healthz with `predictor`. */
export function createServer(predictor: Predictor, opts: ServerOptions = {}): http.Server {
  for (const k of Object.keys(opts)) if (!OPTION_KEYS.includes(k)) throw new TypeError(`createServer: unknown option '${k}' (expected one of ${OPTION_KEYS.join(', ')})`);
  const limit = positiveInt('maxBodyBytes', opts.maxBodyBytes, MAX_BODY_BYTES);
  const maxPixels = positiveInt('maxPixels', opts.maxPixels, MAX_PNG_PIXELS);
  const headersTimeout = positiveInt('headersTimeoutMs', opts.headersTimeoutMs, 5000);
  const requestTimeout = positiveInt('requestTimeoutMs', opts.requestTimeoutMs, 10_000);
  const keepAliveTimeout = positiveInt('keepAliveTimeoutMs', opts.keepAliveTimeoutMs, 5000);
  const maxConnections = positiveInt('maxConnections', opts.maxConnections, 256);
  const shortest = Math.min(headersTimeout, requestTimeout, keepAliveTimeout);
  const checkInterval = positiveInt('checkIntervalMs', opts.checkIntervalMs, Math.max(10, Math.min(1000, Math.floor(shortest / 4))));
  const log = opts.log ?? ((line: string) => console.error(line));
  const mode = opts.preprocess ?? 'mnist';
  const classes = opts.classes;
  const started = Date.now();
  let served = 0;

  async function predict(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== 'POST') throw new HttpError(405, `${req.method} is not allowed on /predict; use POST`);
    const type = mediaType(req.headers['content-type']);
    if (type !== 'image/png' && type !== 'application/octet-stream')
      throw new HttpError(415, `Content-Type must be image/png or application/octet-stream, got ${JSON.stringify(type || '(none)')}`);
    const body = await readBody(req, limit);
    const px = type === 'image/png' ? decodeImage(body, { maxPixels, mode }) : decodeRaw(body, { mode });
    const y = await predictor.run(normalize(px), [1, 1, SIZE, SIZE]);
    let probabilities: number[];
    try {
      probabilities = softmax(y.data());
    } finally {
      y.dispose();
    }
    let best = 0;
    for (let c = 1; c < probabilities.length; c++) if (probabilities[c] > probabilities[best]) best = c;
    served++;
    if (res.destroyed) {
      log(`${req.method} ${req.url}: the client closed the connection before the answer`);
      return;
    }
    send(res, 200, { class: best, name: classes?.[best] ?? String(best), probabilities });
  }

  const server = http.createServer({ headersTimeout, requestTimeout, keepAliveTimeout, connectionsCheckingInterval: checkInterval }, (req, res) => {
    const route = (req.url ?? '/').split('?')[0];
    const handle = async (): Promise<void> => {
      if (route === '/predict') return predict(req, res);
      if (route === '/healthz') {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `${req.method} is not allowed on /healthz; use GET`);
        send(res, 200, { status: 'ok', uptimeSeconds: Math.round((Date.now() - started) / 1000), served });
        return;
      }
      throw new HttpError(404, `no route for ${route}`);
    };
    handle().catch((e: unknown) => {
      if (e instanceof ClientGone) {
        log(`${req.method} ${route}: ${e.message}`);
        res.destroy();
        return;
      }
      const status = e instanceof HttpError ? e.status : 500;
      const headers: Record<string, string> = {};
      if (status === 405) headers.allow = route === '/healthz' ? 'GET, HEAD' : 'POST';
      // An unread (413) body would be parsed as the next request: close the connection instead.
      if (status === 413) headers.connection = 'close';
      if (status === 500) log(`${req.method} ${route}: inference failed: ${(e as Error)?.message ?? String(e)}`);
      if (res.headersSent || res.destroyed) return void res.destroy();
      send(res, status, { error: status === 500 ? 'inference failed' : (e as Error).message }, headers);
      if (status === 413) req.resume();
    });
  });
  server.keepAliveTimeout = keepAliveTimeout;
  server.maxConnections = maxConnections;
  server.on('drop', (d?: { remoteAddress?: string }) => log(`refused a connection from ${d?.remoteAddress ?? 'a client'}: ${maxConnections} connections are open (the limit)`));
  // Malformed requests and timeouts: answer when the socket can still take it, log one line, close.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const code = err.code ?? '';
    // A client that hangs up mid-request: the request handler has logged it (or nothing was sent yet).
    const hungUp = code === 'ECONNRESET' || code === 'EPIPE' || code === 'HPE_INVALID_EOF_STATE';
    if (hungUp || !socket.writable) {
      if (!hungUp) log(`a client's connection failed: ${code || err.message}`);
      socket.destroy();
      return;
    }
    const timeout = code === 'ERR_HTTP_REQUEST_TIMEOUT';
    const tooBig = code === 'HPE_HEADER_OVERFLOW';
    const status = timeout ? '408 Request Timeout' : tooBig ? '431 Request Header Fields Too Large' : '400 Bad Request';
    log(timeout ? `closed a connection whose request took longer than ${headersTimeout} ms (headers) / ${requestTimeout} ms (request)` : `bad request from a client: ${code || err.message}`);
    const body = JSON.stringify({ error: timeout ? 'the request took too long' : 'malformed request' });
    socket.end(`HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    socket.destroySoon?.();
  });
  return server;
}

/** Eager forward in a noGrad scope, for models the plan compiler cannot take (yet). */
function eagerPredictor(model: nn.Module): Predictor {
  model.eval();
  return {
    async run(x, shape) {
      return noGrad(() => {
        const input = tensor(x, shape);
        try {
          return model.forward(input);
        } finally {
          input.dispose();
        }
      });
    },
  };
}

/**
 * A predictor for a checkpoint: LeNet (the default), or the model a JS file's
 * factory returns (`module.exports = () => new Net()`), compiled into an
 * InferenceSession when the plan compiler takes it, else run eagerly.
 */
export function loadPredictor(checkpoint: string, modelFile?: string, log: (s: string) => void = console.error): Predictor {
  if (modelFile === undefined) return InferenceSession.load(checkpoint);
  const mod = require(path.resolve(modelFile)) as Record<string, unknown> | (() => unknown);
  const factory = typeof mod === 'function' ? mod : (mod.createModel ?? mod.default);
  if (typeof factory !== 'function') throw new Error(`${modelFile} must export a function that returns an nn.Module`);
  const model = (factory as () => nn.Module)();
  try {
    // loads the checkpoint into the model (strictly) and compiles it for [1, SIZE, SIZE]
    return InferenceSession.load(checkpoint, { model, inputShape: [1, SIZE, SIZE] });
  } catch (e) {
    const msg = (e as Error).message;
    if (msg.startsWith('InferenceSession.load')) throw e; // the file or its keys: nothing to serve
    // the weights are loaded; the model's forward is what the compiler refused
    log(`serve: ${msg.split('\n')[0]}; running the model eagerly instead`);
    return eagerPredictor(model);
  }
}

const USAGE = `usage: node examples/dist/serve.js [checkpoint] [options]

  checkpoint               safetensors or PyTorch .pt (default: $BLASNET_CHECKPOINT, else runs/lenet/model.safetensors)
  --port <n>               TCP port (default: $PORT, else 8080; 0 picks a free one)
  --host <addr>            address to listen on (default 127.0.0.1)
  --model <file.js>        a JS file exporting a factory of your nn.Module (default: LeNet-5)
  --classes <names>        mnist, fashion-mnist, a file of names, or a comma-separated list
  --preprocess <mode>      PNG preprocessing: mnist (default), fit or resize
  --max-connections <n>    connections open at once (default 256)
  --headers-timeout <ms>   the headers must arrive within this (default 5000)
  --request-timeout <ms>   the whole request must arrive within this (default 10000)
  -h, --help               this text`;

interface Args {
  checkpoint: string;
  port: number;
  host: string;
  model?: string;
  classes?: string[];
  preprocess: image.PrepareMode;
  maxConnections?: number;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
}

/** Parses the command line; throws an Error naming the bad argument. */
export function parseArgs(argv: string[]): Args | 'help' {
  const a: Args = { checkpoint: process.env.BLASNET_CHECKPOINT || 'runs/lenet/model.safetensors', port: Number(process.env.PORT ?? 8080), host: '127.0.0.1', preprocess: 'mnist' };
  let positional = 0;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    const int = (min: number, max: number): number => {
      const v = value(), n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${arg} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
      return n;
    };
    if (arg === '--help' || arg === '-h') return 'help';
    else if (arg === '--port') a.port = int(0, 65535);
    else if (arg === '--host') a.host = value();
    else if (arg === '--model') a.model = value();
    else if (arg === '--classes') a.classes = data.parseClassNames(value());
    else if (arg === '--preprocess') {
      const v = value();
      if (v !== 'mnist' && v !== 'fit' && v !== 'resize') throw new Error(`--preprocess must be mnist, fit or resize, got ${JSON.stringify(v)}`);
      a.preprocess = v;
    } else if (arg === '--max-connections') a.maxConnections = int(1, 1_000_000);
    else if (arg === '--headers-timeout') a.headersTimeoutMs = int(1, 3_600_000);
    else if (arg === '--request-timeout') a.requestTimeoutMs = int(1, 3_600_000);
    else if (arg.startsWith('-')) throw new Error(`unknown option ${arg} (see --help)`);
    else if (positional++ === 0) a.checkpoint = arg;
    else throw new Error(`unexpected argument ${JSON.stringify(arg)}: give one checkpoint`);
  }
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new Error(`the port must be an integer in 0..65535, got ${JSON.stringify(process.env.PORT)} from $PORT`);
  return a;
}

function main(): void {
  let args: Args | 'help';
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`serve: ${(e as Error).message}`);
    process.exit(2);
  }
  if (args === 'help') {
    console.log(USAGE);
    return;
  }
  const { checkpoint, port, host } = args;
  if (!fs.existsSync(checkpoint)) {
    console.error(
      `serve: no checkpoint at ${checkpoint}. Train one first (\`npm run train\`, or \`node dist/cli/main.js train --epochs 1\` ` +
        'for a quick one), or pass a path: node examples/dist/serve.js path/to/model.safetensors',
    );
    process.exit(1);
  }
  let predictor: Predictor;
  try {
    predictor = loadPredictor(checkpoint, args.model);
  } catch (e) {
    console.error(`serve: cannot load ${checkpoint}: ${(e as Error).message.split('\n')[0]}`);
    process.exit(1);
  }
  const server = createServer(predictor, {
    classes: args.classes,
    preprocess: args.preprocess,
    maxConnections: args.maxConnections,
    headersTimeoutMs: args.headersTimeoutMs,
    requestTimeoutMs: args.requestTimeoutMs,
  });
  server.on('error', (e: NodeJS.ErrnoException) => {
    console.error(`serve: cannot listen on ${host}:${port}: ${e.code ?? e.message}`);
    process.exit(1);
  });
  server.listen(port, host, () => {
    const addr = server.address() as AddressInfo;
    console.log(`serving ${checkpoint} on http://${addr.address}:${addr.port} (POST /predict, GET /healthz)`);
    process.send?.({ port: addr.port }); // for a parent that forked us (examples/loadtest.ts)
  });
  const stop = (): void => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) main();
