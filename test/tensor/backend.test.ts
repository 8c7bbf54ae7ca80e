// Backend introspection, threading and the OpenBLAS kernel choice. Some
// machines set OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE) and some do not, so
// everything that depends on it runs in child processes under both
// environments (test/helpers/child.ts); the in-process checks hold either way.
import { describe, it, expect } from 'vitest';
import * as fs from 'node:fs';
import { backendInfo, setNumThreads, getNumThreads } from '../../src';
import { chooseCore } from '../../src/native';
import { DIST, openblasEnvironments, runNode, runNodeJson } from '../helpers/child';

function cpuFlags(): Set<string> {
  try {
    const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    return new Set(line ? line.slice(line.indexOf(':') + 1).trim().split(/\s+/) : []);
  } catch {
    return new Set();
  }
}
const FLAGS = cpuFlags();
const IS_X64_LINUX = process.platform === 'linux' && process.arch === 'x64';
const HAS_AVX512 = IS_X64_LINUX && ['avx512f', 'avx512bw', 'avx512dq', 'avx512vl'].every((f) => FLAGS.has(f));
const HAS_DIST = fs.existsSync(DIST);

function checkInfo(i: Record<string, unknown> & ReturnType<typeof backendInfo>): void {
  expect(i.blas).toMatch(/^OpenBLAS \d+\.\d+\.\d+/);
  expect(typeof i.blasConfig).toBe('string');
  expect(i.blasConfig.startsWith('OpenBLAS')).toBe(true);
  expect(typeof i.core).toBe('string');
  expect(i.core.length).toBeGreaterThan(0);
  expect(['user', 'blasnet', 'openblas']).toContain(i.coreSource);
  expect(Number.isInteger(i.threads)).toBe(true);
  expect(i.threads).toBeGreaterThanOrEqual(1);
  expect(i.blasThreads).toBe(1);
  expect(['avx512', 'avx2', 'avx', 'sse4.2', 'sse2', 'neon', 'scalar']).toContain(i.simd);
}

describe('backendInfo() in this process', () => {
  it('reports OpenBLAS, the core, threads and SIMD level', () => {
    const i = backendInfo();
    checkInfo(i);
    expect(i.threads).toBe(getNumThreads());
  });

  it('coreSource reflects OPENBLAS_CORETYPE as the user set it (blasnet leaves no trace in process.env)', () => {
    const i = backendInfo();
    if (process.env.OPENBLAS_CORETYPE) {
      expect(i.coreSource).toBe('user');
      expect(i.core.toLowerCase()).toBe(process.env.OPENBLAS_CORETYPE.toLowerCase());
    } else {
      expect(['blasnet', 'openblas']).toContain(i.coreSource);
    }
  });

  it('on a CPU with AVX2 or AVX-512 the kernel is not the generic Prescott one', () => {
    if (IS_X64_LINUX && (FLAGS.has('avx512f') || FLAGS.has('avx2'))) expect(backendInfo().core).not.toBe('Prescott');
    else expect(typeof backendInfo().core).toBe('string');
  });

  it('simd names the best vector ISA the CPU has (avx512 with F/BW/DQ/VL, avx2 with AVX2+FMA)', () => {
    const simd = backendInfo().simd;
    if (!IS_X64_LINUX) expect(['neon', 'scalar', 'sse2', 'sse4.2', 'avx', 'avx2', 'avx512']).toContain(simd);
    else if (HAS_AVX512) expect(simd).toBe('avx512');
    else if (FLAGS.has('avx2') && FLAGS.has('fma')) expect(simd).toBe('avx2');
    else expect(['avx', 'sse4.2', 'sse2']).toContain(simd);
  });
});

describe('setNumThreads / getNumThreads in this process', () => {
  it('rejects bad values with RangeError and keeps the current value', () => {
    const old = getNumThreads();
    for (const bad of [0, -1, 1.5, NaN, Infinity, 257, 'x', '4', null, undefined, {}, [2]]) {
      expect(() => setNumThreads(bad as number), `setNumThreads(${String(bad)})`).toThrow(RangeError);
      expect(getNumThreads()).toBe(old);
    }
  });

  it('setting the current value again is a no-op', () => {
    const old = getNumThreads();
    setNumThreads(old);
    expect(getNumThreads()).toBe(old);
  });
});

for (const { name, env } of openblasEnvironments()) {
  const userCore = env.OPENBLAS_CORETYPE;
  describe.skipIf(!HAS_DIST)(`in a fresh process with ${name}`, () => {
    it('backendInfo() reports OpenBLAS, the core, threads and SIMD level', () => {
      const { info, envAfter } = runNodeJson<{ info: ReturnType<typeof backendInfo>; envAfter: string | null }>(
        `process.stdout.write(JSON.stringify({ info: blasnet.backendInfo(), envAfter: process.env.OPENBLAS_CORETYPE ?? null }))`,
        { env, timeout: 60_000 },
      );
      checkInfo(info);
      // the library leaves the environment as it found it
      expect(envAfter).toBe(userCore ?? null);
      if (userCore) {
        expect(info.coreSource).toBe('user');
        expect(info.core.toLowerCase()).toBe(userCore.toLowerCase());
      } else {
        const want = IS_X64_LINUX ? chooseCore(FLAGS) : undefined;
        if (want) {
          expect(info.coreSource).toBe('blasnet');
          expect(info.core).toBe(want);
        } else expect(info.coreSource).toBe('openblas');
        expect(info.core).not.toBe('Prescott');
      }
    });

    it('a child process of a blasnet process sees the environment the user gave', () => {
      const out = runNodeJson<{ child: string | null }>(`
        blasnet.backendInfo();
        const r = require('node:child_process').spawnSync(process.execPath, ['-p', 'process.env.OPENBLAS_CORETYPE ?? "unset"'], { encoding: 'utf8' });
        process.stdout.write(JSON.stringify({ child: r.stdout.trim() }));
      `, { env, timeout: 60_000 });
      expect(out.child).toBe(userCore ?? 'unset');
    });

    // The checks below change the pool size more than once in a row; a hang in
    // the child fails the test (time limit), not the run.
    it('setNumThreads round-trips and restores the old value', () => {
      const r = runNode(`
        const b = blasnet;
        const old = b.getNumThreads();
        let seen = [];
        for (let rep = 0; rep < 10; rep++) {
          seen = [];
          for (const n of [1, 2, 3, 7, 1]) { b.setNumThreads(n); seen.push([b.getNumThreads(), b.backendInfo().threads]); }
          b.setNumThreads(old);
        }
        console.log(JSON.stringify({ old, seen, after: b.getNumThreads() }));
      `, { env, timeout: 20_000 });
      expect(r.signal, `setNumThreads sequence hung or crashed; stderr: ${r.stderr}`).toBeNull();
      expect(r.status, r.stderr).toBe(0);
      const { old, seen, after } = JSON.parse(r.stdout.trim());
      expect(seen).toEqual([[1, 1], [2, 2], [3, 3], [7, 7], [1, 1]]);
      expect(after).toBe(old);
    });

    it('two setNumThreads calls in quick succession do not deadlock', () => {
      // The race is timing-dependent: repeat each sequence many times in one child.
      for (const seq of [[3, 4], [5, 1], [1, 2, 3]]) {
        const r = runNode(`for (let i = 0; i < 50; i++) for (const n of ${JSON.stringify(seq)}) blasnet.setNumThreads(n); console.log(blasnet.getNumThreads());`, { env, timeout: 15_000 });
        expect(r.signal, `setNumThreads(${seq.join('), setNumThreads(')}) x50 hung`).toBeNull();
        expect(r.stdout.trim()).toBe(String(seq[seq.length - 1]));
      }
    });

    it('results do not depend on the thread count (matmul, reductions, elementwise)', () => {
      const r = runNode(`
        const b = blasnet;
        const run = () => b.tidy(() => {
          b.manualSeed(5);
          const a = b.rand([300, 200]), c = b.rand([200, 150]);
          return [a.matmul(c).data(), a.sum(0).data(), a.exp().add(c.sum()).data(), a.softmax(1).data()].map((d) => Array.from(d));
        });
        const old = b.getNumThreads();
        b.setNumThreads(1);
        const one = run();
        b.setNumThreads(4);
        const four = run();
        b.setNumThreads(old);
        // a matmul right after the last change still works
        const m = b.tensor([[1, 2]]).matmul(b.tensor([[3], [4]])).item();
        console.log(JSON.stringify({ one, four, m }));
      `, { env, timeout: 30_000 });
      expect(r.signal, `hung; stderr: ${r.stderr}`).toBeNull();
      expect(r.status, r.stderr).toBe(0);
      const { one, four, m } = JSON.parse(r.stdout.trim()) as { one: number[][]; four: number[][]; m: number };
      expect(m).toBe(11);
      expect(four[2]).toEqual(one[2]); // elementwise is exact
      for (const k of [0, 1, 3]) {
        const x = one[k], y = four[k];
        expect(y.length).toBe(x.length);
        for (let i = 0; i < x.length; i++) expect(Math.abs(x[i] - y[i])).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(x[i])));
      }
    });
  });
}

describe('chooseCore (OpenBLAS kernel from CPU flags)', () => {
  const S = (...f: string[]) => new Set(f);
  it('picks the best kernel the flags allow', () => {
    expect(chooseCore(S('avx512f', 'avx512bw', 'avx512dq', 'avx512vl', 'avx2', 'fma', 'avx', 'sse4_2'))).toBe('SkylakeX');
    expect(chooseCore(S('avx512f', 'avx512bw', 'avx512dq', 'avx512vl'))).toBe('SkylakeX');
    expect(chooseCore(S('avx2', 'fma', 'avx', 'sse4_2'))).toBe('Haswell');
    expect(chooseCore(S('avx', 'sse4_2'))).toBe('Sandybridge');
    expect(chooseCore(S('sse4_2', 'sse4_1', 'ssse3'))).toBe('Nehalem');
  });

  it('needs every AVX-512 subset for SkylakeX (KNL-style avx512f alone is not enough)', () => {
    expect(chooseCore(S('avx512f', 'avx512cd', 'avx512er', 'avx512pf', 'avx2', 'fma', 'avx'))).toBe('Haswell');
    expect(chooseCore(S('avx512f', 'avx512bw', 'avx512dq', 'avx2', 'fma'))).toBe('Haswell');
  });

  it('needs both AVX2 and FMA for Haswell', () => {
    expect(chooseCore(S('avx2', 'avx'))).toBe('Sandybridge');
    expect(chooseCore(S('fma', 'avx'))).toBe('Sandybridge');
    expect(chooseCore(S('avx2', 'fma'))).toBe('Haswell');
  });

  it('leaves the choice to OpenBLAS when nothing is recognised', () => {
    expect(chooseCore(S())).toBeUndefined();
    expect(chooseCore(S('sse', 'sse2', 'sse3'))).toBeUndefined();
    expect(chooseCore(S('neon', 'asimd'))).toBeUndefined();
    expect(chooseCore(S('AVX2', 'FMA'))).toBeUndefined(); // flags are lower-case in /proc/cpuinfo
  });

  it('agrees with the flags of this machine', () => {
    const c = chooseCore(FLAGS);
    if (HAS_AVX512) expect(c).toBe('SkylakeX');
    else if (FLAGS.has('avx2') && FLAGS.has('fma')) expect(c).toBe('Haswell');
  });
});

describe.skipIf(!HAS_DIST || !IS_X64_LINUX)('kernel choice in a fresh process (child node on dist/)', () => {
  const unset = openblasEnvironments()[0].env;
  const info = (env: NodeJS.ProcessEnv) => runNodeJson<ReturnType<typeof backendInfo>>('process.stdout.write(JSON.stringify(blasnet.backendInfo()))', { env, timeout: 60_000 });

  it('without OPENBLAS_CORETYPE blasnet chooses the core from the CPU (SkylakeX on AVX-512, Haswell on AVX2+FMA)', () => {
    const i = info(unset);
    expect(i.coreSource).toBe('blasnet');
    expect(i.core).toBe(chooseCore(FLAGS));
    if (HAS_AVX512) {
      expect(i.core).toBe('SkylakeX');
      expect(i.simd).toBe('avx512');
    } else if (FLAGS.has('avx2') && FLAGS.has('fma')) {
      expect(i.core).toBe('Haswell');
      expect(i.simd).toBe('avx2');
    }
  });

  it("the user's OPENBLAS_CORETYPE wins (Sandybridge)", () => {
    const i = info({ ...unset, OPENBLAS_CORETYPE: 'Sandybridge' });
    expect(i.core).toBe('Sandybridge');
    expect(i.coreSource).toBe('user');
  });

  it('an empty OPENBLAS_CORETYPE counts as unset', () => {
    const i = info({ ...unset, OPENBLAS_CORETYPE: '' });
    expect(i.coreSource).not.toBe('user');
    expect(i.core).not.toBe('Prescott');
  });

  it('numbers agree across kernels (the default vs Sandybridge vs Haswell)', () => {
    const script = `
      blasnet.manualSeed(9);
      const a = blasnet.rand([64, 48]), c = blasnet.rand([48, 32]);
      process.stdout.write(JSON.stringify(Array.from(a.matmul(c).data())));
    `;
    const run = (core?: string) => runNodeJson<number[]>(script, { env: core ? { ...unset, OPENBLAS_CORETYPE: core } : unset, timeout: 60_000 });
    const base = run();
    for (const core of ['Sandybridge', 'Haswell']) {
      const other = run(core);
      expect(other.length).toBe(base.length);
      for (let i = 0; i < base.length; i++) expect(Math.abs(other[i] - base[i])).toBeLessThan(1e-4 * Math.max(1, Math.abs(base[i])));
    }
  });
});
