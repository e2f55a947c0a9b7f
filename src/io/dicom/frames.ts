import dicomParser from 'dicom-parser';
import { CodecError, decodeCompressedFrame, type FrameInfo, type FramePixels } from './codecs/index.js';
import type { DicomSlice } from './parse.js';
import { describeTransferSyntax, transferSyntax } from './transfer-syntax.js';

/** Thrown for a frame that cannot be read; the series reader turns it into one error naming the file. */
export class FrameError extends Error {
  override name = 'FrameError';
}

export const frameInfo = (s: DicomSlice): FrameInfo => ({
  rows: s.rows, columns: s.columns, bitsAllocated: s.bitsAllocated, bitsStored: s.bitsStored,
  pixelRepresentation: s.pixelRepresentation, samplesPerPixel: s.samplesPerPixel,
});

/** Is this transfer syntax one we can read pixels of? (else the message to show) */
export function unsupportedSyntax(s: DicomSlice): string | undefined {
  const ts = transferSyntax(s.transferSyntax);
  if (!ts) return `uses ${describeTransferSyntax(s.transferSyntax)}, which sab cannot decode`;
  if (ts.encoding !== 'native' && !s.pixels?.encapsulated) return `declares ${describeTransferSyntax(s.transferSyntax)} but its pixel data is not encapsulated`;
  if (ts.encoding === 'native' && s.pixels?.encapsulated) return `has encapsulated pixel data under the uncompressed ${describeTransferSyntax(s.transferSyntax)}`;
  return undefined;
}

/** The compressed bytes of frame `index` (0-based) of an encapsulated Pixel Data element. */
export function encodedFrame(s: DicomSlice, index: number): Uint8Array {
  const pe = s.dataSet.elements['x7fe00010']!;
  const fragments = pe.fragments ?? [];
  if (fragments.length === 0) throw new FrameError('encapsulated pixel data has no fragments');
  const ds = s.dataSet;
  if (s.numberOfFrames === 1) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, pe, 0, fragments.length) as Uint8Array;
  if ((pe.basicOffsetTable?.length ?? 0) === s.numberOfFrames) return dicomParser.readEncapsulatedImageFrame(ds, pe, index) as Uint8Array;
  if (fragments.length === s.numberOfFrames) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, pe, index, 1) as Uint8Array;
  const enc = transferSyntax(s.transferSyntax)?.encoding;
  if (enc === 'jpeg' || enc === 'jpeg-lossless') {
    // No offset table and several fragments per frame: JPEG frames can be found by their SOI markers.
    const table = dicomParser.createJPEGBasicOffsetTable(ds, pe);
    return dicomParser.readEncapsulatedImageFrame(ds, pe, index, table) as Uint8Array;
  }
  throw new FrameError(`${s.numberOfFrames} frames in ${fragments.length} fragments without a Basic Offset Table: frame boundaries are unknown`);
}

/** Uncompressed samples of frame `index` at their byte offset, in the file's byte order. */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function nativeFrame(s: DicomSlice, index: number): FramePixels {
  const info = frameInfo(s);
  const bytesPer = info.bitsAllocated / 8;
  const n = info.rows * info.columns * info.samplesPerPixel;
  const px = s.pixels!;
  const start = px.offset + index * n * bytesPer;
  const available = Math.min(px.offset + px.length, s.bytes.length) - start;
  if (available < n * bytesPer) throw new FrameError(`pixel data is truncated (${Math.max(0, available)} bytes for frame ${index + 1}, ${n * bytesPer} needed)`);
  const signed = info.pixelRepresentation === 1;
  const le = !transferSyntax(s.transferSyntax)?.bigEndian;
  if (le && HOST_LITTLE_ENDIAN && bytesPer > 1) {
    // Little endian on a little-endian machine: one copy (slice also realigns odd offsets), no per-sample reads.
    // Uint8Array's slice copies (a Buffer's would be a view of the whole file's memory).
    const copy = Uint8Array.prototype.slice.call(s.bytes, start, start + n * bytesPer).buffer;
    return bytesPer === 2 ? (signed ? new Int16Array(copy) : new Uint16Array(copy)) : signed ? new Int32Array(copy) : new Uint32Array(copy);
  }
  const view = new DataView(s.bytes.buffer, s.bytes.byteOffset + start, n * bytesPer);
  if (bytesPer === 1) return signed ? new Int8Array(view.buffer, view.byteOffset, n).slice() : new Uint8Array(view.buffer, view.byteOffset, n).slice();
  const out = bytesPer === 2 ? (signed ? new Int16Array(n) : new Uint16Array(n)) : signed ? new Int32Array(n) : new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = bytesPer === 2 ? (signed ? view.getInt16(2 * i, le) : view.getUint16(2 * i, le)) : signed ? view.getInt32(4 * i, le) : view.getUint32(4 * i, le);
  }
  return out;
}

/** The stored samples of one slice (a single-frame image, or one frame of a multi-frame object), decoded. */
export function framePixels(s: DicomSlice): FramePixels {
  const why = unsupportedSyntax(s);
  if (why) throw new FrameError(why);
  const index = s.frameIndex ?? 0;
  if (transferSyntax(s.transferSyntax)!.encoding === 'native') return nativeFrame(s, index);
  const encoded = encodedFrame(s, index);
  try {
    return decodeCompressedFrame(s.transferSyntax, encoded, frameInfo(s));
  } catch (e) {
    if (e instanceof CodecError) throw new FrameError(`${describeTransferSyntax(s.transferSyntax)}${s.numberOfFrames > 1 ? `, frame ${index + 1}` : ''}: ${e.message}`);
    throw e;
  }
}
