/**
 * Loads the native addon (a prebuilt binary for this platform, or the local
 * source build) after choosing the OpenBLAS kernel for this CPU.
 *
 * OpenBLAS picks its kernel once, when the library initialises — that is when
 * the addon is loaded. Debian's 0.3.21 does not recognise recent CPUs (AMD Zen 4/5
 * with AVX-512, for example) and falls back to the generic "Prescott" kernels,
 * 5–6× slower. So before loading we read the CPU's features and set
 * `OPENBLAS_CORETYPE` to the best kernel the CPU supports, unless the user has
 * set it already: their choice always wins.
 * @internal
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Where the kernel choice came from, reported by {@link backendInfo}. */
export type CoreSource = 'user' | 'blasnet' | 'openblas';

let coreSource: CoreSource = 'openblas';

/** CPU feature flags from /proc/cpuinfo (Linux) or sysctl (macOS). */
function cpuFlags(): Set<string> {
  try {
    if (process.platform === 'linux') {
      const text = fs.readFileSync('/proc/cpuinfo', 'utf8');
      const line = text.split('\n').find((l) => l.startsWith('flags'));
      if (line) return new Set(line.slice(line.indexOf(':') + 1).trim().split(/\s+/));
    } else if (process.platform === 'darwin' && process.arch === 'x64') {
      const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
      const out = execFileSync('sysctl', ['-n', 'machdep.cpu.features', 'machdep.cpu.leaf7_features'], {
        encoding: 'utf8',
      });
      return new Set(out.toLowerCase().replace(/\./g, '_').split(/\s+/));
    }
  } catch {
    // fall through: let OpenBLAS detect
  }
  return new Set();
}

/**
 * The OpenBLAS DYNAMIC_ARCH core for a set of x86 feature flags, best first:
 * AVX-512 (F, BW, DQ, VL) → SkylakeX, AVX2+FMA → Haswell, AVX → Sandybridge,
 * SSE4.2 → Nehalem. `undefined` leaves the choice to OpenBLAS.
 */
export function chooseCore(flags: Set<string>): string | undefined {
  if (['avx512f', 'avx512bw', 'avx512dq', 'avx512vl'].every((f) => flags.has(f))) return 'SkylakeX';
  if (flags.has('avx2') && flags.has('fma')) return 'Haswell';
  if (flags.has('avx')) return 'Sandybridge';
  if (flags.has('sse4_2')) return 'Nehalem';
  return undefined;
}

function selectKernel(): void {
  if (process.env.OPENBLAS_CORETYPE) {
    coreSource = 'user';
    return;
  }
  if (process.arch !== 'x64') return;
  const core = chooseCore(cpuFlags());
  if (core) {
    process.env.OPENBLAS_CORETYPE = core;
    coreSource = 'blasnet';
  }
}

/** The package root: holds package.json, build/ and prebuilds/. */
function packageRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'CMakeLists.txt'))) return dir;
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '..');
}

/** BLASNET_CONV / BLASNET_CONV_ISA, checked before the addon reads them at load. */
function checkConvEnv(): void {
  const allowed: Record<string, string[]> = { BLASNET_CONV: ['auto', 'gemm', 'direct'], BLASNET_CONV_ISA: ['scalar', 'avx2', 'avx512'] };
  for (const [k, vals] of Object.entries(allowed)) {
    const v = process.env[k];
    if (v !== undefined && v !== '' && !vals.includes(v)) throw new Error(`blasnet: ${k} must be ${vals.join(', ')} or unset, got '${v}'`);
  }
}

function load(): NativeAddon {
  checkConvEnv();
  selectKernel();
  const root = packageRoot();
  try {
    // Prefers prebuilds/<platform>-<arch>/ matching this Node ABI, then build/Release.
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
    const addon = nodeGypBuild(root) as NativeAddon;
    // OpenBLAS read the variable while the addon loaded; take ours back out of the
    // environment, so the user's process.env (and their child processes) say what
    // they said before (backendInfo() reports the choice).
    if (coreSource === 'blasnet') delete process.env.OPENBLAS_CORETYPE;
    return addon;
  } catch (err) {
    const e = err as Error;
    throw new Error(
      `blasnet: could not load the native addon (${e.message.split('\n')[0]}). ` +
        'No prebuilt binary matches this platform, so it must be built from source: install cmake, a C++ ' +
        'compiler and OpenBLAS (Debian/Ubuntu: apt-get install cmake g++ libopenblas-dev; Fedora: dnf install ' +
        'cmake gcc-c++ openblas-devel; macOS: brew install cmake openblas), then run `npm rebuild blasnet`.',
    );
  }
}

/** Opaque handle to native float32 storage. */
export type Handle = { readonly __brand: 'blasnet.Storage' };

/** Opaque handle to a compiled inference plan (native/plan.cc). */
export type PlanHandle = { readonly __brand: 'blasnet.Plan' };
/** Opaque handle to a session's weight store (native/plan.cc). */
export type StoreHandle = { readonly __brand: 'blasnet.PlanStore' };

/** @internal The functions the addon exports (see native/binding.cc). */
export interface NativeAddon {
  alloc(n: number, fill?: number): Handle;
  fromArray(a: Float32Array): Handle;
  toArray(h: Handle): Float32Array;
  writeArray(h: Handle, a: Float32Array): void;
  readAt(h: Handle, i: number): number;
  free(h: Handle): void;
  clone(h: Handle): Handle;
  copyInto(dst: Handle, src: Handle): void;
  binary(op: number, a: Handle, b: Handle, shape: number[], as: number[], bs: number[]): Handle;
  unary(op: number, x: Handle, s?: number): Handle;
  unaryInplace(op: number, x: Handle, s?: number): void;
  activationBackward(op: number, gy: Handle, y: Handle): Handle;
  sumTo(x: Handle, shape: number[], outStrides: number[], outNumel: number): Handle;
  axpy(dst: Handle, src: Handle, alpha: number): void;
  fill(dst: Handle, v: number): void;
  permute(x: Handle, shape: number[], perm: number[]): Handle;
  indexRows(x: Handle, row: number, idx: Int32Array): Handle;
  indexCheck(idx: Handle, size: number, wrap: boolean): number;
  indexGather(x: Handle, shape: number[], xstride: number[], offset: number, idx: [Handle, number[], number, number, boolean][]): Handle;
  indexScatter(dst: Handle, src: Handle, shape: number[], xstride: number[], offset: number, idx: [Handle, number[], number, number, boolean][], accumulate: boolean): void;
  where(c: Handle, a: Handle, b: Handle, shape: number[], cs: number[], as: number[], bs: number[]): Handle;
  randomFill(n: number, keyHi: number, keyLo: number, normal: boolean, a: number, b: number): Handle;
  reduceSum(x: Handle, outer: number, size: number, inner: number, scale: number): Handle;
  reduceMax(x: Handle, outer: number, size: number, inner: number, arg: boolean): [Handle, Handle | null];
  softmax(x: Handle, outer: number, size: number, inner: number, log: boolean): Handle;
  softmaxBackward(gy: Handle, y: Handle, outer: number, size: number, inner: number, log: boolean): Handle;
  matmul(a: Handle, b: Handle, batch: number, M: number, N: number, K: number, ta: boolean, tb: boolean, abs: number, bbs: number): Handle;
  linear(x: Handle, w: Handle, b: Handle | null, N: number, inF: number, outF: number): Handle;
  convForward(x: Handle, w: Handle, b: Handle | null, geom: number[]): Handle;
  convBackward(x: Handle, w: Handle, gy: Handle, geom: number[], nx: boolean, nw: boolean, nb: boolean): [Handle | null, Handle | null, Handle | null];
  /** The input gradient of the convolution `geom` describes, with x as its output gradient. */
  convTransposeForward(x: Handle, w: Handle, geom: number[]): Handle;
  convPoolForward(x: Handle, w: Handle, b: Handle | null, geom: number[], relu: boolean): [Handle, Handle];
  convPoolBackward(x: Handle, w: Handle, gy: Handle, y: Handle, idx: Handle, geom: number[], relu: boolean, nx: boolean, nw: boolean, nb: boolean): [Handle | null, Handle | null, Handle | null];
  /** geom: 16 entries, or 19 with the dilation [dd, dh, dw]. */
  maxPoolForward(x: Handle, geom: number[]): [Handle, Handle];
  maxPoolBackward(gy: Handle, idx: Handle, geom: number[]): Handle;
  /** divisor: PyTorch's divisor_override (0 or absent: none). */
  avgPoolForward(x: Handle, geom: number[], includePad: boolean, divisor?: number): Handle;
  avgPoolBackward(gy: Handle, geom: number[], includePad: boolean, divisor?: number): Handle;
  adaptiveAvgPool(x: Handle, planes: number, H: number, W: number, OH: number, OW: number, backward: boolean): Handle;
  /** geom [planes, D, H, W, OD, OH, OW]; avg: forward/backward; max forward → [y, idx]; max backward takes idx. */
  adaptivePool3d(x: Handle, geom: number[], max: boolean, backward: boolean, idx?: Handle): any;
  /** The int32 argmax indices of a max pool as float32 values. */
  poolIndices(idx: Handle): Handle;
  maxUnpool(x: Handle, idx: Handle, planes: number, inPlane: number, outPlane: number, backward: boolean): Handle;
  /** mode 0 constant, 1 reflect, 2 replicate, 3 circular; sizes [outer, D, H, W, OD, OH, OW]. */
  pad(x: Handle, sizes: number[], bd: number, bh: number, bw: number, mode: number, value: number, backward: boolean): Handle;
  /** logits [N, C, S], target [N, S], weight [C] | null → [loss rows [N, S], probs [N, C, S], 'mean' divisor]. */
  crossEntropyForward(z: Handle, t: Handle, w: Handle | null, N: number, C: number, S: number, smoothing: number, ignoreIndex: number): [Handle, Handle, number];
  crossEntropyBackward(p: Handle, t: Handle, w: Handle | null, scale: Handle, N: number, C: number, S: number, smoothing: number, ignoreIndex: number): Handle;
  nllForward(x: Handle, t: Handle, w: Handle | null, N: number, C: number, S: number, ignoreIndex: number): [Handle, number];
  nllBackward(t: Handle, w: Handle | null, scale: Handle, N: number, C: number, S: number, ignoreIndex: number): Handle;
  batchNormForward(x: Handle, g: Handle | null, b: Handle | null, rm: Handle | null, rv: Handle | null, N: number, C: number, S: number, training: boolean, momentum: number, eps: number): [Handle, Handle, Handle];
  batchNormBackward(x: Handle, gy: Handle, g: Handle | null, mean: Handle, inv: Handle, N: number, C: number, S: number, training: boolean, nx: boolean, na: boolean): [Handle | null, Handle | null, Handle | null];
  sgdStep(p: Handle, g: Handle, buf: Handle | null, lr: number, momentum: number, dampening: number, nesterov: boolean, wd: number, first: boolean, maximize: boolean): void;
  adamStep(p: Handle, g: Handle, m: Handle, v: Handle, vmax: Handle | null, lr: number, b1: number, b2: number, eps: number, wd: number, step: number, amsgrad: boolean, decoupled: boolean, maximize: boolean): void;
  adadeltaStep(p: Handle, g: Handle, squareAvg: Handle, accDelta: Handle, lr: number, rho: number, eps: number, wd: number, maximize: boolean): void;
  rmspropStep(p: Handle, g: Handle, squareAvg: Handle, gradAvg: Handle | null, buf: Handle | null, lr: number, alpha: number, eps: number, wd: number, momentum: number, maximize: boolean): void;
  adagradStep(p: Handle, g: Handle, sum: Handle, clr: number, eps: number, wd: number, maximize: boolean): void;
  // inference plans (native/plan*.cc, src/plan/)
  planStoreCreate(): StoreHandle;
  planStoreAdd(store: StoreHandle, data: Handle | Float32Array): [number, number];
  planStoreFoldConvBN(store: StoreHandle, w: number, bias: number, gamma: number, beta: number, mean: number, variance: number, eps: number): [number, number];
  planStoreBytes(store: StoreHandle): number;
  planStoreDispose(store: StoreHandle): void;
  planCreate(store: StoreHandle, slots: Float64Array, steps: Float64Array, output: number, fixedN: number): PlanHandle;
  planDispose(plan: PlanHandle): void;
  planRun(plan: PlanHandle, x: Handle | Float32Array, N: number): Handle;
  planSubmit(plan: PlanHandle, x: Handle | Float32Array, N: number): Promise<Handle>;
  backendInfo(): { blas: string; blasConfig: string; core: string; threads: number; blasThreads: number; simd: string; convIsa: 'avx512' | 'avx2' | 'scalar'; convMode: 'auto' | 'gemm' | 'direct' };
  setNumThreads(n: number): void;
  getNumThreads(): number;
  memoryInfo(): { liveBytes: number; cachedBytes: number };
  poolTrim(): void;
  poolSetLimit(bytes: number): void;
  setConvWorkspaceLimit(bytes: number): void;
  getConvWorkspaceLimit(): number;
  setConvWinograd(mode: number): void;
  getConvWinograd(): number;
}

/** @internal */
export const native: NativeAddon = load();

/** @internal How the kernel was chosen. */
export function kernelSource(): CoreSource {
  return coreSource;
}
