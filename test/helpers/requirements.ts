// What some suites need beyond Node and the npm dependencies, checked once per
// process. A test that needs something missing is skipped with a note saying
// what is missing and how to get it; test/helpers/skip-reporter.ts lists those
// notes at the end of `npm test`. With BLASNET_REQUIRE_ALL=1 (set by .ci/run)
// a missing requirement fails the test instead, so CI never skips silently.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

export interface Requirement {
  /** What is needed, in a few words ("PyTorch for /usr/bin/python3"). */
  what: string;
  available: boolean;
  /** Why it is not available (when it is not). */
  reason: string;
  /** How to get it. */
  howTo: string;
  /** An environment variable that, set to 1, makes this requirement fail tests instead of skipping them (as BLASNET_REQUIRE_ALL does for all). */
  requiredBy?: string;
}

/**
 * Debian's python3, where python3-torch installs PyTorch (the `python3` on PATH
 * may be another one). BLASNET_PYTHON overrides it (the tests of the skip
 * report point it at a Python without torch).
 */
export const PYTHON = process.env.BLASNET_PYTHON || '/usr/bin/python3';

let torchCache: Requirement | undefined;

/** PyTorch, importable by /usr/bin/python3: the interop tests and the fixture generators run it. */
export function pytorch(): Requirement {
  if (torchCache) return torchCache;
  const what = `PyTorch for ${PYTHON}`;
  const howTo = 'npm run setup -- --with-pytorch (Debian/Ubuntu: apt-get install python3-torch)';
  if (!fs.existsSync(PYTHON)) return (torchCache = { what, available: false, reason: `${PYTHON} does not exist`, howTo });
  const r = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 60_000 });
  torchCache = r.status === 0
    ? { what, available: true, reason: '', howTo }
    : { what, available: false, reason: `${PYTHON} cannot import torch`, howTo };
  return torchCache;
}

/** The note a skipped test carries: "needs <what> (<reason>); get it: <howTo>". */
export function skipNote(req: Requirement): string {
  return `needs ${req.what} (${req.reason}); get it: ${req.howTo}`;
}

/**
 * Call first in a test that needs `req`: skips the test with a note when it is
 * missing (or fails it, under BLASNET_REQUIRE_ALL=1).
 */
export function requireOrSkip(ctx: { skip: (note?: string) => void }, req: Requirement): void {
  if (req.available) return;
  if (process.env.BLASNET_REQUIRE_ALL === '1') throw new Error(`BLASNET_REQUIRE_ALL=1 and this test ${skipNote(req)}`);
  if (req.requiredBy && process.env[req.requiredBy] === '1') throw new Error(`${req.requiredBy}=1 and this test ${skipNote(req)}`);
  ctx.skip(skipNote(req));
}

/** Fashion-MNIST's IDX files where Debian's dataset-fashion-mnist puts them. */
export function fashionMnist(): Requirement {
  const dir = '/usr/share/datasets/fashion-mnist';
  const available = fs.existsSync(`${dir}/train-images-idx3-ubyte.gz`);
  return { what: `Fashion-MNIST in ${dir}`, available, reason: available ? '' : `${dir} has no IDX files`, howTo: 'npm run setup -- --with-fashion-mnist (Debian/Ubuntu: apt-get install dataset-fashion-mnist)' };
}

/** optim.Adadelta in the compiled library (it comes with the tensors work; examples/mnist-net.ts uses it). */
export function adadelta(): Requirement {
  let available = false;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    available = typeof (require(`${__dirname}/../../dist`) as { optim: Record<string, unknown> }).optim.Adadelta === 'function';
  } catch {
    available = false;
  }
  return { what: 'optim.Adadelta', available, reason: available ? '' : 'this build of blasnet has no optim.Adadelta yet', howTo: 'git merge main once the optimizer work (optim.Adadelta) has landed, then npm run build:ts' };
}

let mpiCache: Requirement | undefined;

/**
 * Open MPI's mpirun and blasnet's MPI addon (build/Release/mpi/blasnet_mpi.node,
 * built when CMake found MPI): the 2-rank tests in test/distributed. Required
 * (not skipped) under BLASNET_REQUIRE_MPI=1, as .ci/run sets.
 */
export function mpi(): Requirement {
  if (mpiCache) return mpiCache;
  const what = 'Open MPI (mpirun) and blasnet built with MPI';
  const howTo = 'apt-get install openmpi-bin libopenmpi-dev, then npm run build:native';
  const base = { what, howTo, requiredBy: 'BLASNET_REQUIRE_MPI' };
  const r = spawnSync('mpirun', ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) return (mpiCache = { ...base, available: false, reason: 'mpirun is not on PATH' });
  if (!/Open MPI/i.test(r.stdout)) return (mpiCache = { ...base, available: false, reason: `mpirun is not Open MPI's (${r.stdout.split('\n')[0]})` });
  const addon = `${__dirname}/../../build/Release/mpi/blasnet_mpi.node`;
  if (!fs.existsSync(addon)) return (mpiCache = { ...base, available: false, reason: `${addon} was not built` });
  return (mpiCache = { ...base, available: true, reason: '' });
}
