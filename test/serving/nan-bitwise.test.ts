// NaN, ±0 and ±inf through a compiled plan, bit for bit against the eager
// forward (model.eval() + noGrad) of the same model: conv + batch norm +
// ReLU (fused epilogue), max pool after ReLU, a residual add + ReLU, leaky
// ReLU, a standalone ReLU, average pooling, cat, linear and softmax — at
// batch 1, 3 and 64, 1 and 2 threads, sync and async. NaN payloads and the
// sign of zero must survive exactly as eager mode leaves them (nan.test.ts
// checks the values themselves against PyTorch).
import { describe, it, expect, afterAll } from 'vitest';
import { Tensor, tensor, manualSeed, noGrad, nn, InferenceSession, setNumThreads, getNumThreads, cat } from '../../src';
import { expectBitwise, makeRng } from '../helpers';
import { settleBatchNorm } from './models';

const F = nn.functional;
const threadsBefore = getNumThreads();
afterAll(() => setNumThreads(threadsBefore));

class Specials extends nn.Module {
  conv1 = new nn.Conv2d(2, 4, 3, { padding: 1, bias: false });
  bn1 = new nn.BatchNorm2d(4);
  conv2 = new nn.Conv2d(4, 4, 3, { padding: 1 });
  fc = new nn.Linear(4 * 4 * 4 + 2 * 8 * 8 + 4 * 2 * 2, 5);
  forward(x: Tensor): Tensor {
    const r = F.relu(x); // standalone ReLU of the raw input: -0 stays -0, NaN stays NaN
    let y = F.relu(this.bn1.forward(this.conv1.forward(x)));
    y = F.relu(this.conv2.forward(y).add(y)); // residual add + ReLU
    y = F.maxPool2d(F.leakyRelu(y, 0.1), { kernelSize: 2 }); // [N, 4, 4, 4]
    const a = F.maxPool2d(r, { kernelSize: 1 }); // [N, 2, 8, 8], -0 kept
    const h = cat([y.flatten(1), a.flatten(1), F.avgPool2d(y, { kernelSize: 2 }).flatten(1)], 1);
    // the pooled maps themselves (where a NaN stays local) and the softmax of the logits
    return cat([h, this.fc.forward(h).softmax(1)], 1);
  }
}

/** Normal values with NaN, ±0 and ±inf sprinkled in (a fixed share of each). */
function specials(n: number, seed: number): Float32Array {
  const rng = makeRng(seed);
  const out = new Float32Array(n);
  const pick = [NaN, 0, -0, Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    const u = rng();
    out[i] = u < 0.01 ? pick[Math.floor(rng() * pick.length)] : (rng() - 0.5) * 4;
    if (i % 97 === 5) out[i] = NaN;
    else if (i % 13 === 3) out[i] = -0;
    else if (i % 101 === 7) out[i] = Infinity;
    else if (i % 103 === 11) out[i] = -Infinity;
  }
  return out;
}

describe('NaN, ±0 and ±inf: compiled plan bitwise equal to eager', () => {
  it('through conv/BN/ReLU/add/pools/cat/linear/softmax at batch 1, 3, 64, 1 and 2 threads, sync and async', async () => {
    manualSeed(31);
    const model = new Specials();
    settleBatchNorm(model, [4, 2, 8, 8], 32);
    model.eval();
    const session = new InferenceSession(model, { inputShape: [2, 8, 8] });
    for (const threads of [1, 2])
      for (const N of [1, 3, 64]) {
        setNumThreads(threads);
        const x = tensor(specials(N * 128, 1000 + N), [N, 2, 8, 8]);
        const want = noGrad(() => model.forward(x));
        const w = want.data();
        expect(w.some(Number.isNaN) && w.some((v) => Number.isFinite(v) && v !== 0) && w.some((v) => Object.is(v, -0)), 'the output mixes NaN, -0 and finite values').toBe(true);
        const label = `batch ${N}, ${threads} thread(s)`;
        expectBitwise(session.runSync(x), want, `runSync, ${label}`);
        expectBitwise(await session.run(x), want, `run, ${label}`);
        expectBitwise(await model.forwardAsync(x), want, `forwardAsync, ${label}`);
      }
    session.dispose();
  });

  it('a standalone ReLU, leaky ReLU and max pool keep -0 and NaN payloads exactly', async () => {
    class Plain extends nn.Module {
      forward(x: Tensor): Tensor {
        return F.maxPool2d(F.relu(x).add(F.leakyRelu(x, 0.5)), { kernelSize: 2 });
      }
    }
    const m = new Plain();
    const s = new InferenceSession(m);
    const vals = new Float32Array([NaN, -0, 0, -Infinity, Infinity, -1, 1, -0, -0, -0, -0, -0, NaN, 1, -Infinity, 2]);
    new Uint32Array(vals.buffer)[12] = 0x7fc01234; // a NaN with a payload
    const x = tensor(vals, [1, 1, 4, 4]);
    const want = noGrad(() => m.forward(x));
    expectBitwise(s.runSync(x), want, 'runSync');
    expectBitwise(await s.run(x), want, 'run');
    s.dispose();
  });
});
