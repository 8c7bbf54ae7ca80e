// scripts/setup.js (npm run setup): what it would install on Debian/Ubuntu
// (as root, through sudo, or neither), Fedora and macOS, given what is present;
// and a real dry run and a real run (system packages only) on this machine.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/child';

const setup = createRequire(__filename)(path.join(ROOT, 'scripts', 'setup.js')) as {
  plan: (opts: Record<string, boolean>, env: Env) => { steps?: { cmd: string; args: string[] }[]; notes?: string[]; error?: string; missing?: string[] };
  parseArgs: (argv: string[]) => Record<string, boolean>;
  CBLAS_HEADERS: string[];
};

interface Env {
  platform: string;
  osRelease: string;
  has: (cmd: string) => boolean;
  exists: (p: string) => boolean;
  isRoot: boolean;
  hasSudo: boolean;
  pythonHasTorch: boolean;
}

const DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n';
const UBUNTU = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n';
const FEDORA = 'NAME="Fedora Linux"\nID=fedora\n';
const ARCH = 'NAME="Arch Linux"\nID=arch\n';

/** A machine with only the given commands and files. */
function machine(o: { platform?: string; osRelease?: string; commands?: string[]; files?: string[]; root?: boolean; sudo?: boolean; torch?: boolean }): Env {
  const commands = new Set(o.commands ?? []);
  const files = new Set(o.files ?? [path.join(ROOT, 'node_modules')]);
  return {
    platform: o.platform ?? 'linux', osRelease: o.osRelease ?? DEBIAN, has: (c) => commands.has(c), exists: (p) => files.has(p),
    isRoot: o.root ?? false, hasSudo: o.sudo ?? false, pythonHasTorch: o.torch ?? false,
  };
}

const cmds = (p: ReturnType<typeof setup.plan>) => (p.steps ?? []).map((s) => [s.cmd, ...s.args].join(' '));
const OPENBLAS = '/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h';

describe('scripts/setup.js plans', () => {
  it('a fresh Debian as root: apt-get update, then cmake, g++ and libopenblas-dev, then npm ci', () => {
    const p = setup.plan({}, machine({ commands: ['apt-get', 'node', 'npm'], files: [], root: true }));
    expect(cmds(p).slice(0, 3)).toEqual([
      'apt-get update -qq',
      'apt-get install -y -qq --no-install-recommends cmake g++ libopenblas-dev',
      'npm ci --no-audit --no-fund',
    ]);
    expect(p.steps).toHaveLength(4); // and a check that the library loads
  });

  it('Ubuntu with g++ and cmake but no OpenBLAS, as a user with sudo: only libopenblas-dev, through sudo', () => {
    const p = setup.plan({}, machine({ osRelease: UBUNTU, commands: ['apt-get', 'cmake', 'g++', 'sudo'], sudo: true }));
    expect(cmds(p)[1]).toBe('sudo apt-get install -y -qq --no-install-recommends libopenblas-dev');
    expect(cmds(p)[2]).toBe('npm install --no-audit --no-fund'); // node_modules exists: npm install
  });

  it('a user without sudo is told the exact command to run as root', () => {
    const p = setup.plan({}, machine({ commands: ['apt-get', 'cmake', 'g++'] }));
    expect(p.error).toMatch(/needs root, and sudo is not available: run as root `apt-get install -y libopenblas-dev`/);
  });

  it('Fedora: dnf install gcc-c++ and openblas-devel', () => {
    const p = setup.plan({}, machine({ osRelease: FEDORA, commands: ['dnf', 'cmake'], root: true }));
    expect(cmds(p)[0]).toBe('dnf install -y gcc-c++ openblas-devel');
  });

  it('macOS: brew install cmake openblas; a missing compiler is a note to run xcode-select --install', () => {
    const p = setup.plan({}, machine({ platform: 'darwin', commands: ['brew'] }));
    expect(cmds(p)[0]).toBe('brew install cmake openblas');
    expect(p.notes!.join(' ')).toMatch(/xcode-select --install/);
    expect(setup.plan({}, machine({ platform: 'darwin', commands: [] })).error).toMatch(/Homebrew is not installed/);
  });

  it('everything present: no system packages, only npm', () => {
    const p = setup.plan({}, machine({ commands: ['apt-get', 'cmake', 'g++'], files: [OPENBLAS, path.join(ROOT, 'node_modules')] }));
    expect(p.missing).toEqual([]);
    expect(cmds(p)[0]).toBe('npm install --no-audit --no-fund');
    expect(cmds(setup.plan({ ci: true }, machine({ commands: ['cmake', 'g++'], files: [OPENBLAS] })))[0]).toBe('npm ci --no-audit --no-fund');
    expect(setup.plan({ skipNpm: true }, machine({ commands: ['cmake', 'g++'], files: [OPENBLAS] })).steps).toEqual([]);
  });

  it('--with-pytorch and --with-fashion-mnist add python3-torch and dataset-fashion-mnist on Debian', () => {
    const p = setup.plan({ withPytorch: true, withFashionMnist: true }, machine({ commands: ['apt-get', 'cmake', 'g++'], files: [OPENBLAS], root: true }));
    expect(cmds(p)[1]).toBe('apt-get install -y -qq --no-install-recommends python3-torch dataset-fashion-mnist');
    const mac = setup.plan({ withPytorch: true }, machine({ platform: 'darwin', commands: ['brew', 'cmake', 'c++'], files: ['/opt/homebrew/opt/openblas/include/cblas.h'] }));
    expect(mac.notes!.join(' ')).toMatch(/PyTorch.*not installed by this script/);
  });

  it('an unknown Linux with something missing says what to install by hand', () => {
    const p = setup.plan({}, machine({ osRelease: ARCH, commands: ['pacman', 'g++'] }));
    expect(p.error).toMatch(/cmake, OpenBLAS are missing and this Linux \(arch\) has neither apt-get/);
  });

  it('rejects unknown options', () => {
    expect(() => setup.parseArgs(['--dryrun'])).toThrow(/unknown option --dryrun/);
    expect(setup.parseArgs(['--dry-run', '--ci'])).toMatchObject({ dryRun: true, ci: true });
  });
});

describe('scripts/setup.js on this machine', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'setup.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });

  it('--dry-run finds cmake, the compiler and OpenBLAS, installs nothing, says what it would run', () => {
    const r = run(['--dry-run']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/found cmake yes, C\+\+ compiler yes, OpenBLAS yes/);
    expect(r.stdout).toMatch(/nothing to install from the system package manager/);
    expect(r.stdout).toMatch(/would run: npm (install|ci)/);
    expect(r.stdout).not.toMatch(/running:/);
  });

  it('a real run of the system part (--skip-npm) succeeds and runs nothing when all is there', () => {
    const r = run(['--skip-npm']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/running:/);
  });

  it('--help and a bad option', () => {
    expect(run(['--help']).stdout).toMatch(/usage: npm run setup/);
    const bad = run(['--frob']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^setup: unknown option --frob/);
  });
});
