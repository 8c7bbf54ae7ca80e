/**
 * DistributedSampler: each process of a data-parallel run reads its own shard
 * of every epoch, PyTorch's torch.utils.data.DistributedSampler semantics.
 */
import { epochOrder, type Sampler } from '../data/dataset';
import { checkOptions } from '../ops/args';
import { describe } from '../tensor';
import { state } from './state';

export interface DistributedSamplerOptions {
  /** Processes taking part (default: distributed.worldSize after init()). */
  numReplicas?: number;
  /** This process's rank (default: distributed.rank after init()). */
  rank?: number;
  /** Shuffle each epoch (default true); every rank draws the same permutation from seed and epoch. */
  shuffle?: boolean;
  /** Seed of the shuffle (default 0); it must be the same on every rank. */
  seed?: number;
  /**
   * Drop the tail that does not divide evenly over the ranks (default false:
   * pad it with samples from the start of the epoch's order, so every rank has
   * the same number of samples — some are then seen twice per epoch).
   */
  dropLast?: boolean;
}

const KEYS = ['numReplicas', 'rank', 'shuffle', 'seed', 'dropLast'];

/**
 * Rank `r` of `K` gets positions r, r+K, r+2K, … of the epoch's order (the
 * DataLoader's own order for that seed and epoch, padded to a multiple of K or
 * cut with `dropLast`). With a per-rank batch of B/K, the K ranks' batch b
 * together hold exactly the samples of a single process's batch b of size B.
 *
 * ```ts
 * const sampler = new distributed.DistributedSampler(ds, { seed: 1 });
 * const loader = new data.DataLoader(ds, { batchSize: 64 / distributed.worldSize, sampler });
 * ```
 * The DataLoader calls `setEpoch` before each epoch; call it yourself when you
 * iterate the sampler without a loader.
 */
export class DistributedSampler implements Sampler {
  readonly numReplicas: number;
  readonly rank: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  /** Samples per rank and epoch. */
  readonly numSamples: number;
  /** numSamples × numReplicas. */
  readonly totalSize: number;
  readonly datasetLength: number;
  epoch = 0;

  constructor(dataset: { length: number } | number, opts: DistributedSamplerOptions = {}) {
    checkOptions('DistributedSampler', opts, KEYS);
    const n = typeof dataset === 'number' ? dataset : dataset !== null && typeof dataset === 'object' ? dataset.length : undefined;
    if (!Number.isInteger(n) || (n as number) < 0) throw new TypeError(`DistributedSampler: expected a dataset (with a length) or a sample count, got ${describe(dataset)}`);
    if ((opts.numReplicas === undefined || opts.rank === undefined) && !state.initialized)
      throw new Error('DistributedSampler: pass numReplicas and rank, or call distributed.init() first');
    const K = opts.numReplicas ?? state.worldSize;
    const r = opts.rank ?? state.rank;
    if (!Number.isInteger(K) || K < 1) throw new RangeError(`DistributedSampler: numReplicas must be a positive integer, got ${describe(K)}`);
    if (!Number.isInteger(r) || r < 0 || r >= K) throw new RangeError(`DistributedSampler: rank must be an integer in [0, ${K - 1}], got ${describe(r)}`);
    for (const k of ['shuffle', 'dropLast'] as const)
      if (opts[k] !== undefined && typeof opts[k] !== 'boolean') throw new TypeError(`DistributedSampler: ${k} must be a boolean, got ${describe(opts[k])}`);
    const seed = opts.seed ?? 0;
    if (!Number.isSafeInteger(seed)) throw new TypeError(`DistributedSampler: seed must be an integer, got ${describe(seed)}`);
    this.numReplicas = K;
    this.rank = r;
    this.shuffle = opts.shuffle ?? true;
    this.seed = seed;
    this.dropLast = opts.dropLast ?? false;
    this.datasetLength = n as number;
    this.numSamples = this.dropLast && this.datasetLength % K !== 0 ? Math.max(0, Math.ceil((this.datasetLength - K) / K)) : Math.ceil(this.datasetLength / K);
    this.totalSize = this.numSamples * K;
  }

  get length(): number {
    return this.numSamples;
  }

  /** Sets the epoch whose permutation indices() returns (PyTorch's set_epoch). */
  setEpoch(epoch: number): void {
    if (!Number.isInteger(epoch) || epoch < 0) throw new RangeError(`DistributedSampler.setEpoch: epoch must be a non-negative integer, got ${describe(epoch)}`);
    this.epoch = epoch;
  }

  /** This rank's indices for the current epoch. */
  indices(): Int32Array {
    const n = this.datasetLength;
    const order = epochOrder(n, this.shuffle, this.seed, this.epoch);
    const out = new Int32Array(this.numSamples);
    for (let k = 0; k < this.numSamples; k++) {
      const pos = this.rank + k * this.numReplicas; // < totalSize; beyond n it wraps round (padding)
      out[k] = order[n === 0 ? 0 : pos % n];
    }
    return out;
  }

  *[Symbol.iterator](): Iterator<number> {
    yield* this.indices();
  }
}
