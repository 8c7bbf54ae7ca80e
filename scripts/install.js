#!/usr/bin/env node
// npm install hook: use a matching prebuilt binary when there is one, otherwise
// build from source with cmake-js. Missing prerequisites end in one clear line.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
// --force, or `npm rebuild blasnet --build-from-source` (npm sets npm_config_build_from_source): build even when a
// prebuilt binary loads, e.g. to get the optional MPI addon (the prebuilt binaries never carry it).
const force = process.argv.includes('--force') || process.env.npm_config_build_from_source === 'true';
const debug = process.argv.includes('--debug');
const extraDefines = process.argv.filter((a) => a.startsWith('--CD')); // e.g. --CDBLASNET_SANITIZE=ON

// The binary node-gyp-build would load (a prebuilt one for this platform, or an
// earlier build), if it loads here. A prebuild can match by name and still not
// load (built against a newer glibc than this machine's, say): then build from
// source, into build/Release, which node-gyp-build prefers.
function usableBinary() {
  let file;
  try {
    file = require('node-gyp-build').path(root);
  } catch {
    return { file: null };
  }
  const r = spawnSync(process.execPath, ['-e', 'require(process.argv[1])', file], { encoding: 'utf8' });
  if (r.status === 0) return { file, ok: true };
  const reason = (r.stderr || '').split('\n').find((l) => /Error/.test(l)) || `exit status ${r.status}`;
  return { file, ok: false, reason: reason.trim() };
}

function have(cmd, args = ['--version']) {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

function hint(what) {
  return (
    `blasnet: cannot build the native addon: ${what}. Install it — ` +
    'Debian/Ubuntu: sudo apt-get install -y cmake g++ libopenblas-dev; ' +
    'Fedora: sudo dnf install -y cmake gcc-c++ openblas-devel; ' +
    'macOS: xcode-select --install && brew install cmake openblas'
  );
}

function openblasPresent() {
  const candidates = [
    '/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h',
    '/usr/include/aarch64-linux-gnu/openblas-pthread/cblas.h',
    '/usr/include/openblas/cblas.h',
    '/usr/include/cblas.h',
    '/opt/homebrew/opt/openblas/include/cblas.h',
    '/usr/local/opt/openblas/include/cblas.h',
  ];
  return candidates.some((p) => fs.existsSync(p));
}

const binary = force ? { file: null } : usableBinary();
if (binary.ok) {
  process.exit(0);
}
if (binary.file) {
  console.error(`blasnet: ${path.relative(root, binary.file)} does not load here (${binary.reason}); building from source.`);
}
if (!have('cmake')) {
  console.error(hint('cmake is missing'));
  process.exit(1);
}
if (!have('c++') && !have('g++') && !have('clang++')) {
  console.error(hint('no C++ compiler (g++ or clang++) was found'));
  process.exit(1);
}
if (!openblasPresent()) {
  console.error(hint('OpenBLAS (cblas.h) was not found'));
  process.exit(1);
}
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const args = [cmakeJs, process.argv.includes('--clean') ? 'rebuild' : 'compile', '--log-level', 'warn'];
if (debug) args.push('--debug');
args.push(...extraDefines);
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('blasnet: the native build failed (see the compiler output above).');
  process.exit(r.status || 1);
}
