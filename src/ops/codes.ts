/** @internal Op codes shared with native/kernels.h (keep in the same order). */
export const enum Bin {
  Add = 0, Sub, Mul, Div, Pow, Maximum, Minimum, Gt, Lt, Ge, Le, Eq,
  /** Gradient factors (native/kernels.h), numbered apart from the ops. */
  MaximumGrad = 32, MinimumGrad, PowGradBase, PowGradExponent,
}
/** @internal */
export const enum Un {
  Neg = 0, Exp, Log, Sqrt, Relu, Sigmoid, Tanh, Abs, Square, Reciprocal,
  AddScalar, MulScalar, PowScalar, RsubScalar, RdivScalar, ClampMin, ClampMax, Sign,
  GtScalar, LtScalar, Log1p, Rsqrt, LeakyRelu, DivScalar, GeScalar, LeScalar,
}
/** @internal */
export const enum Act { ReluBackward = 0, SigmoidBackward, TanhBackward }
