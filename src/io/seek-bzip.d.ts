/** The part of seek-bzip 2.0.0 (CommonJS, no bundled types) that src/io/bzip2.ts uses. */
declare module 'seek-bzip' {
  interface ByteOutput {
    writeByte(byte: number): void;
  }
  interface ByteInput {
    readByte(): number;
    read(buf: Uint8Array, off: number, len: number): number;
    seek(pos: number): void;
    eof(): boolean;
  }
  const Bunzip: {
    decode(input: Uint8Array | ByteInput, output: ByteOutput, multistream?: boolean): void;
  };
  export default Bunzip;
}
