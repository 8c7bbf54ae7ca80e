/** @internal Plan step codes, shared with native/plan.h (keep in the same order). */
export const enum StepOp {
  Conv = 0, Linear, Eltwise, Binary, Unary, Permute, ReduceSum, ReduceMax, Softmax, Matmul,
  MaxPool, AvgPool, AdaptiveAvg, BatchNorm, Fill, Copy, SumTo, Axpy, Cat, Gather, Scatter, Where, ConvTranspose, Pad, Adaptive3d,
}
/** @internal Epilogue micro-ops (native/plan.h). */
export const enum EpKind { Affine = 0, Add, Act, MaxPool, AvgPool }
/** @internal Epilogue activations (native/plan.h). */
export const enum ActCode { Relu = 0, LeakyRelu }
/** @internal Slot kinds (native/plan.h). */
export const enum SlotKind { Input = 0, Const, Temp }

export const STEP_NAMES = [
  'conv', 'linear', 'eltwise', 'binary', 'unary', 'permute', 'reduceSum', 'reduceMax', 'softmax', 'matmul',
  'maxPool', 'avgPool', 'adaptiveAvgPool', 'batchNorm', 'fill', 'copy', 'sumTo', 'axpy', 'cat', 'gather', 'scatter', 'where', 'convTranspose', 'pad', 'adaptivePool3d',
] as const;
