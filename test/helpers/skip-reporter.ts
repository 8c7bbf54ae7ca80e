// A vitest reporter that ends the run with what was skipped and why: each
// missing requirement (test/helpers/requirements.ts), the files whose tests
// needed it, and how to get it. Silent about nothing: when every test ran it
// says so.
import type { Reporter, TestModule } from 'vitest/node';

export default class SkipReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const byNote = new Map<string, Map<string, number>>();
    let skipped = 0;
    for (const m of modules)
      for (const t of m.children.allTests()) {
        const r = t.result();
        if (r.state !== 'skipped') continue;
        skipped++;
        const note = r.note ?? 'skipped without a reason (it.skip or .only elsewhere)';
        const files = byNote.get(note) ?? new Map<string, number>();
        files.set(m.relativeModuleId, (files.get(m.relativeModuleId) ?? 0) + 1);
        byNote.set(note, files);
      }
    const out: string[] = [];
    if (skipped === 0) out.push('\nskipped: none (every test ran)');
    else {
      out.push(`\nskipped: ${skipped} test${skipped === 1 ? '' : 's'}, because something they need is not installed here:`);
      for (const [note, files] of byNote) {
        out.push(`  - ${note}`);
        out.push(`    in ${[...files].map(([f, n]) => `${f} (${n})`).join(', ')}`);
      }
    }
    process.stdout.write(out.join('\n') + '\n');
  }
}
