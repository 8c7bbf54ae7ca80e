/** Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (PyTorch's update). */
import { native } from '../native';
import { Tensor } from '../tensor';
import { Optimizer, checkRange, type ParamsArg } from './optimizer';

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}
type SGDGroup = Required<SGDOptions> & { lr: number };

export class SGD extends Optimizer<SGDGroup> {
  constructor(params: ParamsArg, opts: SGDOptions) {
    super(params, { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, ...opts } as SGDGroup, 'SGD');
  }
  protected validate(o: SGDGroup, name: string): void {
    checkRange(name, 'lr', o.lr, 0);
    checkRange(name, 'momentum', o.momentum, 0);
    checkRange(name, 'dampening', o.dampening, 0, 1);
    checkRange(name, 'weightDecay', o.weightDecay, 0);
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) throw new RangeError(`${name}: nesterov needs momentum > 0 and dampening 0`);
  }
  /** One native call per parameter: d = g + wd·p; buf = μ·buf + (1−τ)·d; p −= lr·(nesterov ? d + μ·buf : buf). */
  step(): void {
    for (const { params, options: o } of this.paramGroups)
      for (const p of params) {
        if (!p.grad) continue;
        let st = this.state.get(p);
        const first = !st;
        if (!st) {
          st = o.momentum !== 0 ? { momentum_buffer: this.buffer(p) } : {};
          this.state.set(p, st);
        }
        const buf = st.momentum_buffer as Tensor | undefined;
        native.sgdStep(p._h('SGD.step'), p.grad._h('SGD.step'), buf ? buf._h('SGD.step') : null, o.lr, o.momentum, o.dampening, o.nesterov, o.weightDecay, first);
        p._storage.version++;
      }
  }
}
