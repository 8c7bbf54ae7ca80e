/** Backend introspection and threading. */
import { native, kernelSource, type CoreSource } from './native';

/** What runs underneath: the BLAS library, its kernel, threads and the CPU's SIMD level. */
export interface BackendInfo {
  /** BLAS library and version, e.g. `OpenBLAS 0.3.21`. */
  blas: string;
  /** OpenBLAS's own configuration string. */
  blasConfig: string;
  /** The OpenBLAS kernel in use, e.g. `SkylakeX`, `Haswell`. */
  core: string;
  /** Who chose the kernel: `user` (OPENBLAS_CORETYPE was set), `blasnet` (by CPU features) or `openblas` (its own detection). */
  coreSource: CoreSource;
  /** Threads of blasnet's pool (each drives a single-threaded OpenBLAS). */
  threads: number;
  /** Threads OpenBLAS itself uses per call (kept at 1: blasnet parallelises above it). */
  blasThreads: number;
  /** Best SIMD level of this CPU: `avx512`, `avx2`, `avx`, `sse4.2`, `neon`, … */
  simd: string;
  /**
   * The direct-convolution kernels this CPU runs: `avx512`, `avx2` (with FMA) or
   * `scalar`, chosen at load from the CPU's features (BLASNET_CONV_ISA may lower it).
   */
  convIsa: 'avx512' | 'avx2' | 'scalar';
  /**
   * How convolutions pick their kernel (env BLASNET_CONV, read once at load):
   * `auto` (direct kernels for few channels on small planes, im2col + sgemm for
   * the rest), `gemm` (always im2col + sgemm) or `direct` (direct wherever it
   * supports the geometry: 1-D/2-D, stride 1).
   */
  convMode: 'auto' | 'gemm' | 'direct';
  /**
   * Bytes the GEMM lowering of one convolution may use as workspace, all its tiles in flight together
   * (default 64 MiB; {@link setConvWorkspaceLimit} or `BLASNET_CONV_WORKSPACE`).
   */
  convWorkspaceLimit: number;
  /**
   * Winograd F(2×2, 3×3) for 3×3 stride-1 convolutions (forward and both gradients): `auto` (where it is faster:
   * 16+ channels in and out), `off` (the GEMM lowering always) or `force` (wherever it applies); see
   * {@link setConvWinograd} and `BLASNET_CONV_WINOGRAD`.
   */
  convWinograd: WinogradMode;
}

/** When 3×3 stride-1 convolutions use Winograd F(2×2, 3×3) instead of the GEMM lowering. */
export type WinogradMode = 'auto' | 'off' | 'force';
const WINOGRAD_MODES: WinogradMode[] = ['off', 'auto', 'force'];

/** Reports the BLAS library, kernel, thread count and SIMD level. */
export function backendInfo(): BackendInfo {
  const i = native.backendInfo();
  return { blas: i.blas, blasConfig: i.blasConfig, core: i.core, coreSource: kernelSource(), threads: i.threads, blasThreads: i.blasThreads, simd: i.simd, convIsa: i.convIsa, convMode: i.convMode, convWorkspaceLimit: native.getConvWorkspaceLimit(), convWinograd: WINOGRAD_MODES[native.getConvWinograd()] };
}

/**
 * Sets the number of threads for all of blasnet's work: the pool that splits
 * batches, GEMM panels and elementwise loops. OpenBLAS runs single-threaded
 * inside each of them. Defaults to the number of CPUs (or BLASNET_NUM_THREADS).
 */
export function setNumThreads(n: number): void {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 256)
    throw new RangeError(`setNumThreads: expected an integer in [1, 256], got ${String(n)}`);
  native.setNumThreads(n);
}

/** The number of threads blasnet uses. */
export function getNumThreads(): number {
  return native.getNumThreads();
}

/** @internal A byte count: a non-negative integer with an optional K, M or G suffix (powers of 1024). */
export function parseBytes(what: string, text: string): number {
  const m = /^\s*(\d+)\s*([kKmMgG]?)i?[bB]?\s*$/.exec(text);
  const n = m ? Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] || ' ').toLowerCase()) : NaN;
  if (!m || !Number.isSafeInteger(n)) throw new Error(`${what}: expected a byte count such as 67108864, 64M or 1G, got ${JSON.stringify(text)}`);
  return n;
}

/**
 * Bounds the workspace of the GEMM lowering of every convolution (forward, grad input, grad weight), in bytes,
 * all tiles in flight together. The lowering is tiled over the batch and over output rows, so a larger image costs
 * more tiles, not more memory; a smaller limit means more, smaller tiles. The floor is one output row's lowering
 * (`C·kD·kH·kW·OW` floats), whatever the limit. Default 64 MiB, or `BLASNET_CONV_WORKSPACE` (e.g. `256M`) at load.
 * Results do not depend on the thread count; the grad weight and grad input can change in the last bits with the limit.
 */
export function setConvWorkspaceLimit(bytes: number): void {
  if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0)
    throw new RangeError(`setConvWorkspaceLimit: expected a non-negative integer number of bytes, got ${String(bytes)}`);
  native.setConvWorkspaceLimit(bytes);
}

/** The current bound of {@link setConvWorkspaceLimit}, in bytes. */
export function getConvWorkspaceLimit(): number {
  return native.getConvWorkspaceLimit();
}

/**
 * Chooses when 2-D 3×3 stride-1, dilation-1, ungrouped convolutions (padding ≤ 2) run as Winograd F(2×2, 3×3) —
 * 16 multiplies per pair of channels and 2×2 outputs instead of 36 — for the forward and both gradients.
 * `'auto'` (default): layers with at least 16 input and output channels; `'off'`: the GEMM lowering always (the reference); `'force'`: wherever it applies. Winograd rounds
 * differently from the lowering (agreement ~1e-5 relative on unit-scale data). Also `BLASNET_CONV_WINOGRAD` at load.
 */
export function setConvWinograd(mode: WinogradMode): void {
  const i = WINOGRAD_MODES.indexOf(mode);
  if (typeof mode !== 'string' || i < 0) throw new Error(`setConvWinograd: mode must be 'auto', 'off' or 'force', got ${JSON.stringify(mode)}`);
  native.setConvWinograd(i);
}

if (process.env.BLASNET_CONV_WINOGRAD !== undefined) {
  const v = process.env.BLASNET_CONV_WINOGRAD;
  if (!WINOGRAD_MODES.includes(v as WinogradMode)) throw new Error(`BLASNET_CONV_WINOGRAD: expected auto, off or force, got ${JSON.stringify(v)}`);
  setConvWinograd(v as WinogradMode);
} else if (process.env.BLASNET_CONV === 'gemm') {
  // BLASNET_CONV=gemm asks for the GEMM lowering everywhere (the oracle): Winograd off too, unless asked for
  setConvWinograd('off');
}
if (process.env.BLASNET_CONV_WORKSPACE !== undefined) native.setConvWorkspaceLimit(parseBytes('BLASNET_CONV_WORKSPACE', process.env.BLASNET_CONV_WORKSPACE));
