/// <reference path="./seek-bzip.d.ts" />
import Bunzip from 'seek-bzip';

/**
 * bzip2 decompression with seek-bzip (pure JS, synchronous like the rest of the readers). The caller states how many
 * bytes it can use at most: bzip2's run-length stages reach ratios of millions to one, so a small corrupt or hostile
 * file must not be inflated beyond what its header declares. seek-bzip itself allocates one block buffer of at most
 * 3.6 MB (level 9) per stream, fixed by the format.
 */

export class Bzip2Error extends Error {
  override name = 'Bzip2Error';
}

export function isBzip2(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x42 && bytes[1] === 0x5a && bytes[2] === 0x68 && bytes[3]! >= 0x31 && bytes[3]! <= 0x39;
}

/** Thrown by the output sink when a stream decodes past `maxBytes`; caught below and reported as a Bzip2Error. */
class TooLong extends Error {}

/** Decompress a bzip2 stream (concatenated streams too, as `bzip2 -d` does), refusing output longer than `maxBytes`. */
export function bunzip2(input: Uint8Array, maxBytes: number): Uint8Array {
  if (!isBzip2(input)) throw new Bzip2Error('not bzip2 data (missing "BZh1".."BZh9" magic)');
  if (typeof (globalThis as { Buffer?: unknown }).Buffer === 'undefined') {
    throw new Bzip2Error('bzip2 decoding needs Node (not available in the browser viewer)');
  }
  let out = new Uint8Array(Math.min(maxBytes, Math.max(1 << 16, input.length * 8)));
  let n = 0;
  const sink = {
    writeByte(b: number): void {
      if (n === out.length) {
        if (n >= maxBytes) throw new TooLong();
        const bigger = new Uint8Array(Math.min(maxBytes, out.length * 2));
        bigger.set(out);
        out = bigger;
      }
      out[n++] = b;
    },
  };
  // Our own input stream: seek-bzip's default one reads `undefined` past the end, which decodes as zero bits.
  let pos = 0;
  const source = {
    readByte(): number {
      if (pos >= input.length) throw new Bzip2Error('bzip2 data ends unexpectedly');
      return input[pos++]!;
    },
    read(buf: Uint8Array, off: number, len: number): number {
      const k = Math.min(len, input.length - pos);
      for (let i = 0; i < k; i++) buf[off + i] = input[pos++]!;
      return k > 0 ? k : -1;
    },
    seek(p: number): void {
      pos = p;
    },
    eof(): boolean {
      return pos >= input.length;
    },
  };
  try {
    Bunzip.decode(source, sink, true);
  } catch (e) {
    if (e instanceof Bzip2Error) throw new Bzip2Error(`corrupt or truncated bzip2 data (${e.message})`);
    if (e instanceof TooLong) throw new Bzip2Error(`bzip2 data decompresses to more than the ${maxBytes} bytes the header declares`);
    throw new Bzip2Error(`corrupt or truncated bzip2 data (${(e as Error).message})`);
  }
  return out.subarray(0, n);
}
