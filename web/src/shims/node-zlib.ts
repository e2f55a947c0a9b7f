import { gunzipSync as fflateGunzip, gzipSync as fflateGzip } from 'fflate';

/** node:zlib in the browser bundle: gzip and gunzip through fflate (pure JS), so the shared readers and writers also work here. */
export const constants = { Z_DEFAULT_MEMLEVEL: 8 };
export function gzipSync(b: Uint8Array, opts: { level?: number } = {}): Uint8Array {
  const level = (opts.level ?? 6) as 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
  return fflateGzip(b, { level });
}
export function gunzipSync(b: Uint8Array): Uint8Array {
  return fflateGunzip(b);
}
export default { constants, gzipSync, gunzipSync };
