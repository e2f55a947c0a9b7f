import { describeTransferSyntax, transferSyntax } from '../transfer-syntax.js';
import { decodeJpegLossless } from './jpeg-lossless.js';
import { decodeRle } from './rle.js';
import { CodecError, type FrameInfo, type FramePixels } from './types.js';
import { decodeWithWasm } from './wasm-decoders.js';

export { CodecError, type FrameInfo, type FramePixels } from './types.js';

/** Decode one compressed frame of the given transfer syntax (an encapsulated syntax; native ones are not frames here). */
export function decodeCompressedFrame(syntaxUid: string, encoded: Uint8Array, info: FrameInfo): FramePixels {
  const ts = transferSyntax(syntaxUid);
  switch (ts?.encoding) {
    case 'jpeg': return decodeWithWasm('libjpegTurbo', encoded, info);
    case 'jpeg-lossless': return decodeJpegLossless(encoded, info);
    case 'jpeg-ls': return decodeWithWasm('charls', encoded, info);
    case 'jpeg2000': return decodeWithWasm('openjpeg', encoded, info);
    case 'rle': return decodeRle(encoded, info);
    default: throw new CodecError(`unsupported transfer syntax ${describeTransferSyntax(syntaxUid)}`);
  }
}
