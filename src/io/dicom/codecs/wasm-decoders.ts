import { CodecError, samplesFromBytes, signExtend, type FrameInfo, type FramePixels } from './types.js';
import { wasmCodec, type WasmCodecName } from './wasm-node.js';

/** The decoder classes the cornerstone codecs export (embind objects over WASM memory). */
interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned?: boolean };
  delete(): void;
}

const CLASS: Record<WasmCodecName, string> = { charls: 'JpegLSDecoder', openjpeg: 'J2KDecoder', libjpegTurbo: 'JPEGDecoder' };

/** Decode one JPEG-LS, JPEG 2000 or 8-bit JPEG frame with its cornerstone codec. */
export function decodeWithWasm(codec: WasmCodecName, encoded: Uint8Array, info: FrameInfo): FramePixels {
  if (codec === 'libjpegTurbo') {
    const p = jpegPrecision(encoded);
    if (p !== 8) throw new CodecError(`${p}-bit lossy JPEG is not supported: the libjpeg-turbo codec decodes 8-bit JPEG only`);
  }
  const Decoder = wasmCodec(codec)[CLASS[codec]] as new () => WasmDecoder;
  const decoder = new Decoder();
  try {
    decoder.getEncodedBuffer(encoded.length).set(encoded);
    try {
      decoder.decode();
    } catch (e) {
      throw new CodecError(`the ${codec} decoder failed (${typeof e === 'number' ? 'corrupt or truncated stream' : String(e)})`);
    }
    const fi = decoder.getFrameInfo();
    if (fi.width !== info.columns || fi.height !== info.rows) {
      throw new CodecError(`the compressed frame is ${fi.width}x${fi.height} but the header says ${info.columns}x${info.rows}`);
    }
    const out = samplesFromBytes(decoder.getDecodedBuffer(), info, fi.bitsPerSample);
    return signExtend(out, info);
  } finally {
    decoder.delete();
  }
}

/** Sample precision from a JPEG stream's SOF marker (0 when none is found). */
export function jpegPrecision(jpeg: Uint8Array): number {
  let i = 2;
  while (i + 4 < jpeg.length) {
    if (jpeg[i] !== 0xff) return 0;
    const marker = jpeg[i + 1]!;
    if (marker === 0xff) { i++; continue; }
    const len = (jpeg[i + 2]! << 8) | jpeg[i + 3]!;
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC)
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return jpeg[i + 4] ?? 0;
    i += 2 + len;
  }
  return 0;
}
