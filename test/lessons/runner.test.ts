// The lessons' runner (npm run lesson -- <name>) and their shared options:
// bad input is refused by name, and the lessons type-check against blasnet's
// published types (they are plain ES modules with JSDoc types).
import * as path from 'node:path';
import { describe, it, expect } from 'vitest';
import { ROOT, runNodeFile } from '../helpers/child';
import { LESSON_RUNNER } from './run-lesson';

describe('lesson runner', () => {
  it('lists the eight lessons, and refuses unknown lessons, options and arguments by name', () => {
    const list = runNodeFile(LESSON_RUNNER, ['--help']);
    expect(list.status).toBe(0);
    for (const name of ['translation', 'kernels', 'shapes', 'parameters', 'features', 'saliency', 'conv1d-conv3d', 'huge-image']) expect(list.stdout).toContain(name);
    const unknown = runNodeFile(LESSON_RUNNER, ['nope']);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/unknown lesson 'nope'/);
    const opt = runNodeFile(LESSON_RUNNER, ['shapes', '--epochs', '3']);
    expect(opt.status).toBe(1);
    expect(opt.stderr).toMatch(/lesson shapes: Unknown option '--epochs'/);
    const pos = runNodeFile(LESSON_RUNNER, ['shapes', 'extra']);
    expect(pos.status).toBe(1);
    expect(pos.stderr).toMatch(/lesson shapes: Unexpected argument 'extra'/);
    const seed = runNodeFile(LESSON_RUNNER, ['shapes', '--seed', '1.5']);
    expect(seed.stderr).toMatch(/--seed must be an integer >= 0, got '1.5'/);
    const help = runNodeFile(LESSON_RUNNER, ['4', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/usage: npm run lesson -- parameters/);
  });

  it('type-checks (tsc --checkJs against dist/*.d.mts)', () => {
    const r = runNodeFile(path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), ['-p', path.join('examples', 'lessons')]);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
