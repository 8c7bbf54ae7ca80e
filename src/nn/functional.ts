/** nn.functional: the stateless forms of every layer and loss. */
import { Tensor, assertTensor } from '../tensor';
import * as ew from '../ops/elementwise';
import * as red from '../ops/reduce';

export { conv1d, conv2d, conv3d, convOutputShape, conv2dReluMaxPool2d, type ConvOptions, type ConvReluPoolOptions, type Padding } from '../ops/conv';
export {
  maxPool1d, maxPool2d, maxPool3d, avgPool1d, avgPool2d, avgPool3d,
  adaptiveAvgPool1d, adaptiveAvgPool2d, adaptiveAvgPool3d, adaptiveMaxPool1d, adaptiveMaxPool2d, adaptiveMaxPool3d,
  maxUnpool1d, maxUnpool2d, maxUnpool3d, globalAvgPool2d, poolOutSize,
  type PoolOptions, type MaxPoolOptions, type AvgPoolOptions, type AdaptiveSize, type MaxUnpoolOptions,
} from '../ops/pool';
export { pad, type PadMode, type PadOptions, type PaddingMode } from '../ops/pad';
export { convTranspose1d, convTranspose2d, convTranspose3d, type ConvTransposeOptions } from '../ops/conv_transpose';
export { crossEntropy, nllLoss, mseLoss, l1Loss, smoothL1Loss, huberLoss, type Reduction, type CrossEntropyOptions, type NllLossOptions, type Target } from '../ops/loss';
export { linear, dropout, batchNorm, type BatchNormOptions } from '../ops/layers';

export const relu = (x: Tensor): Tensor => ew.relu(assertTensor('relu', x, 'input'));
export const sigmoid = (x: Tensor): Tensor => ew.sigmoid(assertTensor('sigmoid', x, 'input'));
export const tanh = (x: Tensor): Tensor => ew.tanh(assertTensor('tanh', x, 'input'));
export const leakyRelu = (x: Tensor, negativeSlope = 0.01): Tensor => ew.leakyRelu(assertTensor('leakyRelu', x, 'input'), negativeSlope);
export const softmax = (x: Tensor, dim: number): Tensor => red.softmax(assertTensor('softmax', x, 'input'), dim, false);
export const logSoftmax = (x: Tensor, dim: number): Tensor => red.softmax(assertTensor('logSoftmax', x, 'input'), dim, true);
