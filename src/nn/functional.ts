/** nn.functional: the stateless forms of every layer and loss. */
import { Tensor } from '../tensor';
import * as ew from '../ops/elementwise';
import * as red from '../ops/reduce';

export { conv1d, conv2d, conv3d, type ConvOptions, type Padding } from '../ops/conv';
export { maxPool1d, maxPool2d, maxPool3d, avgPool1d, avgPool2d, avgPool3d, adaptiveAvgPool2d, globalAvgPool2d, poolOutSize, type PoolOptions } from '../ops/pool';
export { crossEntropy, nllLoss, mseLoss, type Reduction, type CrossEntropyOptions, type Target } from '../ops/loss';
export { linear, dropout, batchNorm, type BatchNormOptions } from '../ops/layers';

export const relu = (x: Tensor): Tensor => ew.relu(x);
export const sigmoid = (x: Tensor): Tensor => ew.sigmoid(x);
export const tanh = (x: Tensor): Tensor => ew.tanh(x);
export const leakyRelu = (x: Tensor, negativeSlope = 0.01): Tensor => ew.leakyRelu(x, negativeSlope);
export const softmax = (x: Tensor, dim: number): Tensor => red.softmax(x, dim, false);
export const logSoftmax = (x: Tensor, dim: number): Tensor => red.softmax(x, dim, true);
