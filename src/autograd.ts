/**
 * Reverse-mode automatic differentiation.
 *
 * Each differentiable op that sees an input with `requiresGrad` records a
 * {@link GradNode}: its inputs and a closure that maps the gradient of its output
 * to gradients of its inputs. `backward()` walks the nodes in reverse
 * topological order, summing gradients that meet, and accumulates into the
 * `.grad` of leaf tensors. Nodes drop their saved tensors once used, so the
 * activations of a step are garbage as soon as its backward has run.
 */
import type { Tensor } from './tensor';

/**
 * @internal One recorded op.
 *
 * Ownership: a node owns its `saved` tensors (what its backward needs beyond
 * its inputs: a detached target, a dropout mask) and its native scratch
 * (`onRelease`: pooling indices, softmax probabilities); both are freed by
 * {@link GradNode.release}, which runs when backward has used the node, or when
 * the tensor the node produced is disposed. `owned` are inputs that
 * {@link tidy} handed to the graph (made in the scope, kept only because the
 * returned tensor's graph needs them): each is disposed when the last node
 * holding it is released.
 */
export class GradNode {
  released = false;
  /** Why the node was freed: its backward ran, or the tensor it produced was disposed. */
  releasedBy: 'backward' | 'dispose' | null = null;
  /** @internal Inputs handed to the graph by tidy (each counted in its `_graphRefs`). */
  owned: Tensor[] = [];
  constructor(
    readonly name: string,
    public inputs: Tensor[],
    public backwardFn: ((grad: Tensor) => (Tensor | null)[]) | null,
    private onRelease?: () => void,
    public saved: Tensor[] = [],
  ) {}

  /** Drops saved tensors and native scratch kept for backward. */
  release(by: 'backward' | 'dispose' = 'backward'): void {
    if (this.released) return;
    this.released = true;
    this.releasedBy = by;
    this.backwardFn = null;
    this.inputs = [];
    const saved = this.saved;
    this.saved = [];
    for (const t of saved) t.dispose();
    const f = this.onRelease;
    this.onRelease = undefined;
    f?.();
    const owned = this.owned;
    this.owned = [];
    for (const t of owned) if (--t._graphRefs === 0) pendingDispose.push(t);
    drainDisposals();
  }
}

// Tensors whose last graph reference went away. Disposed iteratively (a long
// chain frees without deep recursion), and not while a backward walk runs:
// a node released there may own the output of a node still to be walked.
const pendingDispose: Tensor[] = [];
let holdDisposals = 0;
let draining = false;

function drainDisposals(): void {
  if (holdDisposals > 0 || draining) return;
  draining = true;
  try {
    while (pendingDispose.length) pendingDispose.pop()!.dispose();
  } finally {
    draining = false;
  }
}

let gradEnabled = true;

/** Whether ops currently record the graph (false inside {@link noGrad}). */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/**
 * Runs `fn` without recording the autograd graph, as `torch.no_grad()`.
 * Use it for inference and for manual parameter updates.
 */
export function noGrad<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new TypeError(`noGrad: fn must be a function, got ${fn === null ? 'null' : typeof fn}`);
  const prev = gradEnabled;
  gradEnabled = false;
  let result: T;
  try {
    result = fn();
  } finally {
    gradEnabled = prev;
  }
  // after its first await, an async fn would record the graph again: refuse rather than half-apply
  if (result instanceof Promise) throw new TypeError('noGrad: the function must be synchronous (it returned a Promise)');
  return result;
}

/** @internal Sets grad mode, returning the previous one (for Module helpers). */
export function setGradEnabled(on: boolean): boolean {
  const prev = gradEnabled;
  gradEnabled = on;
  return prev;
}

/** Options of {@link Tensor.backward}. */
export interface BackwardOptions {
  /** Keep the graph so backward can run through it again (default false). */
  retainGraph?: boolean;
}

/**
 * @internal Runs backward from `root` with upstream gradient `seed`, which it
 * takes ownership of. A node's backward returns tensors it owns; it may pass
 * its incoming gradient through to one input, never to two.
 */
export function runBackward(root: Tensor, seed: Tensor, opts: BackwardOptions = {}): void {
  const rootNode = root._node;
  if (!rootNode) {
    // A leaf: its gradient is the seed itself.
    root._accumulateGrad(seed, false);
    seed.dispose();
    return;
  }
  // Topological order by iterative DFS over nodes.
  const order: GradNode[] = [];
  const visited = new Set<GradNode>();
  const stack: [GradNode, number][] = [[rootNode, 0]];
  visited.add(rootNode);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [node, i] = top;
    if (node.released) {
      if (node.releasedBy === 'dispose')
        throw new Error(
          `backward: the graph passes through a tensor that was disposed (the output of ${node.name}); ` +
            'disposing a tensor frees the part of the graph that produced it. Dispose after backward(), or return the tensor from tidy().',
        );
      throw new Error(
        `backward: trying to backward through the graph a second time (${node.name} was already freed). ` +
          'Pass { retainGraph: true } to the first backward() if you need to backward twice.',
      );
    }
    if (i < node.inputs.length) {
      top[1]++;
      const next = node.inputs[i]._node;
      if (next && !visited.has(next)) {
        visited.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(node);
    }
  }
  const grads = new Map<GradNode, Tensor>();
  grads.set(rootNode, seed);
  const prevMode = setGradEnabled(false); // backward itself is not recorded
  holdDisposals++;
  try {
    walk(order, grads, opts, seed._storage);
  } finally {
    setGradEnabled(prevMode);
    for (const g of grads.values()) g.dispose();
    holdDisposals--;
    drainDisposals();
  }
}

// `borrowed`: the storage of the seed, which the caller still owns — a leaf copies a gradient that is it.
function walk(order: GradNode[], grads: Map<GradNode, Tensor>, opts: BackwardOptions, borrowed: Tensor['_storage']): void {
  for (let k = order.length - 1; k >= 0; k--) {
    const node = order[k];
    const g = grads.get(node);
    grads.delete(node);
    if (!g) continue; // no gradient flowed here
    const fn = node.backwardFn!;
    const inputs = node.inputs;
    const inGrads = fn(g);
    if (!inGrads.includes(g)) g.dispose();
    for (let i = 0; i < inputs.length; i++) {
      const gi = inGrads[i];
      if (!gi) continue;
      const inp = inputs[i];
      if (!inp.requiresGrad) {
        gi.dispose();
        continue;
      }
      const n = inp._node;
      if (n) {
        const prev = grads.get(n);
        if (prev) {
          prev._addInPlace(gi);
          gi.dispose();
        } else grads.set(n, gi);
      } else {
        const shared = gi._storage === borrowed;
        inp._accumulateGrad(gi, !shared);
        if (shared) gi.dispose();
      }
    }
    if (!opts.retainGraph) node.release();
  }
}
