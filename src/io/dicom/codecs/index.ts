import { describeTransferSyntax, transferSyntax } from '../transfer-syntax.js';
import { decodeWithDcmjsCodecs } from './dcmjs-native.js';
import { CodecError, type FrameInfo, type FramePixels } from './types.js';
import { decodeWithWasm } from './wasm-decoders.js';

export { CodecError, type FrameInfo, type FramePixels } from './types.js';

/**
 * Decode one compressed frame of the given transfer syntax (an encapsulated syntax; native ones are not frames here).
 * Each syntax goes to the decoder measured best for it (`npm run bench dicom`, DESIGN.md): every JPEG process
 * (8/12-bit lossy, lossless) and RLE to dcmjs-codecs, JPEG-LS and JPEG 2000 to the cornerstone builds.
 */
export function decodeCompressedFrame(syntaxUid: string, encoded: Uint8Array, info: FrameInfo): FramePixels {
  const ts = transferSyntax(syntaxUid);
  switch (ts?.encoding) {
    case 'jpeg':
    case 'jpeg-lossless': return decodeWithDcmjsCodecs('jpeg', encoded, info);
    case 'jpeg-ls': return decodeWithWasm('charls', encoded, info);
    case 'jpeg2000': return decodeWithWasm('openjpeg', encoded, info);
    case 'rle': return decodeWithDcmjsCodecs('rle', encoded, info);
    default: throw new CodecError(`unsupported transfer syntax ${describeTransferSyntax(syntaxUid)}`);
  }
}
