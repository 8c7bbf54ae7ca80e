/** Adadelta (Zeiler 2012), PyTorch's update: the optimizer of pytorch/examples' MNIST script. */
import { native } from '../native';
import { Tensor } from '../tensor';
import { Optimizer, checkBool, checkNumber, type ParamGroup, type ParamsArg, type Where } from './optimizer';

export interface AdadeltaOptions {
  /** Scales the update (default 1). */
  lr?: number;
  /** Decay of the running averages of g² and Δx² (default 0.9). */
  rho?: number;
  /** Added inside both square roots (default 1e-6). */
  eps?: number;
  weightDecay?: number;
  maximize?: boolean;
}
type AdadeltaGroup = Required<AdadeltaOptions>;

const SPEC = {
  name: 'Adadelta',
  defaults: { lr: 1, rho: 0.9, eps: 1e-6, weightDecay: 0, maximize: false },
  validate(o: AdadeltaGroup, w: Where): void {
    checkNumber(w, o, 'lr', 0);
    checkNumber(w, o, 'rho', 0, 1);
    checkNumber(w, o, 'eps', 0);
    checkNumber(w, o, 'weightDecay', 0);
    checkBool(w, o, 'maximize');
  },
  tensorState: ['square_avg', 'acc_delta'],
  numberState: ['step'],
  requiredState: ['step', 'square_avg', 'acc_delta'],
};

/**
 * Adadelta: sq ← ρ·sq + (1−ρ)·g²; Δ = √(acc + ε)/√(sq + ε)·g;
 * acc ← ρ·acc + (1−ρ)·Δ²; p ← p − lr·Δ (g includes weight decay, negated by maximize).
 */
export class Adadelta extends Optimizer<AdadeltaGroup> {
  constructor(params: ParamsArg, opts: AdadeltaOptions | number = {}, ...extra: never[]) {
    super(params, opts, SPEC, extra);
  }
  protected update(o: ParamGroup<AdadeltaGroup>, p: Tensor, g: Tensor): void {
    const op = 'Adadelta.step';
    let st = this.state.get(p);
    if (!st || !st.square_avg) this.state.set(p, (st = { step: 0, square_avg: this.buffer(p), acc_delta: this.buffer(p) }));
    st.step = (st.step as number) + 1;
    native.adadeltaStep(p._h(op), g._h(op), (st.square_avg as Tensor)._h(op), (st.acc_delta as Tensor)._h(op), o.lr, o.rho, o.eps, o.weightDecay, o.maximize);
    p._storage.version++;
  }
}
