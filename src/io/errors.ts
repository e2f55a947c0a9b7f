import { readFileSync } from 'node:fs';

/** One clear error for bad input or an impossible write: names the file and the problem. */
export class VolumeIOError extends Error {
  override name = 'VolumeIOError';
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

/** The bytes of an input file, or one VolumeIOError naming it (missing, unreadable, a directory...). */
export function readInputFile(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new VolumeIOError(path, `cannot read file (${(e as Error).message})`);
  }
}
