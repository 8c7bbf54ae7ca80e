// The MPI layer with 2 ranks: allReduce / broadcast in place on native storage,
// errors as JS Errors, shape disagreement failing fast on every rank, a killed
// rank ending the job; and without MPI, one clear error saying what to install.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireOrSkip, mpi } from '../helpers/requirements';
import { runNode } from '../helpers/child';
import { mpirun, describeMpi, WORKER, ROOT } from './helpers';

describe('collectives on 2 ranks', () => {
  it('allReduce (sum, mean, one tensor or a bucket of several), broadcast, allGather; bad calls throw', (ctx) => {
    requireOrSkip(ctx, mpi());
    const r = mpirun(2, [WORKER, 'collectives']);
    expect(r.status, describeMpi(r)).toBe(0);
    const ranks = r.ranks.filter((o) => 'a' in o);
    expect(ranks.length, describeMpi(r)).toBe(2);
    for (const o of ranks) {
      expect(o.worldSize).toBe(2);
      expect(o.a).toEqual([3, 10, -1]); // [1,0,0] + [2,10,-1]
      expect(o.b).toEqual([0.5, 2, 4, 0.5]); // mean of [[0,2],[4,0]] and [[1,2],[4,1]]
      expect(o.c).toEqual([1.5]);
      expect(o.d).toEqual([6, 7]); // rank 1's
      expect(o.gathered).toEqual(['rank0', 'rank1']);
      expect(o.sums).toEqual([1, 1]);
      expect(o.errors[0]).toMatch(/distributed.allReduce: op must be 'sum' or 'mean', got "max"/);
      expect(o.errors[1]).toMatch(/distributed.broadcast: root must be a rank in \[0, 1\], got 2/);
      expect(o.errors[2]).toMatch(/distributed.allReduce: the tensor \(shape \[1\]\) was disposed/);
      expect(o.errors[3]).toMatch(/distributed: barrier: called from another thread \(a worker_thread\) than the one that called init\(\)/);
    }
    const after = r.ranks.filter((o) => 'afterFinalize' in o);
    expect(after.length).toBe(2);
    for (const o of after) expect(o.afterFinalize).toMatch(/distributed.barrier: finalize\(\) was called/);
  });

  for (const how of ['shape', 'count']) {
    it(`ranks whose models differ in parameter ${how}s fail fast, on every rank, naming the difference`, (ctx) => {
      requireOrSkip(ctx, mpi());
      const r = mpirun(2, [WORKER, 'mismatch', how]);
      expect(r.status, describeMpi(r)).toBe(0);
      expect(r.ranks.length, describeMpi(r)).toBe(2);
      for (const o of r.ranks) {
        expect(o.ok).toBeUndefined();
        if (how === 'shape') expect(o.error).toMatch(/rank 1's model differs from rank 0's: rank 0 has param 6\.weight:\[3,8\], rank 1 has param 6\.weight:\[4,8\]/);
        else expect(o.error).toMatch(/rank 1's model differs from rank 0's: rank 0 has 6 parameters, 0 buffers, rank 1 has 8 parameters, 0 buffers/);
      }
    });
  }

  it('a killed rank ends the job (no hang) with a message naming it', (ctx) => {
    requireOrSkip(ctx, mpi());
    const r = mpirun(2, [WORKER, 'die'], { timeout: 45_000 });
    expect(r.signal, `mpirun was still running after 45 s: it hung\n${describeMpi(r)}`).toBeNull();
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/rank 1 .*exited on signal 9 \(Killed\)/);
  });

  it('a rank that stops answering ends the job through the other rank\'s collective timeout', (ctx) => {
    requireOrSkip(ctx, mpi());
    const r = mpirun(2, [WORKER, 'stall'], { timeout: 45_000 });
    expect(r.signal, `mpirun was still running after 45 s: it hung\n${describeMpi(r)}`).toBeNull();
    expect(r.status, describeMpi(r)).not.toBe(0);
    expect(r.ranks.filter((o) => o.finished)).toEqual([]);
    expect(r.stderr).toMatch(/blasnet: rank 0 of 2: distributed\.allReduce waited more than 1\.0 s for the other ranks \(the timeout\): a rank is stuck or gone/);
  });

  it('init() checks its options before loading MPI', () => {
    const r = runNode(`for (const o of [{ timeout: -1 }, { timout: 5 }]) try { blasnet.distributed.init(o); } catch (e) { console.log(e.message); }`);
    expect(r.status, r.stderr).toBe(0);
    const [a, b] = r.stdout.trim().split('\n');
    expect(a).toMatch(/distributed.init: timeout must be a number of seconds in \[0, 1e9\] \(0: no limit\), got -1/);
    expect(b).toMatch(/timout/);
  });
});

describe('without MPI', () => {
  it('distributed.init() throws one clear error saying what to install', () => {
    const r = runNode(
      `try { blasnet.distributed.init(); console.log('no error'); } catch (e) { console.log(e.message); }`,
      { env: { ...process.env, BLASNET_MPI_ADDON: '/nonexistent/blasnet_mpi.node' } },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^distributed: this build of blasnet has no MPI support \(\/nonexistent\/blasnet_mpi.node does not exist: MPI was not found when blasnet was built\); install Open MPI \(Debian\/Ubuntu: apt-get install openmpi-bin libopenmpi-dev.*then rebuild blasnet/);
  });

  it('the library loads and trains without touching MPI; collectives before init() say so', () => {
    const r = runNode(`
      const d = blasnet.distributed;
      const out = { rank: d.rank, worldSize: d.worldSize, initialized: d.isInitialized() };
      try { d.allReduce(blasnet.tensor([1])); } catch (e) { out.err = e.message; }
      out.mpiLoaded = Object.keys(require.cache).some((f) => f.endsWith('blasnet_mpi.node'));
      console.log(JSON.stringify(out));`);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ rank: 0, worldSize: 1, initialized: false, err: 'distributed.allReduce: call distributed.init() first', mpiLoaded: false });
  });

  it('the main addon has no MPI library dependency or symbol (the prebuilt binary loads without MPI)', (ctx) => {
    if (process.platform !== 'linux') ctx.skip('ldd/nm: Linux only');
    const main = path.join(ROOT, 'build', 'Release', 'blasnet.node');
    const ldd = spawnSync('ldd', [main], { encoding: 'utf8' });
    if (ldd.error) ctx.skip(`ldd is not available (${ldd.error.message})`);
    expect(ldd.status, ldd.stderr).toBe(0);
    expect(ldd.stdout).not.toMatch(/libmpi|openmpi|mpich/i);
    const nm = spawnSync('nm', ['-D', main], { encoding: 'utf8' });
    if (nm.error) ctx.skip(`nm is not available (${nm.error.message})`);
    expect(nm.status, nm.stderr).toBe(0);
    expect(nm.stdout).not.toMatch(/\bP?MPI_\w+/);
  });
});
