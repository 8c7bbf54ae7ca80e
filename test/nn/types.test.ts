// TypeScript-level checks of the layer API: Sequential is generic over its
// layers (net[0] is a Linear, no cast), the PyTorch positional constructor
// forms and loss modules type-check, and misuse does not.
import { describe, it, expect } from 'vitest';
import { typeErrors } from '../helpers/typecheck';

describe('layer API types', () => {
  it('Sequential indexing, positional constructors and loss modules type-check without casts; misuse does not', () => {
    const ok = `
      import { nn, models, zeros, type Tensor } from '../../src';
      const net = new nn.Sequential(new nn.Linear(2, 3, false), new nn.ReLU(), new nn.Linear(3, 1));
      const w: Tensor = net[0].weight;
      const b: Tensor | null = net[2].bias;
      const r: nn.ReLU = net[1];
      const plain: nn.Sequential = net;
      const any: nn.Module = plain[5];
      const lenet = models.LeNet({ numClasses: 3 });
      const first: nn.Module = lenet[0];
      for (const m of net) void (m satisfies nn.Module);
      const isSeq: boolean = (net as nn.Module) instanceof nn.Sequential;
      class Head extends nn.Sequential { constructor() { super(new nn.Flatten(), new nn.Linear(4, 2)); } }
      const layers = [
        new nn.Conv2d(64, 128, 3, 2), new nn.Conv2d(1, 6, 5, 1, 2, 1, 1, false), new nn.Conv1d(1, 2, 3, 2, { padding: 1 }),
        new nn.Conv3d(1, 2, 3, { stride: 2 }), new nn.BatchNorm1d(3, 1e-5, null), new nn.BatchNorm3d(3, { momentum: null, affine: false }),
        new nn.LeakyReLU(0.2), new nn.LeakyReLU({ negativeSlope: 0.1 }), new nn.Softmax(1), new nn.LogSoftmax({ dim: -1 }),
        new nn.Flatten(0, 1), new nn.Unflatten(1, [2, 2]), new nn.Dropout(0.3, true), new nn.ReLU(true), new Head(),
        new nn.CrossEntropyLoss({ weight: zeros(3), ignoreIndex: 1, labelSmoothing: 0.1 }), new nn.CrossEntropyLoss(zeros(3), { reduction: 'sum' }),
        new nn.NLLLoss(), new nn.MSELoss({ reduction: 'none' }),
      ];
      const loss: Tensor = new nn.CrossEntropyLoss()(zeros(2, 3), [0, 1]);
      void [w, b, r, any, first, isSeq, layers, loss];
    `;
    expect(typeErrors(ok, 'nn')).toEqual([]);
    const bad = `
      import { nn } from '../../src';
      const net = new nn.Sequential(new nn.Linear(2, 3), new nn.ReLU());
      net[1].weight;
      new nn.Linear(2, 2, { biass: true });
      new nn.Flatten('x');
      new nn.BatchNorm2d(3, { track_running_stats: false });
    `;
    const errs = typeErrors(bad, 'nn');
    expect(errs.some((e) => /'weight' does not exist on type 'ReLU'/.test(e)), errs.join('\n')).toBe(true);
    expect(errs.some((e) => /biass/.test(e)), errs.join('\n')).toBe(true);
    expect(errs.some((e) => /'"x"'|type 'string'/.test(e)), errs.join('\n')).toBe(true);
    expect(errs.some((e) => /track_running_stats/.test(e)), errs.join('\n')).toBe(true);
  }, 120_000);
});
