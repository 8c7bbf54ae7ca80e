// @ts-check
/**
 * Lesson 4 — LeNet's parameters, layer by layer.
 *
 * Each count is derived from the layer's shapes alone: a convolution with Cout kernels of
 * Cin × k × k weights has Cout·Cin·k·k + Cout (one bias per output channel) whatever the image
 * size; a fully connected layer in → out has out·in + out; pooling, ReLU, sigmoid and flatten
 * compute fixed functions and have none. The output shapes come from the output-size rule
 * (nn.functional.convOutputShape, poolOutSize). Both are checked against `model.summary()`,
 * and the total against 61,706, for both variants (modern: ReLU + max pooling; classic:
 * sigmoid + average pooling — the same parameters).
 *
 *   npm run lesson -- parameters
 */
import { nn, models } from 'blasnet';
import { lesson, table, count, pct } from './common.mjs';

const F = nn.functional;

/**
 * One layer's parameter count and output shape, from its configuration.
 * @param {import('blasnet').nn.Module} m @param {number[]} shape  the input shape
 * @returns {{ params: number, formula: string, out: number[] }}
 */
export function deriveLayer(m, shape) {
  if (m instanceof nn.Conv2d) {
    const cin = m.inChannels / m.groups, [kh, kw] = m.kernelSize, bias = m.bias ? m.outChannels : 0;
    const out = F.convOutputShape(shape, [m.outChannels, cin, kh, kw], { stride: m.stride, padding: m.padding, dilation: m.dilation, groups: m.groups });
    return { params: m.outChannels * cin * kh * kw + bias, formula: `${m.outChannels}·${cin}·${kh}·${kw}${bias ? ` + ${bias}` : ''}`, out };
  }
  if (m instanceof nn.Linear) {
    const bias = m.bias ? m.outFeatures : 0;
    return { params: m.outFeatures * m.inFeatures + bias, formula: `${m.outFeatures}·${m.inFeatures}${bias ? ` + ${bias}` : ''}`, out: [shape[0], m.outFeatures] };
  }
  if (m instanceof nn.MaxPool2d || m instanceof nn.AvgPool2d) {
    const o = m.options, two = (/** @type {number | number[]} */ v) => (typeof v === 'number' ? [v, v] : v);
    const k = two(o.kernelSize), s = o.stride == null ? k : two(o.stride), p = two(o.padding ?? 0);
    const out = [shape[0], shape[1], ...[0, 1].map((i) => F.poolOutSize(shape[2 + i], k[i], s[i], p[i], !!o.ceilMode))];
    return { params: 0, formula: `0 (a fixed ${m instanceof nn.MaxPool2d ? 'max' : 'mean'})`, out };
  }
  if (m instanceof nn.ReLU || m instanceof nn.Sigmoid || m instanceof nn.Tanh) return { params: 0, formula: '0 (elementwise)', out: shape };
  if (m instanceof nn.Flatten) return { params: 0, formula: '0 (a reshape)', out: [shape[0], shape.slice(1).reduce((a, b) => a * b, 1)] };
  throw new Error(`parameters: no rule for a ${m.constructor.name} layer`);
}

/**
 * The rows of `summary()`'s table: name, type, output shape, parameters.
 * @param {string} text
 */
export function parseSummary(text) {
  const lines = text.split('\n'), rules = lines.flatMap((l, i) => (/^-+$/.test(l) ? [i] : []));
  const rows = lines.slice(rules[0] + 1, rules[1]).map((l) => {
    const [name, type, shape, params] = l.trim().split(/\s{2,}/);
    return { name, type, shape: JSON.parse(shape), params: Number(params.replace(/,/g, '')) };
  });
  const total = Number(/Total params: ([\d,]+)/.exec(text)?.[1].replace(/,/g, ''));
  return { rows, total };
}

export default lesson(import.meta.url, { name: 'parameters', title: "LeNet's parameters, layer by layer" }, () => {
  const input = [1, 1, 28, 28];
  /** @type {Record<string, unknown>} */
  const variants = {};
  for (const variant of /** @type {const} */ (['modern', 'classic'])) {
    const model = models.LeNet({ variant });
    const summary = parseSummary(model.summary(input));
    const leaves = model.namedModules().filter(([, m]) => m.children().length === 0);
    let shape = input, total = 0;
    const rows = leaves.map(([name, m], i) => {
      const d = deriveLayer(m, shape);
      shape = d.out;
      total += d.params;
      const s = summary.rows[i];
      const ok = s.name === name && s.params === d.params && s.params === m.numParameters() && s.shape.join() === d.out.join();
      return { name, type: m.constructor.name, formula: d.formula, params: d.params, shape: d.out, summaryParams: s.params, summaryShape: s.shape, ok };
    });
    console.log(`\nLeNet (${variant}), input [${input.join(', ')}]:`);
    table(['layer', 'type', 'derived from the shapes', 'params', 'output shape (rule)', 'summary', 'agree'],
      rows.map((r) => [r.name, r.type, r.formula, count(r.params), `[${r.shape.join(', ')}]`, `${count(r.summaryParams)} [${r.summaryShape.join(', ')}]`, r.ok ? 'yes' : 'NO']));
    const conv = rows.filter((r) => r.type === 'Conv2d').reduce((a, r) => a + r.params, 0);
    const fc = rows.filter((r) => r.type === 'Linear').reduce((a, r) => a + r.params, 0);
    console.log(`total ${count(total)} (summary: ${count(summary.total)}; expected 61,706); convolutions ${count(conv)} (${pct(conv / total)}), fully connected ${count(fc)} (${pct(fc / total)})`);
    const bad = rows.filter((r) => !r.ok);
    if (bad.length || total !== summary.total || total !== 61706 || rows.length !== summary.rows.length)
      throw new Error(`parameters: the derivation disagrees with summary() for LeNet (${variant})${bad.length ? ` at ${bad.map((r) => r.name).join(', ')}` : ''}: derived ${total}, summary ${summary.total}, expected 61706`);
    variants[variant] = { rows, total, summaryTotal: summary.total, convParams: conv, fcParams: fc };
    model.dispose();
  }
  return { input, variants };
});
