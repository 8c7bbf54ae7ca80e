// LeNet weights move between PyTorch and blasnet through safetensors files, in
// both directions (test/fixtures/torch_interop.py runs Debian's PyTorch).
import { describe, it, expect } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { models, noGrad, randn, save, load, type Tensor } from '../../src';
import { PYTHON as python, pytorch, requireOrSkip } from '../helpers/requirements';

const script = path.join(__dirname, '..', 'fixtures', 'torch_interop.py');

function maxAbsDiff(a: Tensor, b: Tensor): number {
  const x = a.data(), y = b.data();
  expect(x.length).toBe(y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

describe('safetensors interop with PyTorch', () => {
  it('weights written by PyTorch load into blasnet and give the same logits', (ctx) => {
    requireOrSkip(ctx, pytorch());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-interop-'));
    const file = path.join(dir, 'torch.safetensors');
    execFileSync(python, [script, 'export', file]);
    const all = load(file);
    const weights = Object.fromEntries(Object.entries(all).filter(([k]) => !k.startsWith('probe.')));
    const model = models.LeNet().eval();
    model.loadStateDict(weights); // strict
    const logits = noGrad(() => model.forward(all['probe.x']));
    expect(maxAbsDiff(logits, all['probe.logits'])).toBeLessThan(1e-4);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("blasnet's files load into PyTorch (strict) and give the same logits", (ctx) => {
    requireOrSkip(ctx, pytorch());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-interop-'));
    const file = path.join(dir, 'blasnet.safetensors');
    const model = models.LeNet().eval();
    const x = randn([4, 1, 28, 28]);
    const logits = noGrad(() => model.forward(x));
    save({ ...model.stateDict(), 'probe.x': x, 'probe.logits': logits }, file, { producer: 'blasnet' });
    const r = spawnSync(python, [script, 'check', file], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).ok).toBe(true);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
