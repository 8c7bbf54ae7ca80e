// `mpirun -np 2 node dist/cli/main.js train --distributed`: the global batch split
// over the ranks follows the single-process run, rank 0 alone logs and writes,
// --resume continues, and a rank that fails ends the job with its rank named.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireOrSkip, mpi } from '../helpers/requirements';
import { expectAllClose } from '../helpers';
import { CLI, runCli, expectOk, tempDir, readMetrics, describeRun } from '../cli/helpers';
import { mpirun, mpirunApps, describeMpi } from './helpers';

const QUICK = ['--limit', '256', '--epochs', '2', '--threads', '1', '--no-progress', '--scheduler', 'cosine', '--optimizer', 'sgd'];
const FILES = ['model.safetensors', 'state.safetensors', 'metrics.json', 'metrics.jsonl', 'curves.svg', 'curves.png'];

describe('train --distributed', () => {
  it('2 ranks follow the single-process run, rank 0 alone logs and writes; --resume continues it', (ctx) => {
    requireOrSkip(ctx, mpi());
    const root = tempDir('dist-cli');
    const single = path.join(root, 'single'), dist = path.join(root, 'dist'), rank1 = path.join(root, 'rank1-out');
    expectOk(runCli(['train', ...QUICK, '--out', single]));
    // rank 1 is given another --out: it must create and write nothing there
    const first = mpirunApps([
      [CLI, 'train', '--distributed', ...QUICK, '--stop-after', '1', '--out', dist],
      [CLI, 'train', '--distributed', ...QUICK, '--stop-after', '1', '--out', rank1],
    ]);
    expect(first.status, describeMpi(first)).toBe(0);
    expect(fs.existsSync(rank1), 'rank 1 created its --out').toBe(false);
    for (const f of FILES) expect(fs.existsSync(path.join(dist, f)), f).toBe(true);
    expect(first.stdout.match(/^training LeNet/gm)?.length, first.stdout).toBe(1);
    expect(first.stdout).toMatch(/2 ranks × 32 \(1 threads each\)/);
    expect(first.stdout.match(/^epoch 1\/2/gm)?.length, first.stdout).toBe(1);
    expect(readMetrics(dist).options).toMatchObject({ distributed: true, worldSize: 2, batchSize: 64 });

    const resumed = mpirun(2, [CLI, 'train', '--distributed', ...QUICK, '--out', dist, '--resume']);
    expect(resumed.status, describeMpi(resumed)).toBe(0);
    expect(resumed.stdout).toMatch(/resuming .* after epoch 1/);
    const d = readMetrics(dist).epochs, s = readMetrics(single).epochs;
    expect(d.length).toBe(2);
    expectAllClose(d.map((e) => e.loss), s.map((e) => e.loss), 1e-5, 1e-6, 'epoch losses');
    expectAllClose(d.map((e) => e.accuracy), s.map((e) => e.accuracy), 0, 2 / 1000, 'test accuracy'); // at most 2 of 1000 images flip
    // metrics.jsonl: one line per global step (rank 0's), each the global batch
    const steps = fs.readFileSync(path.join(dist, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(steps.length).toBe(2 * 4);
    expect(steps.every((m: { samples: number }) => m.samples === 64)).toBe(true);
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('refuses a global batch that does not divide over the ranks', (ctx) => {
    requireOrSkip(ctx, mpi());
    const out = tempDir('dist-bs');
    const r = mpirun(2, [CLI, 'train', '--distributed', ...QUICK, '--batch-size', '63', '--out', out]);
    expect(r.status, describeMpi(r)).not.toBe(0);
    expect(r.stderr).toMatch(/train --distributed: --batch-size 63 \(the global batch\) does not divide over 2 ranks; use a multiple of 2/);
    fs.rmSync(out, { recursive: true, force: true });
  });

  it('a rank that fails ends the job, naming the rank and the cause', (ctx) => {
    requireOrSkip(ctx, mpi());
    const out = tempDir('dist-fail');
    const r = mpirunApps([
      [CLI, 'train', '--distributed', ...QUICK, '--out', out],
      [CLI, 'train', '--distributed', ...QUICK, '--out', out, '--data', path.join(out, 'no-such-dir')],
    ], { timeout: 60_000 });
    expect(r.signal, `the job hung\n${describeMpi(r)}`).toBeNull();
    expect(r.status, describeMpi(r)).not.toBe(0);
    expect(r.stderr).toMatch(/blasnet: rank 1 of 2: .*no-such-dir/);
    fs.rmSync(out, { recursive: true, force: true });
  });

  it('under mpirun without --distributed, train refuses (every rank would write the same --out)', (ctx) => {
    requireOrSkip(ctx, mpi());
    const out = tempDir('dist-missing-flag');
    const r = mpirun(2, [CLI, 'train', ...QUICK, '--out', out]);
    expect(r.status, describeMpi(r)).not.toBe(0);
    expect(r.stderr).toMatch(/train: started as one of 2 MPI ranks \(mpirun -np 2\) without --distributed: .*add --distributed/);
    expect(fs.readdirSync(out)).toEqual([]);
    fs.rmSync(out, { recursive: true, force: true });
  });

  it('without MPI, --distributed says what to install', () => {
    const out = tempDir('dist-nompi');
    const r = runCli(['train', '--distributed', ...QUICK, '--out', out], { env: { ...process.env, BLASNET_MPI_ADDON: '/nonexistent/blasnet_mpi.node', NO_COLOR: '1' } });
    expect(r.status, describeRun(r)).toBe(1);
    expect(r.stderr.trim()).toMatch(/^blasnet: train --distributed: this build of blasnet has no MPI support .*apt-get install openmpi-bin libopenmpi-dev/);
    fs.rmSync(out, { recursive: true, force: true });
  });
});
