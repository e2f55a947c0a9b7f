import type { ReadOptions } from './options.js';

/**
 * What a reader worked around (an assumed spacing, an ignored transform) — said once, never printed by library code:
 * each message goes to `opts.onWarning` as it happens (the CLI writes it to stderr) and is kept on
 * `volume.source.warnings` for callers who passed no handler.
 */
export interface ReadWarnings {
  warn(problem: string): void;
  readonly list: string[];
}

export function readWarnings(name: string, opts: Pick<ReadOptions, 'onWarning'>): ReadWarnings {
  const list: string[] = [];
  return {
    list,
    warn(problem: string): void {
      const message = `${name}: ${problem}`;
      if (list.includes(message)) return;
      list.push(message);
      opts.onWarning?.(message);
    },
  };
}
