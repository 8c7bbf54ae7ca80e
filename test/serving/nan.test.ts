// NaN and -0 through compiled plans, against PyTorch (test/fixtures/serving_nan.json,
// from test/fixtures/gen_serving_nan.py): ReLU(NaN) is NaN and ReLU(-0) is -0
// in a plan, fused into a conv epilogue, after a residual add, before a max
// pool (where it stays: moving it behind the pool is only equal without NaN)
// and standalone; a NaN weight poisons its channel.
import { describe, it, expect } from 'vitest';
import { Tensor, tensor, nn, InferenceSession } from '../../src';
import { fixture } from '../helpers';

const F = nn.functional;

interface T {
  shape: number[];
  data: (number | null | 'inf' | '-inf')[];
}
interface Case {
  name: string;
  model: 'residual' | 'relu_pool';
  state: Record<string, T>;
  x: T;
  y: T;
  relu?: T;
}

const cases = fixture<{ cases: Case[] }>('serving_nan.json').cases;
const toF32 = (t: T) => Float32Array.from(t.data, (v) => (v === null ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v));

class Residual extends nn.Module {
  conv1 = new nn.Conv2d(1, 4, 3, { padding: 1 });
  bn = new nn.BatchNorm2d(4);
  conv2 = new nn.Conv2d(4, 4, 3, { padding: 1 });
  fc = new nn.Linear(36, 5);
  forward(x: Tensor): Tensor {
    let y = F.relu(this.bn.forward(this.conv1.forward(x)));
    y = F.relu(this.conv2.forward(y).add(y));
    y = F.maxPool2d(y, { kernelSize: 2 });
    return F.relu(this.fc.forward(y.flatten(1)));
  }
}
class ReluPool extends nn.Module {
  forward(x: Tensor): Tensor {
    return F.leakyRelu(F.maxPool2d(F.relu(x), { kernelSize: 2 }), 0.1);
  }
}
class Relu extends nn.Module {
  forward(x: Tensor): Tensor {
    return F.relu(x);
  }
}

/** NaN exactly where PyTorch has NaN, zeros with PyTorch's sign, other values within float32 rounding. */
function expectLikeTorch(got: Float32Array, want: Float32Array, label: string): void {
  expect(got.length, label).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i], w = want[i];
    if (Number.isNaN(w)) expect(Number.isNaN(g), `${label}[${i}]: got ${g}, PyTorch NaN`).toBe(true);
    else if (w === 0) expect(Object.is(g, w), `${label}[${i}]: got ${Object.is(g, -0) ? '-0' : g}, PyTorch ${Object.is(w, -0) ? '-0' : w}`).toBe(true);
    else expect(Math.abs(g - w), `${label}[${i}]: got ${g}, PyTorch ${w}`).toBeLessThanOrEqual(1e-5 + 1e-5 * Math.abs(w));
  }
}

describe('NaN and -0 propagate through compiled plans as in PyTorch', () => {
  for (const c of cases)
    it(c.name, async () => {
      const model = c.model === 'residual' ? new Residual() : new ReluPool();
      if (c.model === 'residual') {
        const sd: Record<string, Tensor> = {};
        for (const [k, v] of Object.entries(c.state)) sd[k] = tensor(toF32(v), v.shape);
        model.loadStateDict(sd, { strict: false });
      }
      const session = new InferenceSession(model.eval());
      const x = tensor(toF32(c.x), c.x.shape);
      const want = toF32(c.y);
      expectLikeTorch(session.runSync(x).data(), want, 'runSync');
      expectLikeTorch((await session.run(x)).data(), want, 'run');
      expectLikeTorch((await model.forwardAsync(x)).data(), want, 'forwardAsync');
      if (c.model === 'residual') expect(session.explain(c.x.shape.slice(1))).toMatch(/conv \+ add \+ relu/);
      if (c.relu) expectLikeTorch(new InferenceSession(new Relu()).runSync(x).data(), toF32(c.relu), 'standalone relu');
    });
});
