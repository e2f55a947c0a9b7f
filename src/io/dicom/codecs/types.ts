/** What a frame decoder needs to know about the image, from the DICOM header. */
export interface FrameInfo {
  rows: number;
  columns: number;
  bitsAllocated: number;
  bitsStored: number;
  pixelRepresentation: number;
  samplesPerPixel: number;
}

/** Decoded samples of one frame, row by row, typed by BitsAllocated and PixelRepresentation. */
export type FramePixels = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array;

/** Thrown by a codec on a corrupt stream; the caller adds the file name. */
export class CodecError extends Error {
  override name = 'CodecError';
}

/** Reinterpret decoded little-endian bytes as the frame's sample type (copying, so WASM memory may be freed). */
export function samplesFromBytes(bytes: Uint8Array, info: FrameInfo, decodedBits = info.bitsAllocated): FramePixels {
  const n = info.rows * info.columns * info.samplesPerPixel;
  const bps = info.bitsAllocated <= 8 ? 1 : info.bitsAllocated <= 16 ? 2 : 4;
  if (decodedBits <= 8 && bps > 1) {
    // An 8-bit stream in a 16-bit container (e.g. JPEG Baseline of a BitsAllocated 16 image): widen.
    if (bytes.length < n) throw new CodecError(`decoded ${bytes.length} bytes, ${n} expected`);
    const wide = info.pixelRepresentation === 1 ? new Int16Array(n) : new Uint16Array(n);
    for (let i = 0; i < n; i++) wide[i] = info.pixelRepresentation === 1 ? (bytes[i]! << 24) >> 24 : bytes[i]!;
    return wide;
  }
  if (bytes.length < n * bps) throw new CodecError(`decoded ${bytes.length} bytes, ${n * bps} expected for ${info.columns}x${info.rows}x${info.samplesPerPixel} samples of ${bps * 8} bits`);
  const copy = bytes.slice(0, n * bps);
  const signed = info.pixelRepresentation === 1;
  if (bps === 1) return signed ? new Int8Array(copy.buffer) : copy;
  if (bps === 2) return signed ? new Int16Array(copy.buffer) : new Uint16Array(copy.buffer);
  return signed ? new Int32Array(copy.buffer) : new Uint32Array(copy.buffer);
}

/** Stored values narrower than their container: sign-extend from BitsStored (codecs return them zero-extended). */
export function signExtend(px: FramePixels, info: FrameInfo): FramePixels {
  const bits = info.bitsStored;
  if (info.pixelRepresentation !== 1 || bits >= info.bitsAllocated || bits <= 0) return px;
  const shift = 32 - bits;
  for (let i = 0; i < px.length; i++) px[i] = ((px[i]! << shift) >> shift);
  return px;
}
