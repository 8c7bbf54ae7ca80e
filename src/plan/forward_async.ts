/**
 * Module.forwardAsync: the eval-mode forward of any module on blasnet's
 * executor thread, through an InferenceSession kept per module and remade
 * when the module changes.
 *
 * "Changed" is checked on every call, cheaply (no walk of the module tree):
 * the session remembers every (module, property) that held a module or a
 * tensor, and every parameter and buffer with its storage and version, when
 * it was made. A replaced layer or parameter (`model[0] = new nn.Linear(...)`,
 * `fc.weight = ...`), an optimizer step or `loadStateDict` all show up there.
 * @internal
 */
import { Tensor } from '../tensor';
import { Module } from '../nn/module';
import * as L from '../nn/layers';
import type { Storage } from '../tensor';
import { InferenceSession } from './session';

interface Deps {
  /** [module, key, value] triples, flattened */
  props: unknown[];
  /** [tensor, storage, version] triples, flattened */
  tensors: unknown[];
  /** modules whose eval and training forwards differ */
  modal: Module[];
}

function collect(model: Module): Deps {
  const props: unknown[] = [], tensors: unknown[] = [], modal: Module[] = [];
  const seenM = new Set<Module>(), seenT = new Set<Tensor>();
  for (const [, m] of model.namedModules()) {
    if (seenM.has(m)) continue;
    seenM.add(m);
    for (const k of Object.keys(m)) {
      const v = (m as unknown as Record<string, unknown>)[k];
      if (v instanceof Module || v instanceof Tensor) props.push(m, k, v);
    }
    if ((m instanceof L.Dropout && m.p > 0) || m instanceof L._BatchNorm) modal.push(m);
  }
  for (const t of [...model.parameters(), ...model.namedBuffers().map(([, b]) => b)])
    if (!seenT.has(t)) {
      seenT.add(t);
      tensors.push(t, t._storage, t._storage.version);
    }
  return { props, tensors, modal };
}

function unchanged(d: Deps): boolean {
  const p = d.props;
  for (let i = 0; i < p.length; i += 3) if ((p[i] as Record<string, unknown>)[p[i + 1] as string] !== p[i + 2]) return false;
  const t = d.tensors;
  for (let i = 0; i < t.length; i += 3) {
    const x = t[i] as Tensor;
    if (x.isDisposed || x._storage !== t[i + 1] || (t[i + 1] as Storage).version !== t[i + 2]) return false;
  }
  return true;
}

const sessions = new WeakMap<Module, { session: InferenceSession; deps: Deps }>();

/**
 * @internal Installed on Module.prototype as `forwardAsync(x)`.
 */
export function forwardAsync(this: Module, x: Tensor): Promise<Tensor> {
  const op = 'forwardAsync';
  let e = sessions.get(this);
  if (e && !unchanged(e.deps)) {
    e.session.dispose(); // runs in flight keep what they use
    sessions.delete(this);
    e = undefined;
  }
  if (!e) {
    try {
      const deps = collect(this);
      e = { session: new InferenceSession(this), deps };
    } catch (err) {
      return Promise.reject(new Error((err as Error).message.replace(/^InferenceSession: /, `${op}: `)));
    }
    sessions.set(this, e);
  }
  for (const m of e.deps.modal)
    if (m.training)
      return Promise.reject(new Error(`${op}: the model is in training mode and has ${m.constructor.name} (its training forward differs); call model.eval() first`));
  return e.session._submit(op, x);
}

/** @internal Frees the session forwardAsync keeps for `model`, if any (tests, and Module.dispose users). */
export function releaseForwardAsync(model: Module): void {
  const e = sessions.get(model);
  if (e) {
    e.session.dispose();
    sessions.delete(model);
  }
}

declare module '../nn/module' {
  interface Module {
    /**
     * The eval-mode forward pass on blasnet's executor thread (never on the
     * event loop), resolving with the output; any module built from blasnet ops.
     * The input is copied at the call; the result equals
     * `model.eval(); noGrad(() => model.forward(x))` bitwise. The compiled
     * session is kept with the module and remade when the module changes
     * (replaced layers or parameters, optimizer steps, loadStateDict).
     */
    forwardAsync(x: Tensor): Promise<Tensor>;
  }
}
(Module.prototype as unknown as { forwardAsync: typeof forwardAsync }).forwardAsync = forwardAsync;
