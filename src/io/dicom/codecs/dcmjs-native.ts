import { CodecError, samplesFromBytes, signExtend, type FrameInfo, type FramePixels } from './types.js';
import { dcmjsCodecs } from './wasm-node.js';

/** The dcmjs-codecs decoder for each stream kind sab sends it. */
export type DcmjsStream = 'jpeg' | 'jpeg-ls' | 'jpeg2000' | 'rle';

/** Decode one frame with dcmjs-codecs (IJG JPEG of any precision: 8/12-bit lossy, lossless up to 16 bits). */
export function decodeWithDcmjsCodecs(stream: DcmjsStream, encoded: Uint8Array, info: FrameInfo): FramePixels {
  const { NativeCodecs, Context } = dcmjsCodecs();
  const ctx = new Context({
    width: info.columns, height: info.rows, bitsAllocated: info.bitsAllocated, bitsStored: info.bitsStored,
    samplesPerPixel: info.samplesPerPixel, pixelRepresentation: info.pixelRepresentation, planarConfiguration: 0,
    photometricInterpretation: info.samplesPerPixel === 1 ? 'MONOCHROME2' : 'RGB', encodedBuffer: encoded,
  });
  let decoded: Uint8Array | undefined;
  try {
    const out = stream === 'jpeg' ? NativeCodecs.decodeJpeg(ctx, { convertColorspaceToRgb: false })
      : stream === 'jpeg-ls' ? NativeCodecs.decodeJpegLs(ctx)
        : stream === 'jpeg2000' ? NativeCodecs.decodeJpeg2000(ctx) : NativeCodecs.decodeRle(ctx);
    decoded = out.getDecodedBuffer();
  } catch (e) {
    throw new CodecError(`the dcmjs-codecs ${stream} decoder failed (${e instanceof Error ? e.message : 'corrupt or truncated stream'})`);
  }
  if (!decoded) throw new CodecError(`the dcmjs-codecs ${stream} decoder returned no pixels`);
  return signExtend(samplesFromBytes(decoded, info), info);
}
