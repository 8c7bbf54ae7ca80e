// What cannot be compiled is refused with an error naming the module and the
// reason (at session creation when an inputShape is given), and every public
// serving entry point names itself and the real cause on bad input.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Tensor, tensor, zeros, randn, manualSeed, nn, models, save, InferenceSession } from '../../src';

const F = nn.functional;

// ---------------------------------------------------------------------------
// models that cannot be compiled

class ValueBranch extends nn.Module {
  fc = new nn.Linear(4, 2);
  forward(x: Tensor): Tensor {
    const y = this.fc.forward(x);
    return y.mean().item() > 0 ? y : y.neg(); // control flow on a value
  }
}
class Gate extends nn.Module {
  forward(x: Tensor): Tensor {
    const d = x.data(); // computes outside blasnet
    return tensor(d.map((v) => (v > 0 ? v : 0)), x.shape as number[]);
  }
}
class WithGate extends nn.Module {
  fc = new nn.Linear(4, 4);
  gate = new Gate();
  forward(x: Tensor): Tensor {
    return this.gate.forward(this.fc.forward(x));
  }
}
class Cached extends nn.Module {
  cache = zeros([2, 4]);
  forward(_x: Tensor): Tensor {
    return this.cache; // calls no blasnet op
  }
}
class UsesCached extends nn.Module {
  c = new Cached();
  fc = new nn.Linear(4, 4);
  forward(x: Tensor): Tensor {
    return this.fc.forward(this.c.forward(x));
  }
}
class Noisy extends nn.Module {
  fc = new nn.Linear(4, 4);
  forward(x: Tensor): Tensor {
    return this.fc.forward(x).add(randn([x.shape[0], 4]).mul(0.1));
  }
}
class Prints extends nn.Module {
  forward(x: Tensor): Tensor {
    if (String(x).length < 0) throw new Error('unreachable');
    return x.relu();
  }
}
class Counts extends nn.Module {
  fc = new nn.Linear(4, 4);
  calls = zeros([1]);
  forward(x: Tensor): Tensor {
    this.calls.fill_(1); // changes state in place
    return this.fc.forward(x);
  }
}
class Pair extends nn.Module {
  forward(x: Tensor): Tensor {
    return [x.relu(), x.neg()] as unknown as Tensor;
  }
}
class Swallows extends nn.Module {
  forward(x: Tensor): Tensor {
    try {
      x.sum().item();
    } catch {
      // pretend nothing happened
    }
    return x.relu();
  }
}
class Loss extends nn.Module {
  forward(x: Tensor): Tensor {
    return F.crossEntropy(x, [0, 1]);
  }
}

const REFUSED: [string, () => nn.Module, number[], RegExp][] = [
  ['control flow on a tensor value (.item())', () => new ValueBranch(), [4], /cannot compile ValueBranch: module \(root\) ValueBranch reads tensor values inside forward \(Tensor\.item\(\)\).*control flow/],
  ['a layer computing in JavaScript (.data())', () => new WithGate(), [4], /cannot compile WithGate: module 'gate' \(Gate\) reads tensor values inside forward \(Tensor\.data\(\)\)/],
  ['a layer that calls no blasnet op (returns a cached tensor)', () => new UsesCached(), [4], /module 'c' \(Cached\) returns a tensor it did not compute from its input/],
  ['random numbers in forward', () => new Noisy(), [4], /module \(root\) Noisy draws random numbers/],
  ['printing a tensor in forward', () => new Prints(), [4], /module \(root\) Prints reads tensor values inside forward \(printing a tensor\)/],
  ['printing a large tensor in forward (summarised: reads only the rows it shows)', () => new Prints(), [40, 40], /module \(root\) Prints reads tensor values inside forward \(printing a tensor\)/],
  ['changing a buffer in place', () => new Counts(), [4], /module \(root\) Counts changes a parameter, buffer or captured tensor in place \(fill_\)/],
  ['a forward that returns an array', () => new Pair(), [4], /cannot compile Pair: module \(root\) Pair returns \[a tensor of shape \[2,4\],a tensor of shape \[2,4\]\], not a Tensor/],
  ['a forward that catches the refusal', () => new Swallows(), [4], /module \(root\) Swallows reads tensor values/],
  ['a loss inside forward', () => new Loss(), [3], /module \(root\) Loss computes a loss \(crossEntropy\)/],
];

describe('models that cannot be compiled are refused at session creation, naming the module and the reason', () => {
  for (const [what, make, sample, msg] of REFUSED)
    it(what, async () => {
      manualSeed(1);
      const m = make();
      expect(() => new InferenceSession(m, { inputShape: sample })).toThrow(msg);
      // without an inputShape: at the first run (a rejected promise), and through forwardAsync
      const s = new InferenceSession(m);
      await expect(s.run(randn([2, ...sample]))).rejects.toThrow(msg);
      expect(() => s.runSync(randn([2, ...sample]))).toThrow(msg);
      await expect(m.forwardAsync(randn([2, ...sample]))).rejects.toThrow(msg);
      // the model itself is left as it was: eval flags restored, forward not wrapped
      expect(m.training).toBe(true);
      expect(Object.prototype.hasOwnProperty.call(m, 'forward')).toBe(false);
    });

  it('the addon is restored after a refused trace (eager ops still compute)', () => {
    expect(() => new InferenceSession(new ValueBranch(), { inputShape: [4] })).toThrow();
    expect(tensor([1, 2]).add(tensor([3, 4])).toArray()).toEqual([4, 6]);
  });
});

// ---------------------------------------------------------------------------
// the serving API's own errors

describe('serving entry points name themselves and the real cause', () => {
  const model = models.LeNet().eval();
  let session: InferenceSession;
  let dir = '';
  beforeAll(() => {
    session = new InferenceSession(model);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-serving-errors-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cases: [string, () => unknown, RegExp, ErrorConstructor?][] = [
    ['constructor without a module', () => new InferenceSession({} as nn.Module), /^InferenceSession: expected an nn\.Module, got Object/, TypeError],
    ['constructor with an unknown option', () => new InferenceSession(model, { inputshape: [1, 28, 28] } as object), /^InferenceSession: unknown option 'inputshape' \(did you mean 'inputShape'\?\)/],
    ['constructor with a snake_case option', () => new InferenceSession(model, { max_plans: 2 } as object), /^InferenceSession: unknown option 'max_plans' \(did you mean 'maxPlans'\?/],
    ['constructor with maxPlans 0', () => new InferenceSession(model, { maxPlans: 0 }), /^InferenceSession: maxPlans must be an integer in \[1, 4096\], got 0/, RangeError],
    ['constructor with a string inputShape', () => new InferenceSession(model, { inputShape: '28' as unknown as number[] }), /^InferenceSession: inputShape must be an array of integers .* got "28"/, TypeError],
    ['constructor with a wrong inputShape', () => new InferenceSession(model, { inputShape: [3, 28, 28] }), /^InferenceSession: input shape \[2,3,28,28\] does not fit Sequential: conv2d: input has 3 channels but weight expects 1 .*\(in module '0' \(Conv2d\)\)/],
    ['constructor with foldBatchNorm "yes"', () => new InferenceSession(model, { foldBatchNorm: 'yes' as unknown as boolean }), /^InferenceSession: foldBatchNorm must be a boolean, got "yes"/, TypeError],
    ['compile("x")', () => session.compile('x' as unknown as number[]), /^InferenceSession\.compile: sampleShape must be an array of integers .* got "x"/, TypeError],
    ['compile([1, -1, 28])', () => session.compile([1, -1, 28]), /^InferenceSession\.compile: sampleShape\[1\] must be a non-negative integer, got -1/, RangeError],
    ['compile([1, 0, 28])', () => session.compile([1, 0, 28]), /^InferenceSession\.compile: sampleShape \[1,0,28\] has an empty dim/, RangeError],
    ['compile of a shape the model rejects', () => session.compile([1, 14, 14]), /^InferenceSession\.compile: input shape \[2,1,14,14\] does not fit Sequential: linear: input has 16 features .*\(in module '7' \(Linear\)\)/],
    ['outputShape(null)', () => session.outputShape(null as unknown as number[]), /^InferenceSession\.outputShape: sampleShape must be an array/, TypeError],
    ['explain with batch 0', () => session.explain([1, 28, 28], 0), /^InferenceSession\.explain: batch must be an integer >= 1, got 0/, RangeError],
    ['runSync(42)', () => session.runSync(42 as unknown as Tensor), /^InferenceSession\.runSync: input must be a Tensor or a Float32Array, got 42/, TypeError],
    ['runSync(Float32Array) without a shape', () => session.runSync(new Float32Array(784)), /^InferenceSession\.runSync: a Float32Array input needs its shape/, TypeError],
    ['runSync(Float32Array) with the wrong size', () => session.runSync(new Float32Array(783), [1, 1, 28, 28]), /^InferenceSession\.runSync: the Float32Array has 783 elements but shape \[1,1,28,28\] needs 784/],
    ['runSync(Float32Array, "shape")', () => session.runSync(new Float32Array(784), 'shape' as unknown as number[]), /^InferenceSession\.runSync: shape must be an array of integers, got "shape"/, TypeError],
    ['runSync(tensor, shape)', () => session.runSync(zeros([1, 1, 28, 28]), [1, 1, 28, 28]), /^InferenceSession\.runSync: a Tensor input carries its shape/],
    ['runSync of a scalar', () => session.runSync(tensor(1)), /^InferenceSession\.runSync: input must have a batch dim of at least 1, got shape \[\]/],
    ['runSync of batch 0', () => session.runSync(zeros([0, 1, 28, 28])), /^InferenceSession\.runSync: input must have a batch dim of at least 1, got shape \[0,1,28,28\]/],
    ['runSync of a disposed tensor', () => {
      const x = zeros([1, 1, 28, 28]);
      x.dispose();
      return session.runSync(x);
    }, /^InferenceSession\.runSync: the input tensor \(shape \[1,1,28,28\]\) was disposed/],
    ['runSync of the wrong channels', () => session.runSync(zeros([2, 3, 28, 28])), /^InferenceSession\.runSync: input shape \[2,3,28,28\] does not fit Sequential: conv2d: input has 3 channels/],
    ['load("")', () => InferenceSession.load(''), /^InferenceSession\.load: path must be a non-empty string, got ""/, TypeError],
    ['load of a missing file', () => InferenceSession.load(path.join(dir, 'nope.safetensors')), /^InferenceSession\.load: .*nope\.safetensors/],
    ['load with an unknown option', () => InferenceSession.load('x.safetensors', { modle: model } as object), /^InferenceSession\.load: unknown option 'modle' \(did you mean 'model'\?\)/],
    ['load with a non-module model', () => InferenceSession.load('x.safetensors', { model: 5 as unknown as nn.Module }), /^InferenceSession\.load: model must be an nn\.Module, got 5/, TypeError],
    ['load with model and variant', () => InferenceSession.load('x.safetensors', { model, variant: 'classic' }), /^InferenceSession\.load: give either model or variant/],
    ['load into the wrong architecture', () => {
      const file = path.join(dir, 'lenet.safetensors');
      save(models.LeNet().stateDict(), file);
      return InferenceSession.load(file, { model: new nn.Sequential(new nn.Flatten(), new nn.Linear(784, 10)) });
    }, /^InferenceSession\.load: loadStateDict: keys do not match/],
  ];
  for (const [what, call, msg, cls] of cases)
    it(what, () => {
      let err: unknown = null;
      try {
        call();
      } catch (e) {
        err = e;
      }
      expect(err, 'should throw').toBeInstanceOf(cls ?? Error);
      expect((err as Error).message).toMatch(msg);
    });

  const asyncCases: [string, () => Promise<unknown>, RegExp][] = [
    ['run(null) rejects', () => session.run(null as unknown as Tensor), /^InferenceSession\.run: input must be a Tensor or a Float32Array, got null/],
    ['run of a wrong shape rejects', () => session.run(zeros([2, 1, 32, 32])), /^InferenceSession\.run: input shape \[2,1,32,32\] does not fit Sequential: linear: input has 576 features/],
    ['forwardAsync("x") rejects', () => model.forwardAsync('x' as unknown as Tensor), /^forwardAsync: input must be a Tensor or a Float32Array, got "x"/],
    ['forwardAsync of a wrong shape rejects', () => model.forwardAsync(zeros([2, 3, 28, 28])), /^forwardAsync: input shape \[2,3,28,28\] does not fit Sequential: conv2d/],
    ['forwardAsync in training mode with Dropout rejects', () => new nn.Sequential(new nn.Flatten(), new nn.Dropout(0.5), new nn.Linear(784, 2)).forwardAsync(zeros([1, 1, 28, 28])), /^forwardAsync: the model is in training mode and has Dropout .*call model\.eval\(\) first/],
    ['forwardAsync of a model that cannot compile rejects', () => new ValueBranch().forwardAsync(zeros([2, 4])), /^forwardAsync: cannot compile ValueBranch: module \(root\) ValueBranch reads tensor values/],
  ];
  for (const [what, call, msg] of asyncCases)
    it(what, async () => {
      let p: Promise<unknown>;
      try {
        p = call();
      } catch (e) {
        throw new Error(`threw synchronously instead of rejecting: ${(e as Error).message}`);
      }
      await expect(p).rejects.toThrow(msg);
    });

  it('every call after dispose() says the session was disposed', async () => {
    const s = new InferenceSession(models.LeNet().eval(), { inputShape: [1, 28, 28] });
    s.dispose();
    s.dispose(); // idempotent
    expect(s.isDisposed).toBe(true);
    const x = zeros([1, 1, 28, 28]);
    await expect(s.run(x)).rejects.toThrow(/^InferenceSession\.run: the session was disposed$/);
    expect(() => s.runSync(x)).toThrow(/^InferenceSession\.runSync: the session was disposed$/);
    expect(() => s.compile([1, 28, 28])).toThrow(/^InferenceSession\.compile: the session was disposed$/);
    expect(() => s.outputShape([1, 28, 28])).toThrow(/^InferenceSession\.outputShape: the session was disposed$/);
    expect(() => s.explain([1, 28, 28])).toThrow(/^InferenceSession\.explain: the session was disposed$/);
    expect(s.weightBytes).toBe(0);
    expect(s.planCount).toBe(0);
  });
});
