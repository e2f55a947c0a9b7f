import { CodecError, samplesFromBytes, signExtend, type FrameInfo, type FramePixels } from './types.js';
import type { WasmCodecName } from './wasm-instantiate.js';
import { wasmCodec } from './wasm-node.js';

/** The decoder classes the cornerstone codecs export (embind objects over WASM memory). */
interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned?: boolean };
  delete(): void;
}

const CLASS: Record<WasmCodecName, string> = { charls: 'JpegLSDecoder', openjpeg: 'J2KDecoder' };

/** Decode one JPEG-LS or JPEG 2000 frame with its cornerstone codec. */
export function decodeWithWasm(codec: WasmCodecName, encoded: Uint8Array, info: FrameInfo): FramePixels {
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
