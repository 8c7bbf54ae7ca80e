/** Optimizers and learning-rate schedulers (`import { optim } from 'blasnet'`). */
export { Optimizer, type ParamGroup, type ParamGroupArg, type OptimizerStateDict, type ParamsArg, type GroupOptions, type SchedulerGroupKeys } from './optimizer';
export { SGD, type SGDOptions } from './sgd';
export { Adam, AdamW, type AdamOptions } from './adam';
export { Adadelta, type AdadeltaOptions } from './adadelta';
export { RMSprop, type RMSpropOptions } from './rmsprop';
export { Adagrad, type AdagradOptions } from './adagrad';
export {
  LRScheduler, StepLR, MultiStepLR, ExponentialLR, LinearLR, CosineAnnealingLR, OneCycleLR, SequentialLR, ReduceLROnPlateau,
  ConstantLR, PolynomialLR, LambdaLR, MultiplicativeLR, ChainedScheduler,
  type ConstantLROptions, type PolynomialLROptions, type LambdaLROptions, type MultiplicativeLROptions, type ChainedSchedulerStateDict,
  type LRSchedulerStateDict, type StepLROptions, type MultiStepLROptions, type ExponentialLROptions, type LinearLROptions,
  type CosineAnnealingLROptions, type OneCycleOptions, type SequentialLROptions, type SequentialLRStateDict,
  type ReduceLROnPlateauOptions, type ReduceLROnPlateauStateDict,
} from './lr_scheduler';
