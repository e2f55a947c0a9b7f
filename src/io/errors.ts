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
