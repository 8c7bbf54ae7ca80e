/**
 * Loads blasnet_mpi.node, the optional MPI addon (native/mpi/), on first use.
 * It is a separate file so that the main addon has no MPI dependency; it is
 * built only where CMake found MPI.
 * @internal
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Handle } from '../native';
import { native } from '../native';

/** @internal The functions blasnet_mpi.node exports (native/mpi/binding_mpi.cc). */
export interface MpiAddon {
  init(): { rank: number; worldSize: number; threadLevel: string; library: string };
  allReduce(handles: Handle[], mean: boolean): void;
  broadcast(handles: Handle[], root: number): void;
  allReduceNumbers(a: Float64Array): void;
  allGatherString(s: string): string[];
  barrier(): void;
  abort(code: number): void;
  finalize(): void;
  setTimeout(seconds: number): void;
  state(): 'uninitialized' | 'initialized' | 'finalized';
}

/** What to do when the addon is missing: one line, the same everywhere. */
export const INSTALL_HINT =
  'install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev; Fedora: dnf install openmpi-devel; ' +
  'macOS: brew install open-mpi), then rebuild blasnet from source (npm rebuild blasnet --build-from-source; in a checkout, npm run build:native)';

function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'CMakeLists.txt'))) return dir;
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '..', '..');
}

/** Where the MPI addon is looked for (BLASNET_MPI_ADDON overrides, for tests). */
export function mpiAddonPath(): string {
  if (process.env.BLASNET_MPI_ADDON) return process.env.BLASNET_MPI_ADDON;
  const root = packageRoot();
  for (const cfg of ['Release', 'Debug']) {
    const f = path.join(root, 'build', cfg, 'mpi', 'blasnet_mpi.node');
    if (fs.existsSync(f)) return f;
  }
  return path.join(root, 'build', 'Release', 'mpi', 'blasnet_mpi.node');
}

let addon: MpiAddon | null = null;

export function mpi(): MpiAddon {
  if (addon) return addon;
  void native; // the main addon first: the MPI addon works on its tensor handles
  const file = mpiAddonPath();
  if (!fs.existsSync(file))
    throw new Error(`distributed: this build of blasnet has no MPI support (${file} does not exist: MPI was not found when blasnet was built); ${INSTALL_HINT}`);
  const m = { exports: {} as MpiAddon };
  try {
    // RTLD_GLOBAL: Open MPI loads its components as plugins that need libmpi's
    // symbols global (as mpi4py does).
    process.dlopen(m, file, os.constants.dlopen.RTLD_NOW | os.constants.dlopen.RTLD_GLOBAL);
  } catch (e) {
    throw new Error(`distributed: could not load ${file} (${(e as Error).message.split('\n')[0]}); ${INSTALL_HINT}`);
  }
  addon = m.exports;
  return addon;
}
