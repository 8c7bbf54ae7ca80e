/** Optimizers and learning-rate schedulers (`import { optim } from 'blasnet'`). */
export { Optimizer, type ParamGroup, type OptimizerStateDict, type ParamsArg } from './optimizer';
export { SGD, type SGDOptions } from './sgd';
export { Adam, AdamW, type AdamOptions } from './adam';
export { LRScheduler, StepLR, CosineAnnealingLR, OneCycleLR, type OneCycleOptions } from './lr_scheduler';
