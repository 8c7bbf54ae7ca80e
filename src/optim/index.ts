/** Optimizers and learning-rate schedulers (`import { optim } from 'blasnet'`). */
export { Optimizer, type ParamGroup, type ParamGroupArg, type OptimizerStateDict, type ParamsArg, type GroupOptions, type SchedulerGroupKeys } from './optimizer';
export { SGD, type SGDOptions } from './sgd';
export { Adam, AdamW, type AdamOptions } from './adam';
export { Adadelta, type AdadeltaOptions } from './adadelta';
export { RMSprop, type RMSpropOptions } from './rmsprop';
export { Adagrad, type AdagradOptions } from './adagrad';
export { LRScheduler, StepLR, CosineAnnealingLR, OneCycleLR, type OneCycleOptions } from './lr_scheduler';
