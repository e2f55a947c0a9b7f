import { inflateSync } from 'fflate';

/** Decompression uses fflate (pure JS, so decoders also run in a browser); compression is in gzip-node.ts. */

/** Thrown by gunzip for corrupt or truncated data; callers wrap it with the file name. */
export class GzipError extends Error {
  override name = 'GzipError';
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Byte length of the gzip member header (RFC 1952), so the raw deflate stream can be inflated directly. */
function gzipHeaderLength(b: Uint8Array): number {
  if (b.length < 18) throw new GzipError(`gzip data too short (${b.length} bytes)`);
  if (b[2] !== 8) throw new GzipError(`unsupported gzip compression method ${b[2]}`);
  const flags = b[3]!;
  let p = 10;
  if (flags & 4) p += 2 + (b[10]! | (b[11]! << 8));
  if (flags & 8) while (p < b.length && b[p++] !== 0);
  if (flags & 16) while (p < b.length && b[p++] !== 0);
  if (flags & 2) p += 2;
  if (p + 8 > b.length) throw new GzipError('gzip header runs past the end of the data');
  return p;
}

/** The most a gzip stream of b's length can inflate to (deflate cannot exceed ~1032:1), after checking its header. */
export function plausibleGunzipSize(b: Uint8Array): number {
  return (b.length - gzipHeaderLength(b)) * 1040 + 1024;
}

/**
 * Decompress a single-member gzip stream. The trailer's size field is used to allocate the output once, but only when
 * plausible (deflate cannot exceed ~1032:1), so a truncated file cannot make us allocate gigabytes.
 */
export function gunzip(b: Uint8Array): Uint8Array {
  const start = gzipHeaderLength(b);
  const n = b.length;
  const isize = (b[n - 4]! | (b[n - 3]! << 8) | (b[n - 2]! << 16) | (b[n - 1]! << 24)) >>> 0;
  const plausible = isize > 0 && isize <= plausibleGunzipSize(b);
  let out: Uint8Array;
  try {
    out = plausible
      ? inflateSync(b.subarray(start, n - 8), { out: new Uint8Array(isize) })
      : inflateSync(b.subarray(start, n - 8));
  } catch (e) {
    throw new GzipError(`corrupt or truncated gzip data (${(e as Error).message})`);
  }
  if (out.length % 2 ** 32 !== isize) {
    throw new GzipError(`corrupt or truncated gzip data (decompressed ${out.length} bytes, trailer says ${isize})`);
  }
  return out;
}
