// Checkpoint I/O: safe PyTorch (.pth) reading, safetensors reading/writing.
export * from './tensor.js';
export { CheckpointError } from './errors.js';
export { readTorchCheckpoint } from './torch-zip.js';
export { readLegacyTorchCheckpoint } from './torch-legacy.js';
export { readSafetensors, writeSafetensors } from './safetensors.js';
export { readCheckpoint, detectCheckpointFormat, type CheckpointFormat } from './read-checkpoint.js';
export { loadCheckpoint } from './load-checkpoint.js';
export { AdoptedBytes, materialize, type Storage, type TensorView } from './strided.js';
