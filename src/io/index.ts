/** Checkpoints in safetensors (`import { io } from 'blasnet'`). */
export { save, load, loadWithMetadata, serialize, deserialize, type TensorDict } from './checkpoint';
export { parseSafetensors, serializeSafetensors, loadSafetensors, saveSafetensors, toFloat32, type NamedArray, type SafetensorsDtype } from './safetensors';
export { writeFileAtomic } from './atomic';
