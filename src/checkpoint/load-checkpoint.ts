import { readFileSync } from 'node:fs';
import { CheckpointError } from './errors.js';
import { readCheckpoint } from './read-checkpoint.js';
import type { StateDict } from './tensor.js';

/**
 * Read a checkpoint file from disk (Node only); the format is picked from the content. The file's bytes are
 * read here and nowhere else, so tensors stored contiguously are views of them, not copies (adoptBytes): an
 * official-layout atten.pth read in 105-167 ms instead of 200-213, without a second 182 MB (DESIGN.md, issue 15,
 * round thirteen).
 */
export function loadCheckpoint(path: string): StateDict {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new CheckpointError(path, `cannot read file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return readCheckpoint(bytes, path, { adoptBytes: true });
}
