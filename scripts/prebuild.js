#!/usr/bin/env node
// npm run build:prebuild (and npm pack's prepack step): build the addon with
// OpenBLAS linked statically and store it where node-gyp-build looks for a
// prebuilt binary:
//
//   prebuilds/<platform>-<arch>/blasnet.glibc.node
//
// One file serves every Node version: the addon uses Node-API only (version 8),
// and a name without an `abi` tag matches any ABI. The `glibc` tag keeps it off
// musl systems (Alpine), which build from source instead.
//
// prebuildify names, strips and places the binary. It drives node-gyp, so it is
// given a small shim as its node-gyp that runs this script with --node-gyp-shim:
// prebuildify's `rebuild --target=… --release` then becomes a clean cmake-js
// build with -DBLASNET_STATIC_OPENBLAS=ON in build/prebuild/, away from the
// developer's build/Release.
//
// The result is checked before it is accepted: it may need nothing but the C
// library, leave no symbol unresolved (a Fortran runtime that was not linked
// would show up here), export only the N-API entry points, and it must load.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const stage = path.join(root, 'build', 'prebuild');
const pkg = require(path.join(root, 'package.json'));

function fail(message) {
  console.error(`prebuild: ${message}`);
  process.exit(1);
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...options });
  if (r.error) fail(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited with ${r.status}\n${r.stderr || ''}`);
  return r.stdout;
}

// --- the node-gyp stand-in ---------------------------------------------------
// prebuildify runs `<node-gyp> rebuild --target=V --devdir=D --arch=A --release`
// in `stage` and then takes stage/build/Release/*.node. The Node version does not
// matter for a Node-API build, and the arch is always this machine's.
function nodeGypShim(args) {
  if (args[0] !== 'rebuild') fail(`the node-gyp shim only knows "rebuild", got ${args.join(' ')}`);
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const r = spawnSync(
    process.execPath,
    [
      cmakeJs,
      'rebuild',
      '--directory', root,
      '--out', path.join(stage, 'build'),
      ...(args.includes('--debug') ? ['--debug'] : []),
      '--CDBLASNET_STATIC_OPENBLAS=ON',
      '--log-level', 'warn',
    ],
    // The build's output goes to stderr: stdout stays clean for `npm pack --json`,
    // which runs this script as its prepack step.
    { cwd: root, stdio: ['ignore', 2, 2] },
  );
  process.exit(r.status ?? 1);
}

// --- checks on the result ----------------------------------------------------
const SYSTEM_LIBS = /^(libc|libm|libdl|libpthread|librt|ld-linux[-\w]*)\.so(\.\d+)*$/;
const ENTRY_POINTS = ['napi_register_module_v1', 'node_api_module_get_api_version_v1'];

function check(file) {
  const needed = [...run('readelf', ['-d', file]).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  const foreign = needed.filter((lib) => !SYSTEM_LIBS.test(lib));
  if (foreign.length) fail(`${file} needs ${foreign.join(', ')}; only the C library may be left dynamic`);

  // Undefined symbols: the N-API functions Node provides, and versioned libc ones.
  const undefinedSyms = run('nm', ['-D', '--undefined-only', file])
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([kind, name]) => kind === 'U' && name && !name.includes('@') && !/^(napi|node_api)_/.test(name))
    .map(([, name]) => name);
  if (undefinedSyms.length) fail(`${file} leaves symbols unresolved: ${undefinedSyms.slice(0, 10).join(', ')}`);

  const exported = run('nm', ['-D', '--defined-only', file])
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[2])
    .filter(Boolean)
    .sort();
  if (exported.join() !== [...ENTRY_POINTS].sort().join()) {
    fail(`${file} exports more than the N-API entry points: ${exported.join(', ')}`);
  }

  // It loads, and OpenBLAS inside it answers.
  const probe = spawnSync(process.execPath, ['-p', 'JSON.stringify(require(process.argv[1]).backendInfo())', file], {
    encoding: 'utf8',
  });
  if (probe.status !== 0) fail(`${file} does not load: ${(probe.stderr || '').trim()}`);
  const info = JSON.parse(probe.stdout);

  const glibc = run('objdump', ['-T', file]).match(/GLIBC_[\d.]+/g) ?? [];
  const newestGlibc = glibc.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).pop();
  return { needed, info, newestGlibc };
}

// --- main ----------------------------------------------------------------------
function main() {
  if (process.platform !== 'linux') fail(`prebuilt binaries are made on Linux only (this is ${process.platform})`);
  const prebuildify = require('prebuildify');
  const platformDir = path.join(root, 'prebuilds', `${process.platform}-${os.arch()}`);
  // Start clean: a stale file with more tags would win node-gyp-build's choice.
  fs.rmSync(platformDir, { recursive: true, force: true });
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(stage, { recursive: true });

  // prebuildify spawns its node-gyp without a shell, so the shim is an executable file.
  const shim = path.join(stage, 'node-gyp');
  const quote = (s) => `'${s.replace(/'/g, `'\\''`)}'`;
  fs.writeFileSync(shim, `#!/bin/sh\nexec ${quote(process.execPath)} ${quote(__filename)} --node-gyp-shim "$@"\n`, {
    mode: 0o755,
  });

  const started = Date.now();
  prebuildify(
    {
      cwd: stage,
      out: root,
      name: pkg.name,
      napi: true,
      targets: [{ runtime: 'node', target: process.versions.node }],
      tagLibc: true,
      strip: true,
      nodeGyp: shim,
    },
    (err) => {
      if (err) fail(err.message);
      const [file] = fs.readdirSync(platformDir).filter((f) => f.endsWith('.node'));
      if (!file) fail(`no binary in ${platformDir}`);
      const out = path.join(platformDir, file);
      const { needed, info, newestGlibc } = check(out);
      const mb = (fs.statSync(out).size / 2 ** 20).toFixed(1);
      const seconds = ((Date.now() - started) / 1000).toFixed(0);
      console.error(`prebuild: ${path.relative(root, out)} (${mb} MiB, ${seconds}s)`);
      console.error(`prebuild: needs ${needed.join(', ')} (${newestGlibc} or newer); ${info.blasConfig}`);
    },
  );
}

if (process.argv[2] === '--node-gyp-shim') nodeGypShim(process.argv.slice(3));
else main();
