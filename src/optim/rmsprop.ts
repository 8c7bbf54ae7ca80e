/** RMSprop (Hinton's lecture 6e), PyTorch's update with momentum and the centered variant. */
import { native } from '../native';
import { Tensor } from '../tensor';
import { Optimizer, checkBool, checkNumber, type ParamGroup, type ParamsArg, type Where } from './optimizer';

export interface RMSpropOptions {
  /** Default 0.01. */
  lr?: number;
  /** Smoothing constant of the running average of g² (default 0.99). */
  alpha?: number;
  /** Added to the denominator (default 1e-8). */
  eps?: number;
  weightDecay?: number;
  /** Momentum of the update (default 0). */
  momentum?: number;
  /** Normalise by the estimated variance of g (sq − ḡ²) instead of sq (default false). */
  centered?: boolean;
  maximize?: boolean;
}
type RMSpropGroup = Required<RMSpropOptions>;

const SPEC = {
  name: 'RMSprop',
  defaults: { lr: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false },
  validate(o: RMSpropGroup, w: Where): void {
    checkNumber(w, o, 'lr', 0);
    checkNumber(w, o, 'alpha', 0);
    checkNumber(w, o, 'eps', 0);
    checkNumber(w, o, 'weightDecay', 0);
    checkNumber(w, o, 'momentum', 0);
    checkBool(w, o, 'centered');
    checkBool(w, o, 'maximize');
  },
  tensorState: ['square_avg', 'momentum_buffer', 'grad_avg'],
  numberState: ['step'],
  requiredState: ['step', 'square_avg'],
};

/**
 * RMSprop: sq ← α·sq + (1−α)·g²; avg = √sq + ε (centered: √(sq − ḡ²) + ε with
 * ḡ ← α·ḡ + (1−α)·g); momentum: buf ← μ·buf + g/avg, p ← p − lr·buf; else
 * p ← p − lr·g/avg.
 */
export class RMSprop extends Optimizer<RMSpropGroup> {
  constructor(params: ParamsArg, opts: RMSpropOptions | number = {}, ...extra: never[]) {
    super(params, opts, SPEC, extra);
  }
  protected update(o: ParamGroup<RMSpropGroup>, p: Tensor, g: Tensor): void {
    const op = 'RMSprop.step';
    let st = this.state.get(p);
    if (!st || !st.square_avg) this.state.set(p, (st = { step: 0, square_avg: this.buffer(p) }));
    // made when first needed: a scheduler may turn momentum on later, or the user centered
    if (o.momentum > 0 && !st.momentum_buffer) st.momentum_buffer = this.buffer(p);
    if (o.centered && !st.grad_avg) st.grad_avg = this.buffer(p);
    st.step = (st.step as number) + 1;
    const h = (k: string) => (st![k] as Tensor)._h(op);
    native.rmspropStep(p._h(op), g._h(op), h('square_avg'), o.centered ? h('grad_avg') : null, o.momentum > 0 ? h('momentum_buffer') : null,
      o.lr, o.alpha, o.eps, o.weightDecay, o.momentum, o.maximize);
    p._storage.version++;
  }
}
