/**
 * Training checkpoints that resume exactly or refuse: `model.safetensors` (the
 * weights, loadable anywhere) and `state.safetensors` (optimizer state,
 * scheduler, epoch, history and the run's options), written after every epoch.
 *
 * The two files are written one after the other, so a crash or a full disk
 * between the writes leaves a pair from different epochs. The state file
 * therefore records the SHA-256 of the model file it belongs to (and both record
 * the epoch); {@link loadCheckpoint} refuses a pair that does not match, and
 * checks everything else it reads back — the epoch against the history, the
 * optimizer state against the parameters, the scheduler's step count against
 * the epoch, the options against the ones given — before touching the model.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { serialize, deserialize, type TensorDict } from '../io/checkpoint';
import { writeFileAtomic } from '../io/atomic';
import { checkOptions } from '../ops/args';
import type { Module } from '../nn/module';
import type { Optimizer, OptimizerStateDict } from '../optim/optimizer';
import type { LRScheduler, LRSchedulerStateDict } from '../optim/lr_scheduler';
import type { Tensor } from '../tensor';
import type { EpochMetrics } from './trainer';

export const MODEL_FILE = 'model.safetensors';
export const STATE_FILE = 'state.safetensors';
/** The state file's format version. */
const VERSION = 1;
/** No run is resumed past this many epochs. */
export const MAX_EPOCHS = 1_000_000;

/** Refused checkpoints: the message says what does not match and what to do. */
export class CheckpointError extends Error {}

export interface SaveCheckpointOptions {
  model: Module;
  optimizer: Optimizer;
  scheduler?: LRScheduler | null;
  /** Epochs finished. */
  epoch: number;
  history: EpochMetrics[];
  /** The run's options, compared on resume. */
  options: Record<string, unknown>;
  /** Extra string metadata for model.safetensors (format, variant, classes, ...). */
  modelMetadata?: Record<string, string>;
  /** The optimizer's name (e.g. 'adam'), compared on resume. */
  optimizerName: string;
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Writes model.safetensors, then state.safetensors naming the model file's hash. */
export function saveCheckpoint(dir: string, o: SaveCheckpointOptions): void {
  checkOptions('saveCheckpoint', o, ['model', 'optimizer', 'scheduler', 'epoch', 'history', 'options', 'modelMetadata', 'optimizerName']);
  fs.mkdirSync(dir, { recursive: true });
  const modelBytes = serialize(o.model.stateDict(), { ...(o.modelMetadata ?? {}), epoch: String(o.epoch) });
  writeFileAtomic(path.join(dir, MODEL_FILE), modelBytes);
  const sd = o.optimizer.stateDict();
  const tensors: Record<string, Tensor> = {};
  const scalars: Record<number, Record<string, number>> = {};
  for (const [idx, s] of Object.entries(sd.state))
    for (const [name, v] of Object.entries(s)) {
      if (typeof v === 'number') (scalars[Number(idx)] ??= {})[name] = v;
      else tensors[`state.${idx}.${name}`] = v;
    }
  const meta = {
    version: VERSION, epoch: o.epoch, modelSha256: sha256(modelBytes), optimizer: o.optimizerName,
    paramGroups: sd.paramGroups, scalars, scheduler: o.scheduler?.stateDict() ?? null, options: o.options, history: o.history,
  };
  writeFileAtomic(path.join(dir, STATE_FILE), serialize(tensors, { training: JSON.stringify(meta) }));
}

export interface LoadCheckpointOptions {
  model: Module;
  optimizer: Optimizer;
  scheduler?: LRScheduler | null;
  optimizerName: string;
  /** The options of this invocation; every key in `mustMatch` must equal the recorded one. */
  options: Record<string, unknown>;
  mustMatch: string[];
  /** Scheduler steps per epoch: batches when stepped per batch, 1 when per epoch, 0 without a scheduler. */
  schedulerStepsPerEpoch: number;
  /** How an option is named to the user (default `--kebab-case`). */
  optionName?: (key: string) => string;
}

export interface ResumedState {
  epoch: number;
  history: EpochMetrics[];
  options: Record<string, unknown>;
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const kebab = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

function readFile(file: string, what: string): Buffer {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new CheckpointError(`${file} does not exist (nothing to resume: train without --resume)`);
  }
  if (!st.isFile()) throw new CheckpointError(`${file} is not a regular file`);
  if (st.size > 2 ** 32) throw new CheckpointError(`${file} is ${st.size} bytes, too large for a ${what}`);
  return fs.readFileSync(file);
}

/**
 * Loads a checkpoint written by {@link saveCheckpoint} into model, optimizer and
 * scheduler, or throws a {@link CheckpointError} and changes nothing.
 */
export function loadCheckpoint(dir: string, o: LoadCheckpointOptions): ResumedState {
  checkOptions('loadCheckpoint', o, ['model', 'optimizer', 'scheduler', 'optimizerName', 'options', 'mustMatch', 'schedulerStepsPerEpoch', 'optionName']);
  const modelPath = path.join(dir, MODEL_FILE), statePath = path.join(dir, STATE_FILE);
  const name = o.optionName ?? kebab;
  const stateBytes = readFile(statePath, 'training state');
  const modelBytes = readFile(modelPath, 'model');
  const bad: (msg: string) => never = (msg) => {
    throw new CheckpointError(`${statePath}: ${msg}; it cannot be resumed (start over without --resume, or into another --out)`);
  };
  const s = deserialize(stateBytes, statePath);
  let stateTensors: TensorDict = s.tensors, modelTensors: TensorDict | null = null;
  try {
    let meta: Record<string, unknown>;
    try {
      meta = JSON.parse(s.metadata.training ?? 'null');
    } catch {
      return bad('its training metadata is not valid JSON');
    }
    if (!isObj(meta)) bad('it has no training metadata');
    if (meta.version !== VERSION) bad(`it is format version ${JSON.stringify(meta.version)}, not ${VERSION}`);
    const epoch = meta.epoch;
    if (!Number.isInteger(epoch) || (epoch as number) < 1 || (epoch as number) > MAX_EPOCHS) bad(`its epoch is ${JSON.stringify(epoch)} (expected an integer in 1..${MAX_EPOCHS})`);
    const e = epoch as number;
    // the pair: the state names the model file it was written with
    const m = deserialize(modelBytes, modelPath);
    modelTensors = m.tensors;
    if (meta.modelSha256 !== sha256(modelBytes)) {
      const me = m.metadata.epoch;
      throw new CheckpointError(
        `${modelPath} (epoch ${me ?? '?'}) and ${statePath} (epoch ${e}) are not from the same save` +
          ' (a crash or a full disk between the two writes?); resuming would not continue the run exactly, so it is refused.' +
          ' Train again without --resume, or restore both files from the same epoch.',
      );
    }
    if (m.metadata.epoch !== String(e)) bad(`it is from epoch ${e} but ${MODEL_FILE} says epoch ${JSON.stringify(m.metadata.epoch)}`);
    // history: one finite record per epoch
    const history = meta.history;
    if (!Array.isArray(history) || history.length !== e) bad(`its history has ${Array.isArray(history) ? history.length : 'no'} epochs but it is at epoch ${e}`);
    (history as unknown[]).forEach((h, i) => {
      if (!isObj(h) || h.epoch !== i + 1) bad(`history entry ${i} is not epoch ${i + 1}`);
      for (const k of ['loss', 'imgPerSec', 'seconds', 'lr'] as const)
        if (typeof h[k] !== 'number' || !Number.isFinite(h[k] as number)) bad(`history entry ${i}'s ${k} is ${JSON.stringify(h[k])}`);
      if (h.accuracy !== null && (typeof h.accuracy !== 'number' || !((h.accuracy as number) >= 0 && (h.accuracy as number) <= 1))) bad(`history entry ${i}'s accuracy is ${JSON.stringify(h.accuracy)}`);
    });
    // options: those that decide what is computed must be the same
    const recorded = meta.options;
    if (!isObj(recorded)) bad('it records no options');
    for (const k of o.mustMatch) {
      const was = (recorded as Record<string, unknown>)[k], now = o.options[k];
      if (JSON.stringify(was) !== JSON.stringify(now))
        throw new CheckpointError(`the run in ${dir} used ${name(k)} ${was === undefined ? '(not given)' : JSON.stringify(was)}, not ${now === undefined ? '(not given)' : JSON.stringify(now)}: resume with the same options, or train into another --out`);
    }
    if (meta.optimizer !== o.optimizerName) throw new CheckpointError(`the run in ${dir} used optimizer '${String(meta.optimizer)}', not '${o.optimizerName}'`);
    // optimizer state: groups, indices, scalars, tensors
    if (!Array.isArray(meta.paramGroups) || meta.paramGroups.some((g) => !isObj(g) || !Array.isArray(g.params))) bad('its optimizer parameter groups are malformed');
    const groups = meta.paramGroups as OptimizerStateDict['paramGroups'];
    const nParams = o.optimizer.paramGroups.reduce((a, g) => a + g.params.length, 0);
    for (const g of groups) {
      for (const [k, v] of Object.entries(g)) if (k !== 'params' && typeof v === 'number' && !Number.isFinite(v)) bad(`its optimizer option ${k} is ${v}`);
      if ((g.params as unknown[]).some((i) => !Number.isInteger(i) || (i as number) < 0 || (i as number) >= nParams)) bad('its optimizer names parameters the model does not have');
    }
    const state: OptimizerStateDict['state'] = {};
    const scalars = meta.scalars;
    if (!isObj(scalars)) bad('its optimizer scalars are malformed');
    for (const [idx, sc] of Object.entries(scalars as Record<string, unknown>)) {
      if (!/^\d+$/.test(idx) || Number(idx) >= nParams || !isObj(sc)) bad(`optimizer state for parameter ${JSON.stringify(idx)} is malformed`);
      for (const [k, v] of Object.entries(sc as Record<string, unknown>)) {
        if (typeof v !== 'number' || !Number.isFinite(v)) bad(`optimizer state ${k} of parameter ${idx} is ${JSON.stringify(v)}`);
        if (k === 'step' && (!Number.isInteger(v) || (v as number) < 0)) bad(`optimizer step count of parameter ${idx} is ${v}`);
        (state[Number(idx)] ??= {})[k] = v as number;
      }
    }
    for (const [k, t] of Object.entries(stateTensors)) {
      const mm = /^state\.(\d+)\.(\w+)$/.exec(k);
      if (!mm || Number(mm[1]) >= nParams) bad(`it holds an unexpected tensor ${JSON.stringify(k)}`);
      const d = t.data();
      for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) bad(`optimizer state ${k} holds ${d[i]}`);
      (state[Number(mm![1])] ??= {})[mm![2]] = t;
    }
    // scheduler: exactly the steps `epoch` epochs take
    const sch = meta.scheduler;
    if (o.scheduler) {
      if (!isObj(sch) || !Number.isInteger(sch.lastEpoch)) bad('it has no learning-rate scheduler state, but this run uses a scheduler');
      const want = e * o.schedulerStepsPerEpoch;
      if ((sch as { lastEpoch: number }).lastEpoch !== want) bad(`its scheduler took ${(sch as { lastEpoch: number }).lastEpoch} steps, but ${e} epochs take ${want}`);
    } else if (sch !== null && sch !== undefined) bad('it has learning-rate scheduler state, but this run uses no scheduler');

    // Everything checked: now change the model, the optimizer and the scheduler.
    try {
      o.model.loadStateDict(modelTensors);
    } catch (err) {
      throw new CheckpointError(`${modelPath}: ${(err as Error).message}`);
    }
    try {
      o.optimizer.loadStateDict({ state, paramGroups: groups });
    } catch (err) {
      throw new CheckpointError(`${statePath}: the optimizer state does not fit: ${(err as Error).message}`);
    }
    if (o.scheduler) o.scheduler.loadStateDict(sch as unknown as LRSchedulerStateDict);
    return { epoch: e, history: history as EpochMetrics[], options: recorded as Record<string, unknown> };
  } finally {
    for (const t of Object.values(stateTensors)) t.dispose();
    if (modelTensors) for (const t of Object.values(modelTensors)) t.dispose();
    stateTensors = {};
  }
}
