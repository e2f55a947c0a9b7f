import fc from 'fast-check';
import type { FuzzTarget } from './targets.js';

/**
 * The parsers' contract on damaged input: a value, or the parser's typed error naming the file. Never another
 * exception, never a hang (a case over HANG_MS fails), and never an allocation out of proportion to the file before
 * its declared sizes are checked: array-buffer memory may grow by at most ALLOWED_GROWTH(file bytes) during a call.
 * The bound is the documented worst case: 1040x for deflate (gzip) expansion, x8 for scaling to float64, plus a fixed
 * 16 MiB (seek-bzip's 3.6 MB block buffer, DICOM/zip bookkeeping).
 */
export const HANG_MS = 5_000;
export const ALLOWED_GROWTH = (fileBytes: number): number => 16 * 2 ** 20 + 8 * 1040 * fileBytes;

/** Checks one input; returns what happened ('value' or the error's problem with numbers blurred), for --stats. */
export function checkOnce(target: FuzzTarget, bytes: Uint8Array): string {
  const before = process.memoryUsage().arrayBuffers;
  const t0 = performance.now();
  let outcome = 'value';
  try {
    target.run(bytes);
  } catch (e) {
    if (!target.isTyped(e)) {
      throw new Error(`${target.name}: not the parser's typed error: ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
    }
    const msg = (e as Error).message;
    if (!msg.includes(target.fileName)) throw new Error(`${target.name}: the error does not name ${target.fileName}: ${msg}`);
    outcome = msg.replace(target.fileName, '').replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/g, 'N').slice(0, 70);
  }
  const ms = performance.now() - t0;
  if (ms > HANG_MS) throw new Error(`${target.name}: one input took ${ms.toFixed(0)} ms`);
  const grown = process.memoryUsage().arrayBuffers - before;
  if (grown > ALLOWED_GROWTH(bytes.length)) throw new Error(`${target.name}: ${grown} bytes allocated for a ${bytes.length}-byte input`);
  return outcome;
}

/** Run `numRuns` seeded cases of one target; throws fast-check's report (with the shrunk input) on a break. */
export function fuzz(target: FuzzTarget, numRuns: number, seed: number, stats = false): void {
  const seen = new Map<string, number>();
  fc.assert(
    fc.property(target.input, (bytes) => {
      const outcome = checkOnce(target, bytes);
      if (stats) seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
    }),
    { numRuns, seed, endOnFailure: true },
  );
  if (stats) {
    const top = [...seen].sort((a, b) => b[1] - a[1]).slice(0, 12);
    console.log(`${target.name}: ${seen.size} distinct outcomes\n${top.map(([o, n]) => `  ${String(n).padStart(6)}  ${o}`).join('\n')}`);
  }
}
