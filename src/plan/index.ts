/**
 * The plan compiler and the serving API: trace a Module's eval-mode forward
 * (trace.ts), fuse it (graph.ts), encode it for the native executor (emit.ts),
 * and serve it (session.ts: InferenceSession; forward_async.ts:
 * Module.forwardAsync).
 */
export { InferenceSession, type InferenceSessionOptions, type LoadSessionOptions } from './session';
import './forward_async';
