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
}

/** Reports the BLAS library, kernel, thread count and SIMD level. */
export function backendInfo(): BackendInfo {
  const i = native.backendInfo();
  return { blas: i.blas, blasConfig: i.blasConfig, core: i.core, coreSource: kernelSource(), threads: i.threads, blasThreads: i.blasThreads, simd: i.simd, convIsa: i.convIsa, convMode: i.convMode };
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
