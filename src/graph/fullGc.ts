import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collector: (() => void) | null | undefined;

/**
 * V8's full garbage collection, without starting Node with --expose-gc: the flag, set now, gives contexts created
 * afterwards a `gc` global, and one fresh context hands over its function (the process's own global is left as
 * it is). If neither this nor a `gc` already exposed works, it does nothing: collection then happens when V8
 * decides, as before.
 */
export function fullGarbageCollection(): void {
  if (collector === undefined) collector = findCollector();
  collector?.();
}

function findCollector(): (() => void) | null {
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') return exposed as () => void;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}
