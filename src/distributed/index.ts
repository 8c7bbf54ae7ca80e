/**
 * Data-parallel training on MPI: every process (rank) holds the whole model,
 * trains on its own shard of each batch, and averages gradients with the others
 * after `backward()`, so all ranks take the same optimizer step.
 *
 * ```ts
 * import { distributed as dist, data, train } from 'blasnet';
 * dist.init();                                      // under `mpirun -np K node script.js`
 * const ddp = new dist.DistributedDataParallel(model); // checks shapes, broadcasts rank 0's weights
 * const sampler = new dist.DistributedSampler(ds, { seed: 1 });
 * const loader = new data.DataLoader(ds, { batchSize: 64 / dist.worldSize, sampler });
 * new train.Trainer({ model, optimizer, epochs, isMain: dist.rank === 0,
 *   afterBackward: () => ddp.averageGradients(), reduceLoss: dist.reduceLoss }).fit(loader);
 * dist.finalize();
 * ```
 *
 * Needs the optional MPI addon (built when Open MPI or another MPI is found at
 * build time); without it `init()` throws saying what to install. Nothing here
 * loads MPI until `init()` is called.
 *
 * @module
 */
import type * as nn from '../nn';
import { Tensor, describe, keep, zerosLike } from '../tensor';
import { checkOptions } from '../ops/args';
import { mpi } from './native';
import { state } from './state';

export { DistributedSampler, type DistributedSamplerOptions } from './sampler';
export { INSTALL_HINT, mpiAddonPath } from './native';

/** This process's rank in [0, worldSize) (0 before init()). */
export let rank = 0;
/** Processes in the job (1 before init()). */
export let worldSize = 1;

export interface InitInfo {
  rank: number;
  worldSize: number;
  /** The MPI thread level granted (blasnet calls MPI from the main thread only: 'funneled'). */
  threadLevel: string;
  /** The MPI library, e.g. "Open MPI v4.1.4". */
  library: string;
}

export interface InitOptions {
  /**
   * Seconds a collective may wait for the other ranks before this rank ends the
   * job with a message (a rank stuck, or gone unnoticed); 0 (default): no limit.
   * Longer than the longest work one rank does alone (rank 0's evaluation and
   * checkpoint between epochs). See {@link setCollectiveTimeout}.
   */
  timeout?: number;
}

/**
 * Initialises MPI (MPI_Init_thread) and reads this process's rank and the world
 * size from the MPI environment (`mpirun -np K` sets them; a plain `node` is a
 * world of one). Idempotent. Throws when blasnet was built without MPI.
 */
export function init(opts: InitOptions = {}): InitInfo {
  checkOptions('distributed.init', opts, ['timeout']);
  if (opts.timeout !== undefined) checkTimeout('distributed.init', opts.timeout);
  if (state.finalized) throw new Error('distributed.init: finalize() was called; MPI cannot be initialised again in this process');
  const info = mpi().init();
  if (opts.timeout !== undefined) mpi().setTimeout(opts.timeout);
  state.initialized = true;
  state.rank = rank = info.rank;
  state.worldSize = worldSize = info.worldSize;
  return info;
}

function checkTimeout(op: string, s: unknown): void {
  if (typeof s !== 'number' || !Number.isFinite(s) || s < 0 || s > 1e9) throw new RangeError(`${op}: timeout must be a number of seconds in [0, 1e9] (0: no limit), got ${describe(s)}`);
}

/**
 * Sets how long one collective may wait for the other ranks (seconds; 0: no
 * limit). Past it, this rank prints which collective waited and exits, and
 * mpirun ends the job.
 */
export function setCollectiveTimeout(seconds: number): void {
  checkTimeout('distributed.setCollectiveTimeout', seconds);
  need('setCollectiveTimeout');
  mpi().setTimeout(seconds);
}

/** Whether init() has run (and finalize() has not). */
export function isInitialized(): boolean {
  return state.initialized && !state.finalized;
}

function need(op: string): void {
  if (state.finalized) throw new Error(`distributed.${op}: finalize() was called; no collective can run after it`);
  if (!state.initialized) throw new Error(`distributed.${op}: call distributed.init() first`);
}

function tensors(op: string, t: Tensor | readonly Tensor[]): Tensor[] {
  const list = t instanceof Tensor ? [t] : Array.isArray(t) ? (t as Tensor[]) : null;
  if (!list) throw new TypeError(`distributed.${op}: expected a Tensor or an array of Tensors, got ${describe(t)}`);
  list.forEach((x, i) => {
    if (!(x instanceof Tensor)) throw new TypeError(`distributed.${op}: element ${i} is not a Tensor (${describe(x)})`);
    x._check(`distributed.${op}`);
  });
  return list;
}

/**
 * Sums (`'sum'`) or averages (`'mean'`) tensors over all ranks, in place, on
 * their native storage. An array of tensors is one collective (packed into one
 * buffer natively), not one per tensor. Every rank must call it with tensors of
 * the same sizes in the same order.
 */
export function allReduce(t: Tensor | readonly Tensor[], op: 'sum' | 'mean' = 'sum'): void {
  need('allReduce');
  if (op !== 'sum' && op !== 'mean') throw new RangeError(`distributed.allReduce: op must be 'sum' or 'mean', got ${describe(op)}`);
  const list = tensors('allReduce', t);
  if (!list.length) return;
  mpi().allReduce(list.map((x) => x._h('distributed.allReduce')), op === 'mean');
  for (const x of list) x._storage.version++; // written in place: as copy_ does, for autograd's saved-tensor checks
}

/** Overwrites tensors on every rank with `root`'s values, in place (one collective). */
export function broadcast(t: Tensor | readonly Tensor[], root = 0): void {
  need('broadcast');
  if (!Number.isInteger(root) || root < 0 || root >= worldSize) throw new RangeError(`distributed.broadcast: root must be a rank in [0, ${worldSize - 1}], got ${describe(root)}`);
  const list = tensors('broadcast', t);
  if (!list.length) return;
  mpi().broadcast(list.map((x) => x._h('distributed.broadcast')), root);
  for (const x of list) x._storage.version++;
}

/** Sums plain numbers over all ranks (metrics, counters); returns the sums. */
export function allReduceNumbers(values: readonly number[]): number[] {
  need('allReduceNumbers');
  const a = Float64Array.from(values);
  mpi().allReduceNumbers(a);
  return Array.from(a);
}

/** Every rank's string, in rank order. */
export function allGather(s: string): string[] {
  need('allGather');
  if (typeof s !== 'string') throw new TypeError(`distributed.allGather: expected a string, got ${describe(s)}`);
  return mpi().allGatherString(s);
}

/** Waits until every rank has reached it. */
export function barrier(): void {
  need('barrier');
  mpi().barrier();
}

/** Ends MPI in this process (call once, on every rank, at the end). Idempotent. */
export function finalize(): void {
  if (!state.initialized || state.finalized) return;
  mpi().finalize();
  state.finalized = true;
}

/** Ends every rank of the job now (MPI_Abort), e.g. after an error on this rank. */
export function abort(code = 1): never {
  if (state.initialized && !state.finalized) mpi().abort(code);
  process.exit(code);
}

/**
 * The global mean loss and sample count of a step: for `Trainer`'s `reduceLoss`,
 * so every rank sees (and checks) the same loss. One small collective per step.
 */
export function reduceLoss(loss: number, samples: number): { loss: number; samples: number } {
  const [s, n] = allReduceNumbers([loss * samples, samples]);
  return { loss: n > 0 ? s / n : NaN, samples: n };
}

/** "name:[shape]" of every parameter and buffer, in order: what all ranks must agree on. */
export function shapeSignature(model: nn.Module): string {
  const p = model.namedParameters().map(([n, t]) => `param ${n}:[${t.shape.join(',')}]`);
  const b = model.namedBuffers().map(([n, t]) => `buffer ${n}:[${t.shape.join(',')}]`);
  return [`${p.length} parameters, ${b.length} buffers`, ...p, ...b].join('\n');
}

/**
 * Throws on every rank when any rank's model has other parameter or buffer
 * names, shapes or counts than rank 0's, naming the rank and the first
 * difference (one small collective: run it before any collective on the tensors).
 */
export function checkSameShapes(model: nn.Module, what = 'model'): void {
  need('checkSameShapes');
  const all = allGather(shapeSignature(model));
  const ref = all[0].split('\n');
  for (let r = 1; r < all.length; r++) {
    if (all[r] === all[0]) continue;
    const mine = all[r].split('\n');
    let i = 0;
    while (i < Math.max(ref.length, mine.length) && ref[i] === mine[i]) i++;
    throw new Error(`distributed: rank ${r}'s ${what} differs from rank 0's: rank 0 has ${ref[i] ?? '(nothing more)'}, rank ${r} has ${mine[i] ?? '(nothing more)'}; every rank must build the same model`);
  }
}

export interface DistributedDataParallelOptions {
  /** Gradients are averaged in buckets of about this many MiB, one allreduce each (default 25, as PyTorch's DDP). */
  bucketMb?: number;
  /** Copy rank 0's buffers (BatchNorm running statistics) to every rank after each averageGradients() (default true, as DDP's broadcast_buffers). */
  broadcastBuffers?: boolean;
}

const DDP_KEYS = ['bucketMb', 'broadcastBuffers'];

/** Groups parameters, last first (the order backward produces their gradients), into buckets of at most `bytes` (a larger one alone). */
export function buckets(params: readonly Tensor[], bytes: number): Tensor[][] {
  const out: Tensor[][] = [];
  let cur: Tensor[] = [], size = 0;
  for (let i = params.length - 1; i >= 0; i--) {
    const b = params[i].numel * 4;
    if (cur.length && size + b > bytes) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(params[i]);
    size += b;
  }
  if (cur.length) out.push(cur);
  return out;
}

/**
 * Averages the gradients of `params` over all ranks, in buckets of about
 * `bucketMb` MiB (one allreduce per bucket). A parameter with no gradient on
 * this rank counts as a zero gradient (its grad is created), so that every rank
 * takes part in the same collectives.
 */
export function averageGradients(model: nn.Module | readonly Tensor[], opts: { bucketMb?: number } = {}): void {
  checkOptions('distributed.averageGradients', opts, ['bucketMb']);
  need('averageGradients');
  const params = Array.isArray(model) ? (model as Tensor[]) : (model as nn.Module).parameters();
  const mb = opts.bucketMb ?? 25;
  if (typeof mb !== 'number' || !(mb > 0)) throw new RangeError(`distributed.averageGradients: bucketMb must be a number > 0, got ${describe(mb)}`);
  for (const group of buckets(params, mb * 1024 * 1024)) allReduce(group.map(gradOf), 'mean');
}

function gradOf(p: Tensor): Tensor {
  if (!p.grad) p.grad = keep(zerosLike(p));
  return p.grad;
}

/**
 * Data-parallel training of a module (PyTorch's DistributedDataParallel on its
 * CPU/MPI backend, without overlap): the constructor checks that every rank has
 * the same parameter and buffer shapes and copies rank 0's parameters and
 * buffers to all ranks; `averageGradients()` after `backward()` averages the
 * gradients, bucketed. BatchNorm computes its statistics per rank, on the
 * rank's own part of the batch (no SyncBatchNorm); running statistics follow
 * rank 0's (`broadcastBuffers`).
 */
export class DistributedDataParallel {
  readonly bucketBytes: number;
  readonly broadcastBuffers: boolean;
  private readonly groups: Tensor[][];

  constructor(readonly module: nn.Module, opts: DistributedDataParallelOptions = {}) {
    checkOptions('DistributedDataParallel', opts, DDP_KEYS);
    need('DistributedDataParallel');
    if (!module || typeof module.forward !== 'function' || typeof module.parameters !== 'function')
      throw new TypeError(`DistributedDataParallel: expected an nn.Module, got ${describe(module)}`);
    const mb = opts.bucketMb ?? 25;
    if (typeof mb !== 'number' || !(mb > 0)) throw new RangeError(`DistributedDataParallel: bucketMb must be a number > 0, got ${describe(mb)}`);
    if (opts.broadcastBuffers !== undefined && typeof opts.broadcastBuffers !== 'boolean')
      throw new TypeError(`DistributedDataParallel: broadcastBuffers must be a boolean, got ${describe(opts.broadcastBuffers)}`);
    this.bucketBytes = Math.max(4, Math.floor(mb * 1024 * 1024));
    this.broadcastBuffers = opts.broadcastBuffers ?? true;
    checkSameShapes(module);
    this.syncState();
    this.groups = buckets(module.parameters(), this.bucketBytes);
  }

  /** The wrapped module's forward. */
  forward(x: Tensor): Tensor {
    return this.module.forward(x);
  }

  /** Copies rank 0's parameters and buffers to every rank (done by the constructor; again after loading weights on rank 0 only). */
  syncState(): void {
    const all = [...this.module.parameters(), ...this.module.namedBuffers().map(([, b]) => b)];
    broadcast(all, 0);
  }

  /** Buckets of parameters, one allreduce each. */
  get bucketCount(): number {
    return this.groups.length;
  }

  /** Averages the gradients over all ranks (call after backward(), before the optimizer step). */
  averageGradients(): void {
    need('averageGradients');
    for (const g of this.groups) allReduce(g.map(gradOf), 'mean');
    if (this.broadcastBuffers) {
      const bufs = this.module.namedBuffers().map(([, b]) => b);
      if (bufs.length) broadcast(bufs, 0);
    }
  }
}
