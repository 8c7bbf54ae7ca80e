#!/usr/bin/env node
// npm run setup: make a fresh clone ready to train, in one command.
//
// Installs only what is missing to build the native addon -- CMake, a C++17
// compiler, OpenBLAS -- through the system's package manager (Debian/Ubuntu:
// apt-get, as root or through sudo; Fedora: dnf; macOS: Homebrew), printing
// every command before it runs; then installs the npm dependencies (which
// builds the addon and the TypeScript) and checks that the library loads.
//
// Plain Node, no dependencies: it runs before node_modules exists.
//
//   node scripts/setup.js [--dry-run] [--with-pytorch] [--with-fashion-mnist] [--ci] [--skip-npm]
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');

const USAGE = `usage: npm run setup [-- options]      (or: node scripts/setup.js [options])

Installs what is missing to build blasnet (cmake, a C++ compiler, OpenBLAS)
with the system's package manager, then the npm dependencies, and builds.

  --dry-run              print what would be run, run nothing
  --with-pytorch         also PyTorch for /usr/bin/python3 (the interop tests; Debian/Ubuntu, Fedora)
  --with-fashion-mnist   also Fashion-MNIST's IDX files (Debian/Ubuntu: dataset-fashion-mnist)
  --ci                   npm ci (the lockfile exactly) instead of npm install
  --skip-npm             system packages only
  -h, --help             this text`;

/** Where each package manager's OpenBLAS header may be. */
const CBLAS_HEADERS = [
  '/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h',
  '/usr/include/aarch64-linux-gnu/openblas-pthread/cblas.h',
  '/usr/include/openblas/cblas.h',
  '/usr/include/cblas.h',
  '/opt/homebrew/opt/openblas/include/cblas.h',
  '/usr/local/opt/openblas/include/cblas.h',
];

/** Package names per manager. */
const PACKAGES = {
  apt: { cmake: 'cmake', cxx: 'g++', openblas: 'libopenblas-dev', pytorch: 'python3-torch', fashion: 'dataset-fashion-mnist' },
  dnf: { cmake: 'cmake', cxx: 'gcc-c++', openblas: 'openblas-devel', pytorch: 'python3-torch', fashion: null },
  brew: { cmake: 'cmake', cxx: null, openblas: 'openblas', pytorch: null, fashion: null },
};

/** The real machine, as detect() and plan() see it (tests pass their own). */
function realEnv() {
  const run = (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
  let osRelease = '';
  try {
    osRelease = fs.readFileSync('/etc/os-release', 'utf8');
  } catch {
    // not Linux, or no os-release
  }
  return {
    platform: process.platform,
    osRelease,
    has: (cmd) => run(cmd, ['--version']),
    exists: (p) => fs.existsSync(p),
    isRoot: typeof process.getuid === 'function' && process.getuid() === 0,
    hasSudo: run('sudo', ['-n', 'true']) || run('sudo', ['--version']),
    pythonHasTorch: fs.existsSync('/usr/bin/python3') && run('/usr/bin/python3', ['-c', 'import torch']),
  };
}

/** The package manager for this machine, or null with the reason. */
function packageManager(env) {
  if (env.platform === 'darwin') return env.has('brew') ? { pm: 'brew' } : { pm: null, why: 'Homebrew is not installed (see https://brew.sh), and blasnet needs it for cmake and openblas on macOS' };
  if (env.platform !== 'linux') return { pm: null, why: `${env.platform} is not a platform this script knows` };
  const fields = Object.fromEntries(env.osRelease.split('\n').map((l) => /^(\w+)=("?)(.*)\2$/.exec(l.trim())).filter(Boolean).map((m) => [m[1], m[3]]));
  const ids = [fields.ID, ...(fields.ID_LIKE || '').split(/\s+/)].filter(Boolean);
  if (ids.some((i) => ['debian', 'ubuntu'].includes(i)) && env.has('apt-get')) return { pm: 'apt' };
  if (ids.some((i) => ['fedora', 'rhel', 'centos'].includes(i)) && env.has('dnf')) return { pm: 'dnf' };
  return { pm: null, why: `this Linux (${fields.PRETTY_NAME || fields.ID || 'unknown'}) has neither apt-get (Debian/Ubuntu) nor dnf (Fedora)` };
}

/** What is there and what is missing. */
function detect(env) {
  const cmake = env.has('cmake');
  const cxx = env.has('c++') || env.has('g++') || env.has('clang++');
  const openblas = CBLAS_HEADERS.some((p) => env.exists(p));
  return { cmake, cxx, openblas, pytorch: env.pythonHasTorch, fashion: env.exists('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz') };
}

/**
 * The commands setup runs, in order: [{ cmd, args, why }]; or { error } when
 * something missing cannot be installed here. Pure: reads only `env`.
 */
function plan(opts, env) {
  const found = detect(env);
  const { pm, why } = packageManager(env);
  const wanted = ['cmake', 'cxx', 'openblas'];
  if (opts.withPytorch) wanted.push('pytorch');
  if (opts.withFashionMnist) wanted.push('fashion');
  const missing = wanted.filter((k) => !found[k]);
  const steps = [];
  const notes = [];
  const what = { cmake: 'cmake', cxx: 'a C++ compiler', openblas: 'OpenBLAS', pytorch: 'PyTorch for /usr/bin/python3', fashion: 'Fashion-MNIST' };
  if (missing.length) {
    if (!pm) return { error: `${missing.map((k) => what[k]).join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing and ${why}. Install ${missing.map((k) => what[k]).join(', ')} yourself, then run this again.`, found };
    const names = [];
    for (const k of missing) {
      const n = PACKAGES[pm][k];
      if (n) names.push(n);
      else if (k === 'cxx') notes.push('no C++ compiler: run `xcode-select --install` (it opens a dialog), then run this again');
      else notes.push(`${what[k]} is not installed by this script on ${pm === 'brew' ? 'macOS' : 'this system'}${k === 'pytorch' ? ' (pip install torch for /usr/bin/python3 instead; the interop tests are skipped without it)' : ''}`);
    }
    if (names.length) {
      const sudo = pm === 'brew' || env.isRoot ? [] : env.hasSudo ? ['sudo'] : null;
      if (sudo === null) return { error: `${names.join(', ')} must be installed, which needs root, and sudo is not available: run as root \`${pm === 'apt' ? 'apt-get install -y' : 'dnf install -y'} ${names.join(' ')}\`, then run this again.`, found };
      const as = (cmd, args) => (sudo.length ? { cmd: 'sudo', args: [cmd, ...args] } : { cmd, args });
      if (pm === 'apt') {
        steps.push({ ...as('apt-get', ['update', '-qq']), why: 'refresh the package lists', env: { DEBIAN_FRONTEND: 'noninteractive' } });
        steps.push({ ...as('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...names]), why: `install ${names.join(', ')}`, env: { DEBIAN_FRONTEND: 'noninteractive' } });
      } else if (pm === 'dnf') steps.push({ ...as('dnf', ['install', '-y', ...names]), why: `install ${names.join(', ')}` });
      else steps.push({ cmd: 'brew', args: ['install', ...names], why: `install ${names.join(', ')}` });
    }
  }
  if (!opts.skipNpm) {
    const ci = opts.ci || !env.exists(path.join(ROOT, 'node_modules'));
    steps.push({ cmd: 'npm', args: ci ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund'], why: 'install the npm dependencies; this builds the native addon (cmake-js) and the TypeScript (dist/)' });
    steps.push({ cmd: process.execPath, args: ['-e', "const b = require('./dist'); const i = b.backendInfo(); console.log(`setup: blasnet loads: ${i.blas}, kernel ${i.core}, ${i.simd}, ${i.threads} threads`)"], why: 'check that the library loads' });
  }
  return { steps, notes, found, missing };
}

function parseArgs(argv) {
  const o = { dryRun: false, withPytorch: false, withFashionMnist: false, ci: false, skipNpm: false, help: false };
  const flags = { '--dry-run': 'dryRun', '--with-pytorch': 'withPytorch', '--with-fashion-mnist': 'withFashionMnist', '--ci': 'ci', '--skip-npm': 'skipNpm', '--help': 'help', '-h': 'help' };
  for (const a of argv) {
    if (!(a in flags)) throw new Error(`unknown option ${a} (see --help)`);
    o[flags[a]] = true;
  }
  return o;
}

function show(step) {
  return [step.cmd === process.execPath ? 'node' : step.cmd, ...step.args.map((a) => (/^[\w./:=@+-]+$/.test(a) ? a : JSON.stringify(a)))].join(' ');
}

function main(argv) {
  let opts;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    console.error(`setup: ${e.message}`);
    return 2;
  }
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  const env = realEnv();
  const p = plan(opts, env);
  const f = p.found;
  console.log(`setup: found cmake ${f.cmake ? 'yes' : 'no'}, C++ compiler ${f.cxx ? 'yes' : 'no'}, OpenBLAS ${f.openblas ? 'yes' : 'no'}` +
    (opts.withPytorch ? `, PyTorch ${f.pytorch ? 'yes' : 'no'}` : '') + (opts.withFashionMnist ? `, Fashion-MNIST ${f.fashion ? 'yes' : 'no'}` : ''));
  if (p.error) {
    console.error(`setup: ${p.error}`);
    return 1;
  }
  if (p.missing.length === 0) console.log('setup: nothing to install from the system package manager');
  for (const n of p.notes) console.log(`setup: note: ${n}`);
  for (const step of p.steps) {
    console.log(`setup: ${opts.dryRun ? 'would run' : 'running'}: ${show(step)}   (${step.why})`);
    if (opts.dryRun) continue;
    const r = spawnSync(step.cmd, step.args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...(step.env || {}) } });
    if (r.error || r.status !== 0) {
      console.error(`setup: \`${show(step)}\` failed (${r.error ? r.error.message : `exit status ${r.status}`}); fix that and run this again`);
      return 1;
    }
  }
  if (!opts.dryRun && !opts.skipNpm) console.log('setup: done. Next: npm run train   (or npm test)');
  return 0;
}

module.exports = { plan, detect, packageManager, parseArgs, CBLAS_HEADERS, PACKAGES };

if (require.main === module) process.exitCode = main(process.argv.slice(2));
