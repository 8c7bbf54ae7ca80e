// Runs a lesson the way its README line does (node examples/lessons/run.mjs
// <name> …, which is `npm run lesson -- <name>`), on its CI subset (--quick),
// one thread, into a fresh directory, and returns what it wrote.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { ROOT, runNodeFile, type NodeRun } from '../helpers/child';

export const LESSON_RUNNER = path.join(ROOT, 'examples', 'lessons', 'run.mjs');

export interface LessonRun {
  /** results.json as the lesson wrote it */
  results: any;
  out: string;
  stdout: string;
  /** Whether the lesson wrote this file (relative to its output directory). */
  wrote(file: string): boolean;
  /** Width and height of a PNG it wrote. */
  png(file: string): { width: number; height: number; data: Buffer };
  cleanup(): void;
}

/** Runs the lesson with `args`; a non-zero exit throws with the child's stderr. */
export function runLesson(name: string, args: string[] = ['--quick', '--threads', '1'], timeout = 300_000): LessonRun {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), `blasnet-lesson-${name}-`));
  const r: NodeRun = runNodeFile(LESSON_RUNNER, [name, ...args, '--out', out], { timeout });
  if (r.status !== 0) throw new Error(`lesson ${name} exited with ${r.status ?? r.signal}:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-4000)}`);
  return {
    results: JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')),
    out,
    stdout: r.stdout,
    wrote: (file) => fs.existsSync(path.join(out, file)) && fs.statSync(path.join(out, file)).size > 0,
    png: (file) => PNG.sync.read(fs.readFileSync(path.join(out, file))),
    cleanup: () => fs.rmSync(out, { recursive: true, force: true }),
  };
}
