/** Adam and AdamW (decoupled weight decay), optionally AMSGrad and maximize — PyTorch's updates. */
import { native } from '../native';
import { Tensor } from '../tensor';
import { Optimizer, checkBool, checkNumber, type OptimizerSpec, type ParamGroup, type ParamsArg, type Where } from './optimizer';

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
  /** Maximise the objective (step along +grad). */
  maximize?: boolean;
}
type AdamGroup = Required<AdamOptions>;

function spec(name: string, weightDecay: number): OptimizerSpec<AdamGroup> {
  return {
    name,
    defaults: { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay, amsgrad: false, maximize: false },
    validate(o: AdamGroup, w: Where): void {
      checkNumber(w, o, 'lr', 0);
      checkNumber(w, o, 'eps', 0);
      checkNumber(w, o, 'weightDecay', 0);
      checkBool(w, o, 'amsgrad');
      checkBool(w, o, 'maximize');
      const b = o.betas as unknown;
      if (!Array.isArray(b) || b.length !== 2) throw new TypeError(`${w.op}: ${w.prefix}betas must be [beta1, beta2], got ${JSON.stringify(b)}`);
      checkNumber(w, { 'betas[0]': b[0] }, 'betas[0]', 0, 1, { hiOpen: true });
      checkNumber(w, { 'betas[1]': b[1] }, 'betas[1]', 0, 1, { hiOpen: true });
    },
    tensorState: ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'],
    numberState: ['step'],
    requiredState: ['step', 'exp_avg', 'exp_avg_sq'],
  };
}

class AdamBase extends Optimizer<AdamGroup> {
  constructor(params: ParamsArg, opts: AdamOptions | number | undefined, private readonly decoupled: boolean, name: string, wd: number, extra: unknown[]) {
    super(params, opts, spec(name, wd), extra);
  }
  protected update(o: ParamGroup<AdamGroup>, p: Tensor, g: Tensor): void {
    const op = `${this.spec.name}.step`;
    let st = this.state.get(p);
    if (!st || !st.exp_avg) {
      st = { step: 0, exp_avg: this.buffer(p), exp_avg_sq: this.buffer(p) };
      this.state.set(p, st);
    }
    if (o.amsgrad && !st.max_exp_avg_sq) st.max_exp_avg_sq = this.buffer(p);
    st.step = (st.step as number) + 1;
    const h = (t: unknown) => (t as Tensor)._h(op);
    native.adamStep(p._h(op), g._h(op), h(st.exp_avg), h(st.exp_avg_sq), o.amsgrad ? h(st.max_exp_avg_sq) : null,
      o.lr, o.betas[0], o.betas[1], o.eps, o.weightDecay, st.step as number, o.amsgrad, this.decoupled, o.maximize);
    p._storage.version++;
  }
}

/** Adam: L2 weight decay added to the gradient. Defaults lr 1e-3, betas [0.9, 0.999], eps 1e-8. */
export class Adam extends AdamBase {
  constructor(params: ParamsArg, opts: AdamOptions | number = {}, ...extra: never[]) {
    super(params, opts, false, 'Adam', 0, extra);
  }
}

/** AdamW: decoupled weight decay (p ← p·(1 − lr·wd)). Default weightDecay 0.01. */
export class AdamW extends AdamBase {
  constructor(params: ParamsArg, opts: AdamOptions | number = {}, ...extra: never[]) {
    super(params, opts, true, 'AdamW', 0.01, extra);
  }
}
