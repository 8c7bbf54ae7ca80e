/** Checkpoints: safetensors, and PyTorch `.pt` state dicts read without running code (`import { io } from 'blasnet'`). */
export { save, load, loadWithMetadata, serialize, deserialize, type TensorDict } from './checkpoint';
export { parseSafetensors, serializeSafetensors, loadSafetensors, saveSafetensors, toFloat32, type NamedArray, type SafetensorsDtype } from './safetensors';
export { writeFileAtomic } from './atomic';
export { loadTorch, parseTorch, isTorchFile, MAX_TORCH_FILE_BYTES } from './torch';
