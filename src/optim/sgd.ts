/** Stochastic gradient descent with momentum, dampening, Nesterov, weight decay and maximize (PyTorch's update). */
import { native } from '../native';
import { Tensor } from '../tensor';
import { Optimizer, checkBool, checkNumber, type ParamGroup, type ParamsArg, type Where } from './optimizer';

export interface SGDOptions {
  /** Learning rate (required, as in PyTorch). */
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
  /** Maximise the objective (step along +grad). */
  maximize?: boolean;
}
type SGDGroup = Required<SGDOptions>;

const SPEC = {
  name: 'SGD',
  defaults: { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, maximize: false },
  validate(o: SGDGroup, w: Where): void {
    checkNumber(w, o, 'lr', 0);
    checkNumber(w, o, 'momentum', 0);
    checkNumber(w, o, 'dampening', 0, 1);
    checkNumber(w, o, 'weightDecay', 0);
    checkBool(w, o, 'nesterov');
    checkBool(w, o, 'maximize');
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0))
      throw new RangeError(`${w.op}: ${w.prefix}nesterov needs momentum > 0 and dampening 0, got momentum ${o.momentum}, dampening ${o.dampening}`);
  },
  tensorState: ['momentum_buffer'],
  numberState: [],
  requiredState: [],
};

export class SGD extends Optimizer<SGDGroup> {
  /** `new SGD(params, { lr, momentum, … })`, or `new SGD(params, lr)` as PyTorch's positional lr. */
  constructor(params: ParamsArg, opts: SGDOptions | number, ...extra: never[]) {
    super(params, opts, SPEC, extra);
  }
  /**
   * One native call per parameter: d = ±g + wd·p; buf = μ·buf + (1−τ)·d (buf = d
   * the first time); p −= lr·(nesterov ? d + μ·buf : buf).
   */
  protected update(o: ParamGroup<SGDGroup>, p: Tensor, g: Tensor): void {
    let st = this.state.get(p);
    if (!st) this.state.set(p, (st = {}));
    let first = false;
    if (o.momentum !== 0 && !st.momentum_buffer) {
      // created when momentum first becomes non-zero (a scheduler may cycle it), as PyTorch
      st.momentum_buffer = this.buffer(p);
      first = true;
    }
    const buf = o.momentum !== 0 ? (st.momentum_buffer as Tensor) : null;
    native.sgdStep(p._h('SGD.step'), g._h('SGD.step'), buf ? buf._h('SGD.step') : null, o.lr, o.momentum, o.dampening, o.nesterov, o.weightDecay, first, o.maximize);
    p._storage.version++;
  }
}
