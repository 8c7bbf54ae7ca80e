// The guides (docs/*.md) and the README say what is true: every ```ts block
// type-checks against the compiled library's declarations, as a user's file
// importing 'blasnet' would; and the API reference builds from the TSDoc
// comments (npm run docs, TypeDoc) with every guide linked in.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../cli/helpers';

const GUIDES = ['training.md', 'custom-models.md', 'custom-datasets.md', 'serving.md', 'pytorch-weights.md', 'memory.md'];

let tmp: string;
beforeAll(() => {
  tmp = tempDir('docs');
});
afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** The ```ts blocks of a markdown file. */
function tsBlocks(file: string): string[] {
  const md = fs.readFileSync(file, 'utf8');
  return [...md.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

describe('docs', () => {
  it('every guide exists and is linked from the README', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    for (const g of GUIDES) {
      expect(fs.existsSync(path.join(ROOT, 'docs', g)), g).toBe(true);
      expect(readme, `README links docs/${g}`).toContain(`docs/${g}`);
    }
  });

  it("every ```ts block in docs/*.md and the README type-checks against the library's declarations", () => {
    const files: string[] = [];
    for (const md of [...GUIDES.map((g) => path.join(ROOT, 'docs', g)), path.join(ROOT, 'README.md')]) {
      tsBlocks(md).forEach((code, i) => {
        const f = path.join(tmp, `${path.basename(md, '.md')}-${i}.ts`);
        // a block without imports is a fragment of the one before it in the README: make each a module
        fs.writeFileSync(f, /^import /m.test(code) ? code : `export {};\n${code}`);
        files.push(f);
      });
    }
    expect(files.length).toBeGreaterThanOrEqual(12);
    fs.writeFileSync(path.join(tmp, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'es2022', module: 'esnext', moduleResolution: 'bundler', lib: ['es2022', 'esnext.disposable'], strict: true, noEmit: true,
        skipLibCheck: true, types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')],
        baseUrl: tmp, paths: { blasnet: [path.join(ROOT, 'dist', 'index.d.ts')] },
      },
      files,
    }));
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(tmp, 'tsconfig.json')], { encoding: 'utf8' });
    expect(r.status, `tsc on the documentation's code:\n${r.stdout}${r.stderr}`).toBe(0);
  }, 120_000);

  it('npm run docs builds the API reference (TypeDoc) with the guides and the public namespaces', () => {
    const out = path.join(tmp, 'api');
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--out', out], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/\[error\]/);
    const html = fs.readFileSync(path.join(out, 'index.html'), 'utf8');
    expect(html).toContain('blasnet');
    const modules = fs.readdirSync(path.join(out, 'modules'));
    for (const ns of ['train', 'image', 'io', 'nn', 'optim', 'data']) expect(modules.some((m) => m.endsWith(`.${ns}.html`) || m === `${ns}.html`), `a page for ${ns}: ${modules}`).toBe(true);
    const trainer = fs.readdirSync(path.join(out, 'classes')).find((c) => c.endsWith('train.Trainer.html'));
    expect(trainer, 'a page for train.Trainer').toBeDefined();
    expect(fs.readFileSync(path.join(out, 'classes', trainer!), 'utf8')).toContain('The training loop');
    const opts = fs.readdirSync(path.join(out, 'interfaces')).find((c) => c.endsWith('train.TrainerOptions.html'));
    expect(fs.readFileSync(path.join(out, 'interfaces', opts!), 'utf8')).toContain('afterBackward');
    const docs = fs.readdirSync(path.join(out, 'documents'));
    for (const g of GUIDES) expect(docs, g).toContain(g.replace(/\.md$/, '.html'));
  }, 320_000);
});
