// Models the serving tests compile: custom Modules the way users write them.
import { Tensor, randn, tensor, ones, zeros, full, arange, manualSeed, noGrad, tidy, nn, cat, stack, split, unbind, indexSelect, gather, where } from '../../src';

const F = nn.functional;

/** pytorch/examples mnist/main.py `Net`, ported line by line. */
export class MnistNet extends nn.Module {
  conv1 = new nn.Conv2d(1, 32, 3, { stride: 1 });
  conv2 = new nn.Conv2d(32, 64, 3, { stride: 1 });
  dropout1 = new nn.Dropout(0.25);
  dropout2 = new nn.Dropout(0.5);
  fc1 = new nn.Linear(9216, 128);
  fc2 = new nn.Linear(128, 10);
  forward(x: Tensor): Tensor {
    x = this.conv1.forward(x);
    x = F.relu(x);
    x = this.conv2.forward(x);
    x = F.relu(x);
    x = F.maxPool2d(x, { kernelSize: 2 });
    x = this.dropout1.forward(x);
    x = x.flatten(1);
    x = this.fc1.forward(x);
    x = F.relu(x);
    x = this.dropout2.forward(x);
    x = this.fc2.forward(x);
    return F.logSoftmax(x, 1);
  }
}

/** ResNet's basic block: conv-BN-ReLU-conv-BN plus the shortcut (1×1 conv + BN when the shape changes), then ReLU. */
export class BasicBlock extends nn.Module {
  conv1: nn.Conv2d;
  bn1: nn.BatchNorm2d;
  conv2: nn.Conv2d;
  bn2: nn.BatchNorm2d;
  down: nn.Sequential | null;
  constructor(inC: number, outC: number, stride = 1) {
    super();
    this.conv1 = new nn.Conv2d(inC, outC, 3, { stride, padding: 1, bias: false });
    this.bn1 = new nn.BatchNorm2d(outC);
    this.conv2 = new nn.Conv2d(outC, outC, 3, { padding: 1, bias: false });
    this.bn2 = new nn.BatchNorm2d(outC);
    this.down = stride !== 1 || inC !== outC ? new nn.Sequential(new nn.Conv2d(inC, outC, 1, { stride, bias: false }), new nn.BatchNorm2d(outC)) : null;
  }
  forward(x: Tensor): Tensor {
    const identity = this.down ? this.down.forward(x) : x;
    let out = F.relu(this.bn1.forward(this.conv1.forward(x)));
    out = this.bn2.forward(this.conv2.forward(out));
    return F.relu(out.add(identity));
  }
}

/** A ResNet-8 for 32×32×3 inputs (CIFAR-style): stem, three stages of one basic block, global pool, linear. */
export class ResNet8 extends nn.Module {
  stem = new nn.Conv2d(3, 16, 3, { padding: 1, bias: false });
  bn = new nn.BatchNorm2d(16);
  layer1 = new BasicBlock(16, 16);
  layer2 = new BasicBlock(16, 32, 2);
  layer3 = new BasicBlock(32, 64, 2);
  pool = new nn.GlobalAvgPool2d();
  fc = new nn.Linear(64, 10);
  forward(x: Tensor): Tensor {
    x = F.relu(this.bn.forward(this.stem.forward(x)));
    x = this.layer3.forward(this.layer2.forward(this.layer1.forward(x)));
    return this.fc.forward(this.pool.forward(x).flatten(1));
  }
}

/** Moves every batch norm's statistics and affine parameters off their init, as training would. */
export function settleBatchNorm(m: nn.Module, inputShape: number[], seed: number): void {
  manualSeed(seed);
  noGrad(() => {
    for (const [, mod] of m.namedModules())
      if (mod instanceof nn.BatchNorm2d) {
        mod.weight!.copy_(tidy(() => randn([mod.numFeatures]).mul(0.3).add(1)));
        mod.bias!.copy_(tidy(() => randn([mod.numFeatures]).mul(0.2)));
      }
    m.train();
    for (let i = 0; i < 3; i++) tidy(() => m.forward(randn(inputShape, 0.2, 1.3)));
  });
  m.eval();
}

/**
 * Arithmetic with broadcasting in forward: a per-channel scale [1, C, 1, 1] and
 * shift [C, 1, 1] (parameters), squeeze-and-excitation gating by a [N, C]
 * vector viewed as [N, C, 1, 1], centring over channels, scalars, and a
 * constant tensor made inside forward.
 */
export class Broadcasting extends nn.Module {
  conv = new nn.Conv2d(3, 8, 3, { padding: 1 });
  scale = nn.Parameter(randn([1, 8, 1, 1]).mul(0.5).add(1));
  shift = nn.Parameter(randn([8, 1, 1]).mul(0.1));
  fc1 = new nn.Linear(8, 4);
  fc2 = new nn.Linear(4, 8);
  _bias = ones([1, 1, 1, 1]).mul(0.25); // not registered (leading _): a captured constant
  forward(x: Tensor): Tensor {
    let y = this.conv.forward(x).mul(this.scale).add(this.shift);
    const s = y.mean(3).mean(2); // [N, C]
    const g = F.sigmoid(this.fc2.forward(F.relu(this.fc1.forward(s))));
    y = y.mul(g.view(x.shape[0], -1, 1, 1));
    y = y.sub(y.mean(1, true)).div(2).add(1).add(this._bias);
    const w = tensor([0.5, -1, 2, 0.25, 1, 1, -0.5, 3]).view(1, 8, 1, 1);
    y = y.mul(w).pow(2).sqrt().neg().exp();
    return y.flatten(1).softmax(1);
  }
}

/** Batch statistics inside forward: centring over the batch dim (the plan cannot be batch-polymorphic). */
export class BatchCentred extends nn.Module {
  fc = new nn.Linear(12, 5);
  forward(x: Tensor): Tensor {
    const h = this.fc.forward(x.flatten(1));
    return h.sub(h.mean(0, true));
  }
}

/** Control flow on the input's shape: large inputs are pooled once more. */
export class ShapeBranch extends nn.Module {
  conv = new nn.Conv2d(2, 4, 3, { padding: 1 });
  fc = new nn.Linear(4, 3);
  forward(x: Tensor): Tensor {
    let y = F.relu(this.conv.forward(x));
    if (x.shape[2] > 16) y = F.maxPool2d(y, { kernelSize: 2 });
    y = F.avgPool2d(y, { kernelSize: 2 });
    return this.fc.forward(F.globalAvgPool2d(y, false));
  }
}

/** Permutes, batched matmul and softmax: a one-head self-attention over spatial positions. */
export class Attention extends nn.Module {
  conv = new nn.Conv2d(3, 6, 3, { padding: 1 });
  proj = new nn.Linear(6, 6);
  forward(x: Tensor): Tensor {
    const f = this.conv.forward(x); // [N, C, H, W]
    const q = f.flatten(2).transpose(1, 2); // [N, HW, C]
    const a = q.matmul(q.transpose(1, 2)).div(Math.sqrt(6)).softmax(-1); // [N, HW, HW]
    const o = this.proj.forward(a.matmul(q)); // [N, HW, C]
    return o.permute(0, 2, 1).reshape(x.shape[0], 6, x.shape[2], x.shape[3]).tanh();
  }
}

/** Reductions, comparisons, clamps, elementwise maths and tensors created inside forward. */
export class Reductions extends nn.Module {
  fc = new nn.Linear(6, 6);
  forward(x: Tensor): Tensor {
    const h = this.fc.forward(x.flatten(1)); // [N, 6]
    const top = h.max(); // over everything
    const { values, indices } = h.max(1, true); // [N, 1]
    const am = h.argmax(1, true);
    const mask = h.gt(0).add(h.le(values)).sub(h.eq(values).mul(0.5));
    let y = h.clamp(-0.5, 0.5).add(mask).maximum(h.mul(0.1)).minimum(2);
    y = y.add(indices).add(am.mul(0.1)).sub(top).abs().add(1).sqrt().log().pow(2);
    y = y.mul(arange(6).view(1, 6).add(1)).add(zeros([x.shape[0], 1])).add(full([1, 6], 0.5)).sub(ones([6]).mul(0.25));
    const z = y.unsqueeze(2).squeeze(2).transpose(0, 1).clone().transpose(0, 1);
    return z.tanh().sigmoid().exp().neg().sum(1, true).add(y.mean(1, true)).add(y.sum(0, true).mul(0));
  }
}

/**
 * An Inception-style block (GoogLeNet's, reduced): 1×1, 1×1→3×3, 1×1→5×5 and
 * 3×3-max-pool→1×1 branches with BatchNorm and ReLU, concatenated over
 * channels, then a classifier head.
 */
export class Inception extends nn.Module {
  b1 = new nn.Sequential(new nn.Conv2d(3, 4, 1), new nn.ReLU());
  b2 = new nn.Sequential(new nn.Conv2d(3, 3, 1), new nn.ReLU(), new nn.Conv2d(3, 6, 3, { padding: 1, bias: false }), new nn.BatchNorm2d(6), new nn.ReLU());
  b3 = new nn.Sequential(new nn.Conv2d(3, 2, 1), new nn.ReLU(), new nn.Conv2d(2, 3, 5, { padding: 2 }), new nn.ReLU());
  b4 = new nn.Sequential(new nn.MaxPool2d(3, { stride: 1, padding: 1 }), new nn.Conv2d(3, 2, 1), new nn.ReLU());
  fc = new nn.Linear(15, 4);
  forward(x: Tensor): Tensor {
    const y = nn.functional.relu(cat([this.b1.forward(x), this.b2.forward(x), this.b3.forward(x), this.b4.forward(x)], 1)); // [N, 15, H, W]
    return this.fc.forward(F.globalAvgPool2d(y, false));
  }
}

/**
 * Channel slicing and every other indexing op in forward: narrow, slice with
 * a step, select, x[…] with an index tensor, indexSelect, gather with indices
 * computed in forward (argmax), where, stack, chunk, split, unbind, and an
 * in-place indexed write (a cat of pieces).
 */
export class Slicing extends nn.Module {
  conv = new nn.Conv2d(2, 6, 3, { padding: 1 });
  perm = [5, 0, 3, 1, 4, 2];
  forward(x: Tensor): Tensor {
    const f = this.conv.forward(x); // [N, 6, H, W]
    const [a, b] = f.chunk(2, 1); // [N, 3, H, W] each
    const c = f.narrow(1, 1, 2).add(f.slice(1, 0, null, 3)); // [N, 2, H, W]
    const d = f.select(1, 4).unsqueeze(1); // [N, 1, H, W]
    const e = indexSelect(f, 1, this.perm).index(':', [0, 2, 4]); // [N, 3, H, W]
    const g = stack([a.mul(b), e.sub(a)], 1).sum(1); // [N, 3, H, W]
    const m = where(g.gt(0), g, c.sum(1, true).mul(0.5)); // [N, 3, H, W]
    const parts = split(m, [1, 2], 1);
    const h = cat([parts[1], d, parts[0], ...unbind(c, 1).map((t) => t.unsqueeze(1))], 1); // [N, 6, H, W]
    const p = h.flatten(2); // [N, 6, HW]
    const am = p.argmax(2, true); // [N, 6, 1]: computed indices
    return cat([gather(p, 2, am), p.mean(2, true), where(p.lt(0), 0, p).sum(2, true)], 2).flatten(1);
  }
}

/** A LeNet written with the eager fused op F.conv2dReluMaxPool2d (with and without its ReLU, odd planes). */
export class FusedConvPool extends nn.Module {
  conv1 = new nn.Conv2d(1, 6, 5, { padding: 2 });
  conv2 = new nn.Conv2d(6, 16, 3, { bias: false });
  fc = new nn.Linear(16 * 3 * 3, 10);
  forward(x: Tensor): Tensor {
    x = F.conv2dReluMaxPool2d(x, this.conv1.weight, this.conv1.bias, { padding: 2 }); // [1, 17, 17] → conv 17² → pool 8²
    x = F.conv2dReluMaxPool2d(x, this.conv2.weight, null, { relu: false }); // → conv 6² → pool 3²
    return this.fc.forward(x.flatten(1));
  }
}

/** A small encoder–decoder: convs with padding modes, F.pad in every mode (cropping included), transposed convs 1-d to 3-d. */
export class EncoderDecoder extends nn.Module {
  enc = new nn.Conv2d(2, 6, 3, 2, 1, 1, 1, true, 'reflect');
  mid = new nn.Conv2d(6, 6, 3, { padding: 1, paddingMode: 'circular', groups: 2 });
  up = new nn.ConvTranspose2d(6, 4, 3, { stride: 2, padding: 1, outputPadding: 1 });
  up2 = new nn.ConvTranspose2d(4, 4, 2, { stride: 1, groups: 2, dilation: 2, bias: false });
  line = new nn.ConvTranspose1d(4, 3, 3, { stride: 3 });
  vol = new nn.ConvTranspose3d(1, 2, 2, { stride: 2 });
  forward(x: Tensor): Tensor {
    let y = F.relu(this.enc.forward(x));
    y = F.pad(y, [1, 1, 1, 1], 'replicate');
    y = this.mid.forward(y);
    y = F.pad(y, [-1, 0, 0, -1]); // crop
    y = F.relu(this.up.forward(y));
    y = this.up2.forward(F.pad(y, [2, 1, 0, 2], 'constant', 0.5));
    y = F.pad(y, [1, 2, 2, 1], 'reflect');
    const [N, C, H, W] = y.shape;
    const l = this.line.forward(y.reshape([N, C, H * W]).narrow(2, 0, 7)); // [N, 3, 21]
    const v = this.vol.forward(F.pad(y.narrow(1, 0, 1).reshape([N, 1, 1, H, W]), [0, 0, 0, 0, 1, 0], 'circular'));
    return cat([l.flatten(1), v.flatten(1), y.flatten(1)], 1);
  }
}

/** Pools beyond the plain ones: dilated and ceil-mode max pools, divisorOverride, adaptive max 1-d to 3-d, adaptive avg 3-d. */
export class Pools extends nn.Module {
  conv = new nn.Conv2d(2, 4, 3, { padding: 1 });
  dil = new nn.MaxPool2d(3, 1, 1, 2, false, true); // dilation 2, ceil mode: right after a conv, it must not become its epilogue
  avg = new nn.AvgPool2d(2, { divisorOverride: 3 });
  amax1 = new nn.AdaptiveMaxPool1d(5);
  amax2 = new nn.AdaptiveMaxPool2d([3, null]);
  amax3 = new nn.AdaptiveMaxPool3d([2, 3, 2]);
  aavg3 = new nn.AdaptiveAvgPool3d(2);
  forward(x: Tensor): Tensor {
    const c = this.dil.forward(this.conv.forward(x)); // [N, 4, 7, 6]
    const a = F.relu(this.avg.forward(c)); // [N, 4, 3, 3]
    const l = this.amax1.forward(c.flatten(2)); // [N, 4, 5]
    const m = this.amax2.forward(c); // [N, 4, 3, 6]
    const [N, C, H, W] = c.shape;
    const v = c.reshape([N, 1, C, H, W]);
    return cat([a.flatten(1), l.flatten(1), m.flatten(1), this.amax3.forward(v).flatten(1), this.aavg3.forward(v).flatten(1)], 1);
  }
}
