// Runs `mpirun -np K node <script> ...` for the test/distributed suites (not a test file itself).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const WORKER = path.join(__dirname, 'worker.js');
export const ROOT = path.resolve(__dirname, '..', '..');

export interface MpiRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The JSON records the ranks wrote (test/distributed/worker.js), rank 0's first. */
  ranks: Record<string, any>[];
  cmd: string;
}

/**
 * Open MPI's mpirun for tests on one machine: as root (containers), more ranks
 * than cores, shared memory + loopback TCP only, one thread of blasnet per rank.
 */
export function mpirun(np: number, args: string[], opts: { timeout?: number; env?: NodeJS.ProcessEnv } = {}): MpiRun {
  return mpirunApps(Array.from({ length: 1 }, () => args), opts, np);
}

/**
 * One rank per argument list (MPMD: `mpirun -np 1 node A : -np 1 node B`), so
 * ranks can be given different arguments; or `np` ranks of the one list.
 */
export function mpirunApps(apps: string[][], opts: { timeout?: number; env?: NodeJS.ProcessEnv } = {}, np = 1): MpiRun {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-mpi-'));
  const mpiArgs = ['--allow-run-as-root', '--oversubscribe', '--mca', 'btl', 'self,vader,tcp', '--mca', 'btl_tcp_if_include', 'lo',
    '-x', 'BLASNET_NUM_THREADS=1', '-x', `WORKER_OUT=${dir}`, ...apps.flatMap((a, i) => [...(i ? [':'] : []), '-np', String(np), process.execPath, ...a])];
  const env: NodeJS.ProcessEnv = { ...process.env, BLASNET_NUM_THREADS: '1', WORKER_OUT: dir, ...opts.env };
  delete env.NODE_OPTIONS;
  delete env.FORCE_COLOR;
  env.NO_COLOR = '1';
  const r = spawnSync('mpirun', mpiArgs, { cwd: ROOT, env, encoding: 'utf8', timeout: opts.timeout ?? 60_000, maxBuffer: 64 << 20 });
  const stdout = r.stdout ?? '';
  const ranks: Record<string, any>[] = [];
  for (const f of fs.readdirSync(dir).sort()) {
    for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) if (line) ranks.push(JSON.parse(line));
  }
  fs.rmSync(dir, { recursive: true, force: true });
  ranks.sort((a, b) => (a.rank ?? 0) - (b.rank ?? 0));
  return { status: r.status, signal: r.signal, stdout, stderr: r.stderr ?? '', ranks, cmd: `mpirun ${apps.map((a) => `-np ${np} node ${a.join(' ')}`).join(' : ')}` };
}

export function describeMpi(r: MpiRun): string {
  return `$ ${r.cmd}\nexit ${r.status}${r.signal ? ` (signal ${r.signal})` : ''}\n--- stdout ---\n${r.stdout.slice(-4000)}\n--- stderr ---\n${r.stderr.slice(-4000)}`;
}
