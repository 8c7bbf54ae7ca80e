/**
 * Loading what the CLI's commands run: a checkpoint (safetensors, or a PyTorch
 * `.pt` state dict) into LeNet or into a user's own model (`--model file.js`
 * exporting a factory), and the class names to print.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { models, nn, data } from '../index';
import { loadWithMetadata } from '../io/checkpoint';
import type { LeNetVariant } from '../models/lenet';

/** A CLI error: printed as one `blasnet: …` line, exit status 1. */
export class CliError extends Error {}

export interface LoadedModel {
  model: nn.Module;
  /** The checkpoint's string metadata (empty for PyTorch files). */
  metadata: Record<string, string>;
  /** 'lenet-modern', 'lenet-classic' or the --model file. */
  description: string;
}

/**
 * Requires a model file and calls its factory. The file exports a function
 * returning an nn.Module: `module.exports = () => new Net()`, or named
 * `createModel`, or an ES default export.
 */
export function modelFromFile(file: string, metadata: Record<string, string> = {}): nn.Module {
  const abs = path.resolve(file);
  if (!fs.existsSync(abs)) throw new CliError(`--model ${file}: no such file`);
  let mod: unknown;
  try {
    mod = require(abs);
  } catch (e) {
    throw new CliError(`--model ${file}: cannot load it (${(e as Error).message.split('\n')[0]})`);
  }
  const m = mod as Record<string, unknown> | ((...a: unknown[]) => unknown);
  const factory = typeof m === 'function' ? m : typeof m?.createModel === 'function' ? m.createModel : typeof m?.default === 'function' ? m.default : null;
  if (!factory) throw new CliError(`--model ${file} must export a function that returns an nn.Module (module.exports = () => new Net(), or export createModel)`);
  let model: unknown;
  try {
    model = (factory as (meta: Record<string, string>) => unknown)(metadata);
  } catch (e) {
    throw new CliError(`--model ${file}: its factory threw: ${(e as Error).message}`);
  }
  // Duck-typed: the file may have loaded another copy of blasnet.
  const mm = model as nn.Module | null;
  if (!mm || typeof mm.forward !== 'function' || typeof mm.loadStateDict !== 'function' || typeof mm.eval !== 'function')
    throw new CliError(`--model ${file}: its factory returned ${model === null ? 'null' : typeof model}, not an nn.Module`);
  return mm;
}

/** Loads a checkpoint into LeNet (variant from the metadata unless given) or into the model of `modelFile`. */
export function loadModel(file: string, opts: { variant?: LeNetVariant; modelFile?: string } = {}): LoadedModel {
  if (!fs.existsSync(file)) throw new CliError(`no checkpoint at ${file} (train one with \`blasnet train\`, or pass --checkpoint)`);
  if (!fs.statSync(file).isFile()) throw new CliError(`--checkpoint ${file} is not a file`);
  const { tensors, metadata } = loadWithMetadata(file);
  try {
    let model: nn.Module, description: string;
    if (opts.modelFile !== undefined) {
      if (opts.variant !== undefined) throw new CliError('--variant applies to the built-in LeNet; it cannot be combined with --model');
      model = modelFromFile(opts.modelFile, metadata);
      description = opts.modelFile;
    } else {
      const v = (opts.variant ?? metadata.variant ?? 'modern') as LeNetVariant;
      if (v !== 'modern' && v !== 'classic') throw new CliError(`${file}: its metadata names LeNet variant ${JSON.stringify(v)} (expected modern or classic)`);
      model = models.LeNet({ variant: v, numClasses: numClassesOf(tensors) });
      description = `LeNet (${v})`;
    }
    try {
      model.loadStateDict(tensors);
    } catch (e) {
      const hint = opts.modelFile === undefined && /keys do not match/.test((e as Error).message) ? ' (not a LeNet checkpoint? give its model with --model <file.js>)' : '';
      throw new CliError(`${file}: ${(e as Error).message}${hint}`);
    }
    model.eval();
    return { model, metadata, description };
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}

/** LeNet's class count from its last layer (10 unless the checkpoint says otherwise). */
function numClassesOf(tensors: Record<string, { shape: readonly number[] }>): number {
  const w = tensors['11.weight'];
  return w && w.shape.length === 2 && w.shape[0] >= 1 ? w.shape[0] : 10;
}

/**
 * The class names for a model with `n` outputs: `--classes` if given, else the
 * checkpoint's metadata, else the indices.
 */
export function classNames(n: number, arg: string | undefined, metadata: Record<string, string>): string[] {
  let names: string[] | null = null, source = '';
  if (arg !== undefined) {
    try {
      names = data.parseClassNames(arg);
    } catch (e) {
      throw new CliError(`--classes: ${(e as Error).message.replace(/^classes: /, '')}`);
    }
    source = `--classes ${arg}`;
  } else if (metadata.classes) {
    try {
      names = data.checkClassNames(JSON.parse(metadata.classes), 'the checkpoint metadata');
    } catch (e) {
      throw new CliError(`the checkpoint's class names are invalid: ${(e as Error).message}`);
    }
    source = 'the checkpoint';
  }
  if (names === null) return Array.from({ length: n }, (_, i) => String(i));
  if (names.length !== n) throw new CliError(`${source} gives ${names.length} class names but the model has ${n} outputs`);
  return names;
}
