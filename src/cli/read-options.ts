import type { ReadOptions } from '../io/options.js';

/** `--allow-external-data`, for every command that reads volumes: `.option(...ALLOW_EXTERNAL_DATA)`. */
export const ALLOW_EXTERNAL_DATA = [
  '--allow-external-data',
  "read a detached NRRD header's data file even when it lies outside the header's folder (only for headers you trust)",
] as const;

/** Reader options of a CLI command: its --allow-external-data, and the readers' warnings on stderr, once each. */
export function cliReadOptions(opts: { allowExternalData?: boolean }): Pick<ReadOptions, 'allowExternalData' | 'onWarning'> {
  return {
    ...(opts.allowExternalData ? { allowExternalData: true } : {}),
    onWarning: (message) => process.stderr.write(`sab: warning: ${message}\n`),
  };
}
