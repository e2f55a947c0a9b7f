// The cornerstone codec packages ship no typings: their emscripten factories, as web/src/dicomCodecs.ts uses them.
declare module '@cornerstonejs/codec-charls/decodewasmjs' {
  const factory: (module: Record<string, unknown>) => unknown;
  export default factory;
}
declare module '@cornerstonejs/codec-openjpeg/decodewasmjs' {
  const factory: (module: Record<string, unknown>) => unknown;
  export default factory;
}
