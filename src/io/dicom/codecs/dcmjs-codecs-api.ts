// The part of dcmjs-codecs' NativeCodecs that sab uses (the package's own index.d.ts declares ESM exports of a
// CommonJS bundle, which NodeNext cannot import by name).
export interface DcmjsCodecContext {
  getDecodedBuffer(): Uint8Array | undefined;
}
export interface DcmjsContextConstructor {
  new (attrs: {
    width: number; height: number; bitsAllocated: number; bitsStored: number; samplesPerPixel: number;
    pixelRepresentation: number; planarConfiguration: number; photometricInterpretation: string; encodedBuffer: Uint8Array;
  }): DcmjsCodecContext;
}
export interface DcmjsNativeCodecs {
  initializeAsync(opts?: { webAssemblyModulePathOrUrl?: string }): Promise<void>;
  isInitialized(): boolean;
  decodeRle(c: DcmjsCodecContext): DcmjsCodecContext;
  decodeJpeg(c: DcmjsCodecContext, p?: { convertColorspaceToRgb?: boolean }): DcmjsCodecContext;
  decodeJpegLs(c: DcmjsCodecContext): DcmjsCodecContext;
  decodeJpeg2000(c: DcmjsCodecContext): DcmjsCodecContext;
}
export interface DcmjsCodecsPackage {
  NativeCodecs: DcmjsNativeCodecs;
  Context: DcmjsContextConstructor;
}
