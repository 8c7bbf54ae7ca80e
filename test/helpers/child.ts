// Child-process runners shared by the suites: run a script in a fresh node
// that loads the compiled library (dist/), with a chosen environment. Use them
// where behaviour depends on the environment (OPENBLAS_CORETYPE set or unset,
// BLASNET_* variables) or where a test must survive a crash of the child.
import * as path from 'node:path';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';

export const ROOT = path.resolve(__dirname, '..', '..');
/** The compiled library, as `require()` takes it. */
export const DIST = path.join(ROOT, 'dist');

/** process.env without the given keys. */
export function envWithout(...keys: string[]): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of keys) delete env[k];
  return env;
}

/** The environments a machine may have: OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE) unset, and set as here or to Haswell. */
export function openblasEnvironments(): { name: string; env: NodeJS.ProcessEnv }[] {
  const unset = envWithout('OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE');
  return [
    { name: 'OPENBLAS_CORETYPE unset', env: unset },
    { name: `OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE || 'Haswell'}`, env: { ...unset, OPENBLAS_CORETYPE: process.env.OPENBLAS_CORETYPE || 'Haswell', OPENBLAS_L2_SIZE: process.env.OPENBLAS_L2_SIZE || '512' } },
  ];
}

export interface NodeRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `script` (CommonJS; `blasnet` is bound to the compiled library) in a
 * child node. Never throws on a non-zero exit: the caller asserts on status,
 * signal and output.
 */
export function runNode(
  script: string,
  opts: { env?: NodeJS.ProcessEnv; args?: string[]; timeout?: number; input?: string; addressSpaceKb?: number } = {},
): NodeRun {
  const prelude = `const blasnet = require(${JSON.stringify(DIST)});\n`;
  const argv = [...(opts.args ?? []), '-e', prelude + script];
  // addressSpaceKb: run under `ulimit -v`, so that huge (valid) allocations fail fast instead of paging
  // (not under ASan, whose shadow memory needs the address space: scripts/asan-test.sh sets BLASNET_UNDER_ASAN)
  const limited = opts.addressSpaceKb && !process.env.BLASNET_UNDER_ASAN;
  const [cmd, args] = limited ? ['/bin/sh', ['-c', `ulimit -v ${opts.addressSpaceKb} && exec "$0" "$@"`, process.execPath, ...argv]] : [process.execPath, argv];
  const r: SpawnSyncReturns<string> = spawnSync(cmd, args, {
    cwd: ROOT,
    env: opts.env ?? process.env,
    encoding: 'utf8',
    timeout: opts.timeout ?? 120_000,
    input: opts.input,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Runs `script` and parses its stdout as JSON, throwing with the child's stderr if it failed. */
export function runNodeJson<T = unknown>(script: string, opts: Parameters<typeof runNode>[1] = {}): T {
  const r = runNode(script, opts);
  if (r.status !== 0) throw new Error(`child node exited with ${r.status ?? r.signal}:\n${r.stderr.slice(-4000)}`);
  return JSON.parse(r.stdout) as T;
}

/**
 * Set by scripts/asan-test.sh: the addon runs under AddressSanitizer, whose
 * shadow memory and quarantine make RSS figures meaningless and training
 * 5–10× slower. RSS bounds are asserted only without it.
 */
export const UNDER_SANITIZER = !!process.env.BLASNET_UNDER_ASAN;

/**
 * Runs a script file (an example, a lesson) in a child node with arguments,
 * from the repository root, as a user would. Never throws on a non-zero exit.
 */
export function runNodeFile(file: string, args: string[] = [], opts: { env?: NodeJS.ProcessEnv; timeout?: number } = {}): NodeRun {
  const r: SpawnSyncReturns<string> = spawnSync(process.execPath, [file, ...args], {
    cwd: ROOT,
    env: opts.env ?? process.env,
    encoding: 'utf8',
    timeout: opts.timeout ?? 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
