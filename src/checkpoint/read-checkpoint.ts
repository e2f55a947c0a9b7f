import { CheckpointError } from './errors.js';
import { looksLikeSafetensors, readSafetensors } from './safetensors.js';
import type { ReadCheckpointOptions, StateDict } from './tensor.js';
import { looksLikePickle, readLegacyTorchCheckpoint } from './torch-legacy.js';
import { isZip, readTorchCheckpoint } from './torch-zip.js';

export type CheckpointFormat = 'torch-zip' | 'torch-legacy' | 'safetensors';

/** Identify a checkpoint by its content, not its extension. */
export function detectCheckpointFormat(bytes: Uint8Array): CheckpointFormat | undefined {
  if (isZip(bytes)) return 'torch-zip';
  if (looksLikeSafetensors(bytes)) return 'safetensors';
  if (looksLikePickle(bytes)) return 'torch-legacy';
  return undefined;
}

/**
 * Read a checkpoint held in memory (torch zip, legacy torch or safetensors). `adoptBytes` applies to the two torch
 * formats; safetensors tensors are always copied (their data need not be element-aligned).
 */
export function readCheckpoint(bytes: Uint8Array, fileName: string, options: ReadCheckpointOptions = {}): StateDict {
  switch (detectCheckpointFormat(bytes)) {
    case 'torch-zip': return readTorchCheckpoint(bytes, fileName, options);
    case 'safetensors': return readSafetensors(bytes, fileName);
    case 'torch-legacy': return readLegacyTorchCheckpoint(bytes, fileName, options);
    default: {
      const head = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
      throw new CheckpointError(fileName, `not a PyTorch or safetensors checkpoint (wrong magic: file starts with ${head || 'nothing'})`);
    }
  }
}
