/** Adam and AdamW (decoupled weight decay), optionally AMSGrad — PyTorch's updates. */
import { native } from '../native';
import { Tensor } from '../tensor';
import { Optimizer, checkRange, type ParamsArg } from './optimizer';

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
}
type AdamGroup = Required<AdamOptions> & { lr: number };

class AdamBase extends Optimizer<AdamGroup> {
  constructor(params: ParamsArg, opts: AdamOptions, private readonly decoupled: boolean, name: string, wd: number) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: wd, amsgrad: false, ...opts } as AdamGroup, name);
  }
  protected validate(o: AdamGroup, name: string): void {
    checkRange(name, 'lr', o.lr, 0);
    checkRange(name, 'eps', o.eps, 0);
    checkRange(name, 'weightDecay', o.weightDecay, 0);
    if (!Array.isArray(o.betas) || o.betas.length !== 2) throw new RangeError(`${name}: betas must be [beta1, beta2]`);
    checkRange(name, 'betas[0]', o.betas[0], 0, 1);
    checkRange(name, 'betas[1]', o.betas[1], 0, 1);
    if (o.betas[0] >= 1 || o.betas[1] >= 1) throw new RangeError(`${name}: betas must be < 1, got [${o.betas.join(', ')}]`);
  }
  step(): void {
    for (const { params, options: o } of this.paramGroups)
      for (const p of params) {
        if (!p.grad) continue;
        let st = this.state.get(p);
        if (!st) {
          st = { step: 0, exp_avg: this.buffer(p), exp_avg_sq: this.buffer(p) };
          if (o.amsgrad) st.max_exp_avg_sq = this.buffer(p);
          this.state.set(p, st);
        }
        if (o.amsgrad && !st.max_exp_avg_sq) st.max_exp_avg_sq = this.buffer(p);
        st.step = (st.step as number) + 1;
        const h = (t: unknown) => (t as Tensor)._h('Adam.step');
        native.adamStep(p._h('Adam.step'), p.grad._h('Adam.step'), h(st.exp_avg), h(st.exp_avg_sq), o.amsgrad ? h(st.max_exp_avg_sq) : null,
          o.lr, o.betas[0], o.betas[1], o.eps, o.weightDecay, st.step as number, o.amsgrad, this.decoupled);
        p._storage.version++;
      }
  }
}

/** Adam: L2 weight decay added to the gradient. Defaults lr 1e-3, betas [0.9, 0.999], eps 1e-8. */
export class Adam extends AdamBase {
  constructor(params: ParamsArg, opts: AdamOptions = {}) {
    super(params, opts, false, 'Adam', 0);
  }
}

/** AdamW: decoupled weight decay (p ← p·(1 − lr·wd)). Default weightDecay 0.01. */
export class AdamW extends AdamBase {
  constructor(params: ParamsArg, opts: AdamOptions = {}) {
    super(params, opts, true, 'AdamW', 0.01);
  }
}
