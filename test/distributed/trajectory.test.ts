// Two ranks with per-rank batch B/2 follow the single-process batch-B run: the
// same losses and final weights up to float32 summation order (each rank's
// gradient is a mean over B/2, averaged over ranks, instead of one mean over B).
// BatchNorm: statistics per rank (PyTorch's DDP without SyncBatchNorm), against a
// single process that normalises each rank's half of the batch on its own; the running
// statistics are rank 0's (its half's alone), on every rank.
import { describe, expect, it } from 'vitest';
import { requireOrSkip, mpi } from '../helpers/requirements';
import { runNodeFile } from '../helpers/child';
import { expectAllClose } from '../helpers';
import { mpirun, describeMpi, WORKER } from './helpers';

function reference(opt: string, kind: string): { losses: number[]; state: Record<string, number[]> } {
  const r = runNodeFile(WORKER, ['traj', opt, kind, 'ref'], { env: { ...process.env, BLASNET_NUM_THREADS: '1' } });
  if (r.status !== 0) throw new Error(`reference run failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim());
}

describe('2 ranks follow the single-process trajectory', () => {
  for (const [opt, kind] of [['sgd', 'plain'], ['adam', 'plain'], ['sgd', 'bn'], ['adam', 'bn']]) {
    it(`${opt}, ${kind === 'bn' ? 'BatchNorm (per-rank statistics)' : 'conv + linear'}`, (ctx) => {
      requireOrSkip(ctx, mpi());
      const ref = reference(opt, kind);
      const r = mpirun(2, [WORKER, 'traj', opt, kind, 'dist']);
      expect(r.status, describeMpi(r)).toBe(0);
      expect(r.ranks.length, describeMpi(r)).toBe(2);
      const [r0, r1] = r.ranks;
      expect(r0.worldSize).toBe(2);
      expect(r0.buckets).toBeGreaterThan(1); // bucketMb 0.001: gradients go in several allreduces
      expect(r0.losses.length).toBe(10);
      // every rank reports the global loss and ends with the same weights, bit for bit
      expect(r1.losses).toEqual(r0.losses);
      expect(r1.state).toEqual(r0.state);
      expectAllClose(r0.losses, ref.losses, 1e-5, 1e-6, 'losses'); // measured: 1e-7 relative
      // BN's running statistics: rank 0's (its half of each batch), copied to every rank (broadcastBuffers)
      const names = Object.keys(ref.state);
      expect(names.length).toBeGreaterThan(3);
      if (kind === 'bn') expect(names).toContain('1.running_mean');
      for (const k of names) expectAllClose(r0.state[k], ref.state[k], 1e-5, 1e-6, k); // measured: 6e-8 absolute
      // the weights moved: a trajectory, not a fixed point
      expect(Math.abs(r0.losses[0] - r0.losses[9])).toBeGreaterThan(1e-3);
    });
  }
});
