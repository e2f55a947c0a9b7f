import { CodecError, samplesFromBytes, signExtend, type FrameInfo, type FramePixels } from './types.js';

/**
 * DICOM RLE Lossless (PS3.5 Annex G): a 64-byte header with up to 15 segment offsets, then one PackBits-coded
 * segment per byte plane (most significant byte first) and sample. Hand-written: no maintained npm package
 * decodes DICOM RLE on its own (cornerstone's lives inside its image loader), and it is ~40 lines.
 */
export function decodeRle(encoded: Uint8Array, info: FrameInfo): FramePixels {
  const pixels = info.rows * info.columns;
  const bytesPerSample = info.bitsAllocated <= 8 ? 1 : info.bitsAllocated <= 16 ? 2 : 4;
  const spp = info.samplesPerPixel;
  if (encoded.length < 64) throw new CodecError(`RLE frame of ${encoded.length} bytes has no 64-byte header`);
  const view = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  const nSeg = view.getUint32(0, true);
  if (nSeg !== bytesPerSample * spp) throw new CodecError(`RLE header lists ${nSeg} segments, ${bytesPerSample * spp} expected`);
  const out = new Uint8Array(pixels * bytesPerSample * spp);
  for (let s = 0; s < nSeg; s++) {
    const start = view.getUint32(4 + 4 * s, true);
    const end = s + 1 < nSeg ? view.getUint32(8 + 4 * s, true) : encoded.length;
    if (start < 64 || end > encoded.length || end < start) throw new CodecError(`RLE segment ${s + 1} has offsets ${start}..${end} outside the ${encoded.length}-byte frame`);
    const sample = Math.floor(s / bytesPerSample);
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample); // segments go most significant byte first
    // Samples are interleaved per pixel (PlanarConfiguration 0) and little endian in `out`.
    const stride = bytesPerSample * spp;
    let o = sample * bytesPerSample + byteInSample;
    let written = 0;
    let i = start;
    while (i < end && written < pixels) {
      const n = (encoded[i++]! << 24) >> 24;
      if (n >= 0) {
        const count = n + 1;
        if (i + count > end) throw new CodecError(`RLE segment ${s + 1} is truncated`);
        for (let c = 0; c < count && written < pixels; c++, written++, o += stride) out[o] = encoded[i + c]!;
        i += count;
      } else if (n !== -128) {
        const count = 1 - n;
        const v = encoded[i++]!;
        for (let c = 0; c < count && written < pixels; c++, written++, o += stride) out[o] = v;
      }
    }
    if (written < pixels) throw new CodecError(`RLE segment ${s + 1} decodes to ${written} of ${pixels} pixels (truncated)`);
  }
  return signExtend(samplesFromBytes(out, info), info);
}
