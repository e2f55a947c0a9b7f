import { readFileSync } from 'node:fs';
import { CheckpointError } from './errors.js';
import { readCheckpoint } from './read-checkpoint.js';
import type { StateDict } from './tensor.js';

/** Read a checkpoint file from disk (Node only); the format is picked from the content. */
export function loadCheckpoint(path: string): StateDict {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new CheckpointError(path, `cannot read file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return readCheckpoint(bytes, path);
}
