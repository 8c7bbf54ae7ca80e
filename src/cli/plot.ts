/** SVG learning curves: train loss and test accuracy per epoch, side by side, axes labelled. */

interface Point {
  epoch: number;
  loss: number;
  accuracy: number;
}

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(+v.toPrecision(10));
  return out;
}

function escape(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

function panel(x0: number, title: string, yLabel: string, xs: number[], ys: number[], color: string, fmt: (v: number) => string): string {
  const W = 420, H = 300, L = 60, R = 15, T = 35, B = 45;
  const pw = W - L - R, ph = H - T - B;
  const xmin = 1, xmax = Math.max(2, ...xs);
  let ymin = Math.min(...ys), ymax = Math.max(...ys);
  if (ymin === ymax) {
    ymin -= 0.5 * Math.abs(ymin || 1);
    ymax += 0.5 * Math.abs(ymax || 1);
  }
  const pad = (ymax - ymin) * 0.08;
  ymin -= pad;
  ymax += pad;
  const sx = (v: number) => x0 + L + ((v - xmin) / (xmax - xmin)) * pw;
  const sy = (v: number) => T + ph - ((v - ymin) / (ymax - ymin)) * ph;
  const parts: string[] = [];
  parts.push(`<text x="${x0 + L + pw / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escape(title)}</text>`);
  parts.push(`<rect x="${x0 + L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  for (const t of niceTicks(ymin, ymax)) {
    const y = sy(t);
    parts.push(`<line x1="${x0 + L}" x2="${x0 + L + pw}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${x0 + L - 6}" y="${y + 4}" text-anchor="end" font-size="11">${escape(fmt(t))}</text>`);
  }
  for (const t of niceTicks(xmin, xmax, Math.min(10, xmax - xmin)).filter((v) => Number.isInteger(v))) {
    const x = sx(t);
    parts.push(`<line x1="${x}" x2="${x}" y1="${T + ph}" y2="${T + ph + 5}" stroke="#444"/>`);
    parts.push(`<text x="${x}" y="${T + ph + 18}" text-anchor="middle" font-size="11">${t}</text>`);
  }
  parts.push(`<text x="${x0 + L + pw / 2}" y="${H - 8}" text-anchor="middle" font-size="12">epoch</text>`);
  parts.push(`<text transform="translate(${x0 + 14},${T + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escape(yLabel)}</text>`);
  const pts = xs.map((x, i) => `${sx(x).toFixed(1)},${sy(ys[i]).toFixed(1)}`);
  parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
  for (const p of pts) {
    const [cx, cy] = p.split(',');
    parts.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${color}"/>`);
  }
  return parts.join('\n');
}

/** A standalone SVG with the loss curve (left) and the accuracy curve (right). */
export function curvesSvg(history: Point[]): string {
  const xs = history.map((h) => h.epoch);
  const body = history.length
    ? panel(0, 'Training loss', 'cross-entropy loss', xs, history.map((h) => h.loss), '#d62728', (v) => v.toFixed(3)) +
      '\n' +
      panel(420, 'Test accuracy', 'accuracy (%)', xs, history.map((h) => 100 * h.accuracy), '#1f77b4', (v) => v.toFixed(2))
    : '<text x="420" y="150" text-anchor="middle">no epochs yet</text>';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="840" height="300" viewBox="0 0 840 300" font-family="sans-serif">
<rect width="840" height="300" fill="white"/>
${body}
</svg>
`;
}
