/**
 * Constructor arguments of the layers: PyTorch's positional order, or an
 * options object last, or both (`new nn.Conv2d(1, 6, 5, 2, { padding: 2 })`).
 * Too many positional arguments, a name given twice and an unknown option
 * key throw naming it. @internal
 */
import { Tensor, describe } from '../tensor';
import { checkOptions } from '../ops/args';

/** A plain options object (not null, an array, a typed array or a Tensor). */
export function isOptionsObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v) && !(v instanceof Tensor);
}

/**
 * Maps `args` (the constructor's arguments after its `required` leading ones,
 * which are not repeated in `names`) onto `names` in PyTorch's order; a plain
 * object as the last argument holds options named like `names`. Undefined
 * entries are left out, so defaults apply; null throws unless the name is in `nullable`.
 */
export function layerArgs(layer: string, names: readonly string[], args: readonly unknown[], nullable: readonly string[] = []): Record<string, unknown> {
  let pos = args;
  let opts: Record<string, unknown> = {};
  if (args.length > 0 && isOptionsObject(args[args.length - 1])) {
    opts = checkOptions(layer, args[args.length - 1] as Record<string, unknown>, names);
    pos = args.slice(0, -1);
  }
  if (pos.length > names.length)
    throw new TypeError(
      `${layer}: too many arguments: got ${pos.length} after the required ones, PyTorch's order allows ${names.length}${names.length ? ` (${names.join(', ')})` : ''}` +
        `${names.length ? ' and then an options object' : ''}; extra argument: ${describe(pos[names.length])}`,
    );
  const out: Record<string, unknown> = {};
  pos.forEach((v, i) => {
    if (v !== undefined) out[names[i]] = v;
  });
  for (const [k, v] of Object.entries(opts)) {
    if (v === undefined) continue;
    if (k in out) throw new TypeError(`${layer}: ${k} is given twice: as positional argument and in the options object`);
    out[k] = v;
  }
  // null is a value only where PyTorch's None means something (BatchNorm's momentum); elsewhere it is not a default
  for (const [k, v] of Object.entries(out))
    if (v === null && !nullable.includes(k)) throw new TypeError(`${layer}: ${k} must not be null (leave it out, or pass undefined, for the default)`);
  return out;
}

/** An integer ≥ min; anything else throws naming the layer and argument. */
export function intArg(layer: string, name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
    throw new RangeError(`${layer}: ${name} must be an integer >= ${min}, got ${describe(v)}`);
  return v;
}

/** A dim index (any integer; negative counts from the end). */
export function dimArg(layer: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${layer}: ${name} must be an integer dim, got ${describe(v)}`);
  return v;
}
