/**
 * LeNet-5 (LeCun et al. 1998) as an nn.Sequential, so its state-dict keys are
 * the same as the equivalent PyTorch Sequential's and weights move between the
 * two unchanged:
 *
 *   0 Conv2d(1, 6, 5, padding 2)  1 act  2 pool(2)
 *   3 Conv2d(6, 16, 5)            4 act  5 pool(2)
 *   6 Flatten  7 Linear(400, 120)  8 act  9 Linear(120, 84)  10 act  11 Linear(84, 10)
 *
 * 'modern' (default): ReLU and max pooling. 'classic': sigmoid and average
 * pooling, as the 1998 network in Dive into Deep Learning. 61,706 parameters.
 */
import * as nn from '../nn';
import { checkOptions } from '../ops/args';
import { intArg } from '../nn/args';

export type LeNetVariant = 'modern' | 'classic';

/** Options of {@link LeNet}. */
export interface LeNetOptions {
  /** 'modern' (ReLU, max pooling; default) or 'classic' (sigmoid, average pooling). */
  variant?: LeNetVariant;
  /** Outputs of the last Linear (default 10). */
  numClasses?: number;
}

export function LeNet(opts: LeNetOptions = {}): nn.Sequential {
  opts = checkOptions('LeNet', opts, ['variant', 'numClasses']);
  const variant = opts.variant ?? 'modern';
  if (variant !== 'modern' && variant !== 'classic') throw new Error(`LeNet: variant must be 'modern' or 'classic', got ${JSON.stringify(variant)}`);
  const classes = intArg('LeNet', 'numClasses', opts.numClasses ?? 10);
  const act = () => (variant === 'modern' ? new nn.ReLU() : new nn.Sigmoid());
  const pool = () => (variant === 'modern' ? new nn.MaxPool2d(2) : new nn.AvgPool2d(2));
  return new nn.Sequential(
    new nn.Conv2d(1, 6, 5, { padding: 2 }), act(), pool(),
    new nn.Conv2d(6, 16, 5), act(), pool(),
    new nn.Flatten(),
    new nn.Linear(16 * 5 * 5, 120), act(),
    new nn.Linear(120, 84), act(),
    new nn.Linear(84, classes),
  );
}
