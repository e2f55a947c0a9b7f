import { gzipSync as fflateGzip } from 'fflate';

/** node:zlib in the browser bundle: gzip through fflate (pure JS), so the shared writers also work here. */
export const constants = { Z_DEFAULT_MEMLEVEL: 8 };
export function gzipSync(b: Uint8Array, opts: { level?: number } = {}): Uint8Array {
  const level = (opts.level ?? 6) as 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
  return fflateGzip(b, { level });
}
export default { constants, gzipSync };
