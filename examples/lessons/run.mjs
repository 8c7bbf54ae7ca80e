// @ts-check
/**
 * Runs a lesson by name or number, or all of them:
 *
 *   npm run lesson -- translation            # = node examples/lessons/run.mjs translation
 *   npm run lesson -- 3 --quick
 *   npm run lesson -- all --out docs/lessons # each lesson in its own process, into docs/lessons/<name>
 *
 * Options after the name go to the lesson (--quick, --out, --seed, --threads, --help).
 */
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The lessons in the order of the notes. */
export const LESSONS = [
  ['translation', 'why not an MLP: translation invariance'],
  ['kernels', 'kernels as feature detectors, and max pooling against a tilted edge'],
  ['shapes', 'padding, stride and channels: the output-size rule'],
  ['parameters', "LeNet's parameters, layer by layer"],
  ['features', 'hierarchical features: feature maps and the patches that excite conv2'],
  ['saliency', 'gradients with respect to the input: saliency maps'],
  ['conv1d-conv3d', '1-D sequences and 3-D video: what temporal convolution sees'],
  ['huge-image', 'stride on a 10,000 × 10,000 image: memory and time'],
];

const here = path.dirname(fileURLToPath(import.meta.url));

function usage() {
  return `usage: npm run lesson -- <lesson | number | all> [--quick] [--out DIR] [--seed N] [--threads N]\n\n${LESSONS.map(([n, t], i) => `  ${i + 1}  ${n.padEnd(14)} ${t}`).join('\n')}`;
}

/** @param {string[]} argv */
async function main(argv) {
  const [which, ...rest] = argv;
  if (which === undefined || which === '--help' || which === '-h') {
    console.log(usage());
    if (which === undefined) process.exitCode = 1;
    return;
  }
  if (which === 'all') {
    // --out DIR puts each lesson in DIR/<name>; each runs in its own process (the last one needs GBs).
    const i = rest.findIndex((a) => a === '--out' || a.startsWith('--out='));
    const base = i < 0 ? null : rest[i].startsWith('--out=') ? rest[i].slice(6) : rest[i + 1];
    const others = i < 0 ? rest : rest.filter((_, j) => j !== i && !(j === i + 1 && !rest[i].startsWith('--out=')));
    for (const [name] of LESSONS) {
      const args = [fileURLToPath(import.meta.url), name, ...others, ...(base ? ['--out', path.join(base, name)] : [])];
      const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
      if (r.status !== 0) throw new Error(`lesson ${name} failed (exit ${r.status ?? r.signal})`);
      console.log();
    }
    return;
  }
  const n = Number(which);
  const entry = Number.isInteger(n) && n >= 1 && n <= LESSONS.length ? LESSONS[n - 1] : LESSONS.find(([name]) => name === which);
  if (!entry) throw new Error(`lesson: unknown lesson '${which}'\n\n${usage()}`);
  const mod = await import(pathToFileURL(path.join(here, `${entry[0]}.mjs`)).href);
  await mod.default.main(rest);
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
