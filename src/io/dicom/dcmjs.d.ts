// Minimal typing for the parts of dcmjs 0.51.1 we use (the package ships no declarations).
declare module 'dcmjs' {
  type Dataset = Record<string, unknown>;
  interface DicomDictInstance {
    dict: Dataset;
    meta: Dataset;
    write(options?: Record<string, unknown>): ArrayBuffer;
  }
  const dcmjs: {
    data: {
      DicomDict: new (meta: Dataset) => DicomDictInstance;
      DicomMessage: { readFile(buffer: ArrayBuffer, options?: Record<string, unknown>): DicomDictInstance };
      DicomMetaDictionary: {
        naturalizeDataset(ds: Dataset): Dataset;
        denaturalizeDataset(ds: Dataset): Dataset;
        uid(): string;
      };
    };
    log: { setLevel?(level: string | number): void; level?: unknown; disableAll?(): void };
  };
  export default dcmjs;
}
