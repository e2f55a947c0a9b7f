import { Decoder } from 'jpeg-lossless-decoder-js';
import { CodecError, signExtend, type FrameInfo, type FramePixels } from './types.js';

/** JPEG Lossless process 14 (any selection value) with jpeg-lossless-decoder-js (pure JS, synchronous). */
export function decodeJpegLossless(encoded: Uint8Array, info: FrameInfo): FramePixels {
  const bytesPerSample = info.bitsAllocated <= 8 ? 1 : 2;
  let decoded: Uint8Array | Uint16Array | Int16Array;
  try {
    decoded = new Decoder().decode(encoded.buffer, encoded.byteOffset, encoded.byteLength, bytesPerSample);
  } catch (e) {
    throw new CodecError(`JPEG Lossless decoding failed (${e instanceof Error ? e.message : String(e)})`);
  }
  const n = info.rows * info.columns * info.samplesPerPixel;
  if (decoded.length < n) throw new CodecError(`JPEG Lossless stream decodes to ${decoded.length} samples, ${n} expected`);
  const bytes = new Uint8Array(decoded.buffer, decoded.byteOffset, n * bytesPerSample).slice();
  const signed = info.pixelRepresentation === 1;
  const out = bytesPerSample === 1 ? (signed ? new Int8Array(bytes.buffer) : bytes) : signed ? new Int16Array(bytes.buffer) : new Uint16Array(bytes.buffer);
  return signExtend(out, info);
}
