/**
 * Devices and dtypes: blasnet runs float32 on the CPU, so PyTorch's
 * `.to('cpu')` / `.to('float32')` are accepted as no-ops and every other
 * device or dtype throws, naming it (a port that asks for CUDA should learn it
 * runs on the CPU, not silently get something else).
 */
import { Tensor, describe } from '../tensor';
import { checkOptions } from './args';

/** A device or dtype `Module.to` / `Tensor.to` accept: blasnet runs float32 on the CPU. */
export type ToTarget = 'cpu' | 'float32' | string | { device?: string; dtype?: string; nonBlocking?: boolean };

/** @internal Checks `.to(...)` arguments: the CPU and float32 are accepted (nothing to do), anything else throws. */
export function checkTo(op: string, args: unknown[]): void {
  const targets: unknown[] = [];
  for (const a of args) {
    if (a !== null && typeof a === 'object' && !Array.isArray(a) && !(a instanceof Tensor)) {
      const o = checkOptions(op, a as Record<string, unknown>, ['device', 'dtype', 'nonBlocking']) as Record<string, unknown>;
      if (o.device !== undefined) targets.push(o.device);
      if (o.dtype !== undefined) targets.push(o.dtype);
      if (o.nonBlocking !== undefined && typeof o.nonBlocking !== 'boolean') throw new TypeError(`${op}: nonBlocking must be true or false, got ${describe(o.nonBlocking)}`);
    } else if (a instanceof Tensor) targets.push('float32'); // .to(other): other is float32 on the CPU
    else targets.push(a);
  }
  if (!targets.length) throw new TypeError(`${op}: expected a device or dtype ('cpu', 'float32')`);
  for (const t of targets) {
    if (t === 'cpu' || t === 'cpu:0' || t === 'float32' || t === 'float') continue;
    if (typeof t === 'string' && /^(cuda|mps|xla|xpu|hip|meta|vulkan|ipu|ort)(:\d+)?$/.test(t))
      throw new Error(`${op}: blasnet runs on the CPU only (OpenBLAS); got device '${t}'. Drop the .to('${t}') call or use .to('cpu')`);
    if (typeof t === 'string')
      throw new Error(`${op}: blasnet tensors are float32 on the CPU; got ${JSON.stringify(t)} (expected 'cpu' or 'float32')`);
    throw new TypeError(`${op}: expected a device or dtype ('cpu', 'float32'), got ${describe(t)}`);
  }
}

