/**
 * blasnet: convolutional neural networks for Node.js on OpenBLAS.
 *
 * ```ts
 * import { tensor, nn, optim, models } from 'blasnet';
 * ```
 */
export {
  Tensor,
  tensor,
  zeros,
  ones,
  full,
  arange,
  rand,
  randn,
  zerosLike,
  onesLike,
  manualSeed,
  tidy,
  keep,
  dispose,
  memoryInfo,
  MAX_NUMEL,
  type TensorLike,
  type NestedArray,
} from './tensor';
export { select, narrow, slice, index, indexSelect, gather, where, type IndexSpec, type IndexLike } from './ops/index';
export { cat, stack, split, chunk, unbind } from './ops/join';
export { noGrad, isGradEnabled, type BackwardOptions } from './autograd';
export { backendInfo, setNumThreads, getNumThreads, setConvWorkspaceLimit, getConvWorkspaceLimit, setConvWinograd, type BackendInfo, type WinogradMode } from './backend';
export { broadcastShapes } from './ops/elementwise';
export * as nn from './nn';
export * as optim from './optim';
export * as models from './models';
export * as data from './data';
export * as io from './io';
export * as image from './image';
export * as train from './train';
export * as distributed from './distributed';
export { save, load } from './io/checkpoint';
export { InferenceSession, type InferenceSessionOptions, type LoadSessionOptions } from './plan';
