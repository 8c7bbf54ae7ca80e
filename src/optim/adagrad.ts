/** Adagrad (Duchi et al. 2011), PyTorch's update with learning-rate decay and an initial accumulator. */
import { native } from '../native';
import { Tensor } from '../tensor';
import { Optimizer, checkBool, checkNumber, type ParamGroup, type ParamsArg, type Where } from './optimizer';

export interface AdagradOptions {
  /** Default 0.01. */
  lr?: number;
  /** The lr at step t is lr / (1 + (t − 1)·lrDecay) (default 0). */
  lrDecay?: number;
  weightDecay?: number;
  /** Starting value of the sum of squared gradients (default 0). */
  initialAccumulatorValue?: number;
  /** Added to the denominator (default 1e-10). */
  eps?: number;
  maximize?: boolean;
}
type AdagradGroup = Required<AdagradOptions>;

const SPEC = {
  name: 'Adagrad',
  defaults: { lr: 0.01, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10, maximize: false },
  validate(o: AdagradGroup, w: Where): void {
    checkNumber(w, o, 'lr', 0);
    checkNumber(w, o, 'lrDecay', 0);
    checkNumber(w, o, 'weightDecay', 0);
    checkNumber(w, o, 'initialAccumulatorValue', 0);
    checkNumber(w, o, 'eps', 0);
    checkBool(w, o, 'maximize');
  },
  tensorState: ['sum'],
  numberState: ['step'],
  requiredState: ['step', 'sum'],
};

/**
 * Adagrad: sum ← sum + g²; p ← p − clr·g/(√sum + ε), clr = lr/(1 + (t−1)·lrDecay).
 * As PyTorch, every parameter's state (step 0, sum = initialAccumulatorValue)
 * exists from construction (and from `addParamGroup`).
 */
export class Adagrad extends Optimizer<AdagradGroup> {
  constructor(params: ParamsArg, opts: AdagradOptions | number = {}, ...extra: never[]) {
    super(params, opts, SPEC, extra);
  }
  protected override initGroupState(group: ParamGroup<AdagradGroup>): void {
    for (const p of group.params) if (!this.state.has(p)) this.state.set(p, { step: 0, sum: this.buffer(p, group.initialAccumulatorValue) });
  }
  protected override afterLoad(): void {
    for (const g of this.paramGroups) this.initGroupState(g);
  }
  protected update(o: ParamGroup<AdagradGroup>, p: Tensor, g: Tensor): void {
    const op = 'Adagrad.step';
    let st = this.state.get(p);
    if (!st || !st.sum) this.state.set(p, (st = { step: 0, sum: this.buffer(p, o.initialAccumulatorValue) }));
    st.step = (st.step as number) + 1;
    const clr = o.lr / (1 + ((st.step as number) - 1) * o.lrDecay);
    native.adagradStep(p._h(op), g._h(op), (st.sum as Tensor)._h(op), clr, o.eps, o.weightDecay, o.maximize);
    p._storage.version++;
  }
}
