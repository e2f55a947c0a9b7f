/** Any problem reading or writing a checkpoint file. Messages always name the file and the problem. */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  constructor(
    readonly fileName: string,
    problem: string,
  ) {
    super(`${fileName}: ${problem}`);
  }
}
