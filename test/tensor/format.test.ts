// String(t) against PyTorch's printing (test/fixtures/gen_format.py → format_ref.json):
// summarised past 1000 elements (3 edge items around '...'), the number format
// chosen from the shown values, widths, wrapping, suffixes and rounding half to
// even. Summarising reads only the shown elements, so a huge tensor prints at
// once.
import { describe, it, expect } from 'vitest';
import { tensor, zeros, full, memoryInfo, type Tensor } from '../../src';
import { fixture } from '../helpers';

type Enc = number | 'nan' | 'inf' | '-inf' | '-0';
const dec = (v: Enc): number => (v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === '-0' ? -0 : v);
interface Case { name: string; shape: number[]; values?: Enc[]; formula?: [number, number, number, number, number]; suffix?: string; torch: string }
const REF = fixture<{ cases: Case[] }>('format_ref.json');

function build(c: Case): Tensor {
  let data: Float32Array;
  if (c.values) data = Float32Array.from(c.values.map(dec));
  else {
    const [a, b, m, off, div] = c.formula!;
    const n = c.shape.reduce((x, y) => x * y, 1);
    data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = ((((i * a + b) % m) + m) % m - off) / div;
  }
  let t = tensor(data, c.shape);
  if (c.suffix === 'requiresGrad=true') t.requiresGrad_();
  else if (c.suffix?.startsWith('gradFn=')) {
    const leaf = t.requiresGrad_();
    t = c.suffix === 'gradFn=<MulBackward>' ? leaf.mul(1) : leaf.add(0);
  }
  return t;
}

describe('String(t) matches torch', () => {
  for (const c of REF.cases) {
    it(c.name, () => {
      const t = build(c);
      expect(String(t)).toBe(c.torch);
      t.dispose();
    });
  }
});

describe('printing a huge tensor reads only what it shows', () => {
  it('100M elements print like torch.full((100000000,), 1.5) without copying them', () => {
    const t = full([100_000_000], 1.5);
    const before = memoryInfo().liveBytes;
    // torch: tensor([1.5000, 1.5000, 1.5000,  ..., 1.5000, 1.5000, 1.5000])
    expect(String(t)).toBe('tensor([1.5000, 1.5000, 1.5000,  ..., 1.5000, 1.5000, 1.5000])');
    expect(memoryInfo().liveBytes).toBe(before);
    t.dispose();
  });
  it('a 7-d tensor of 823,543 elements shows 6 of each dim', () => {
    const t = zeros([7, 7, 7, 7, 7, 7, 7]);
    const s = String(t);
    expect(s.startsWith('tensor([[[[[[[0., 0., 0.,  ..., 0., 0., 0.],')).toBe(true);
    expect(s.match(/0\./g)!.length).toBe(6 ** 7);
    t.dispose();
  });
});
