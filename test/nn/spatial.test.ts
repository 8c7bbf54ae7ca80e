// Spatial layers against PyTorch 1.13 (test/fixtures/gen_spatial.py → spatial_ref.json): pooling
// (ceil mode, dilation, NaN, indices, divisorOverride), adaptive pools, max unpool, transposed
// convolution, F.pad and conv paddingMode — forward and every gradient.
import { describe, it, expect } from 'vitest';
import { nn, tensor, type Tensor } from '../../src';
import { fixture, expectAllClose } from '../helpers';

const F = nn.functional;

interface Ser {
  shape: number[];
  data: (number | null)[];
}
interface Case {
  op: string;
  opts: Record<string, any>;
  x: Ser;
  gy: Ser;
  y: Ser;
  gx: Ser;
  w?: Ser;
  b?: Ser;
  gw?: Ser;
  gb?: Ser;
  indices?: Ser;
}

const ref = fixture<{ torch: string; cases: Case[] }>('spatial_ref.json');
const arr = (s: Ser) => Float32Array.from(s.data, (v) => (v === null ? NaN : v));
const t = (s: Ser, grad = false): Tensor => {
  const x = tensor(arr(s), s.shape);
  return grad ? x.requiresGrad_() : x;
};
function close(got: Tensor | null | undefined, want: Ser, what: string, rtol = 1e-5, atol = 1e-5): void {
  expect(got, what).toBeTruthy();
  expect([...got!.shape], `${what}: shape`).toEqual(want.shape);
  expectAllClose(got!.data(), arr(want), rtol, atol, what);
}
const label = (c: Case) => `${c.op} ${JSON.stringify(c.opts)} x[${c.x.shape.join(',')}]`;

/** Runs one case in blasnet: [y, extra outputs by name, leaves by name]. */
function run(c: Case): { y: Tensor; indices?: Tensor; x: Tensor; w?: Tensor; b?: Tensor } {
  const x = t(c.x, true);
  const o = c.opts;
  const nd = Number(/(\d)d$/.exec(c.op)?.[1] ?? 0);
  if (/^maxPool/.test(c.op)) {
    const f = [F.maxPool1d, F.maxPool2d, F.maxPool3d][nd - 1];
    const [y, indices] = f(x, { ...o, returnIndices: true } as nn.functional.MaxPoolOptions & { returnIndices: true });
    return { y, indices, x };
  }
  if (/^avgPool/.test(c.op)) {
    const f = [F.avgPool1d, F.avgPool2d, F.avgPool3d][nd - 1] as (x: Tensor, o: nn.functional.AvgPoolOptions) => Tensor;
    return { y: f(x, o as nn.functional.AvgPoolOptions), x };
  }
  if (/^adaptiveAvg/.test(c.op)) return { y: [F.adaptiveAvgPool1d, F.adaptiveAvgPool2d, F.adaptiveAvgPool3d][nd - 1](x, o.outputSize), x };
  if (/^adaptiveMax/.test(c.op)) {
    const [y, indices] = [F.adaptiveMaxPool1d, F.adaptiveMaxPool2d, F.adaptiveMaxPool3d][nd - 1](x, o.outputSize, true);
    return { y, indices, x };
  }
  if (/^maxUnpool/.test(c.op)) {
    const f = [F.maxUnpool1d, F.maxUnpool2d, F.maxUnpool3d][nd - 1];
    return { y: f(x, t(c.indices!), o as nn.functional.MaxUnpoolOptions), x };
  }
  if (/^convTranspose/.test(c.op)) {
    const w = t(c.w!, true), b = c.b ? t(c.b, true) : undefined;
    const f = [F.convTranspose1d, F.convTranspose2d, F.convTranspose3d][nd - 1];
    return { y: f(x, w, b ?? null, o), x, w, b };
  }
  if (c.op === 'pad') return { y: F.pad(x, o.pad, o.mode, o.value), x };
  if (/^conv/.test(c.op)) {
    // through the layer: paddingMode is a layer option, as in PyTorch
    const Cls = [nn.Conv1d, nn.Conv2d, nn.Conv3d][nd - 1];
    const w = t(c.w!), b = t(c.b!);
    const m = new Cls(c.x.shape[1], c.w!.shape[0], c.w!.shape.slice(2), { stride: o.stride, padding: o.padding, dilation: o.dilation, groups: o.groups, paddingMode: o.paddingMode });
    m.weight.copy_(w);
    m.bias!.copy_(b);
    return { y: m.forward(x), x, w: m.weight, b: m.bias! };
  }
  throw new Error(`unknown op ${c.op}`);
}

describe(`spatial layers against PyTorch ${ref.torch}`, () => {
  it('has cases for every op family', () => {
    const ops = new Set(ref.cases.map((c) => c.op.replace(/\dd$/, '')));
    for (const op of ['maxPool', 'avgPool', 'adaptiveAvgPool', 'adaptiveMaxPool', 'maxUnpool', 'convTranspose', 'pad', 'conv']) expect(ops).toContain(op);
  });
  it.each(ref.cases.map((c) => [label(c), c] as const))('%s', (_, c) => {
    const r = run(c);
    close(r.y, c.y, 'y');
    if (c.indices && r.indices) close(r.indices, c.indices, 'indices', 0, 0);
    r.y.backward(t(c.gy));
    close(r.x.grad, c.gx, 'gx');
    if (c.gw) close(r.w!.grad, c.gw, 'gw', 1e-4, 1e-4);
    if (c.gb) close(r.b!.grad, c.gb, 'gb', 1e-4, 1e-4);
  });
});
