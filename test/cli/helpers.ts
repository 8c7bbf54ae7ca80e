// Shared helpers for the test/cli suites (not a test file itself).
// The CLI is exercised as a child process: `node dist/cli/main.js ...` with
// cwd = the repository root and stdout a pipe (not a TTY). dist/ must be built
// (`npm test` runs `npm run build:ts` first).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** What was run, for assertion messages. */
  cmd: string;
}

/** Environment for the child: the test runner's, minus anything that could force colours or extra module paths. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.FORCE_COLOR;
  delete env.NODE_PATH;
  delete env.NODE_OPTIONS;
  env.NO_COLOR = '1';
  return env;
}

/** Runs `node <script> ...args` (default: the blasnet CLI) synchronously. */
export function runCli(args: string[], opts: { cwd?: string; script?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): RunResult {
  const script = opts.script ?? CLI;
  const r = spawnSync(process.execPath, [script, ...args], {
    cwd: opts.cwd ?? ROOT,
    encoding: 'utf8',
    env: opts.env ?? childEnv(),
    timeout: opts.timeoutMs ?? 120_000,
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, cmd: `node ${path.relative(ROOT, script) || script} ${args.join(' ')}` };
}

/** Formats a run for an assertion message. */
export function describeRun(r: RunResult): string {
  return `$ ${r.cmd}\nexit ${r.status}${r.signal ? ` (signal ${r.signal})` : ''}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** Throws (with the full output) unless the run exited 0. */
export function expectOk(r: RunResult): RunResult {
  if (r.status !== 0) throw new Error(`command failed\n${describeRun(r)}`);
  return r;
}

/** A fresh directory under `parent` (default: the OS temp dir). */
export function tempDir(prefix: string, parent = os.tmpdir()): string {
  return fs.mkdtempSync(path.join(parent, `blasnet-${prefix}-`));
}

export interface EpochMetrics {
  epoch: number;
  loss: number;
  accuracy: number;
  imgPerSec: number;
  seconds: number;
  lr?: number;
}

export interface Metrics {
  options: Record<string, unknown>;
  epochs: EpochMetrics[];
}

export function readMetrics(dir: string): Metrics {
  return JSON.parse(fs.readFileSync(path.join(dir, 'metrics.json'), 'utf8')) as Metrics;
}

/** Every regular file in `dir` (recursively) with its bytes, keyed by relative path. */
export function snapshotDir(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.set(path.relative(dir, p), fs.readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

/** Lines in stderr that look like a JS stack frame. */
export function stackFrames(s: string): string[] {
  return s.split('\n').filter((l) => /^\s+at\s/.test(l) || /\.(js|ts|mjs|cjs):\d+:\d+\)?\s*$/.test(l));
}
