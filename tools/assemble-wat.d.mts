export function assembleWat(path: string): Promise<Buffer>;
export function wasmModuleSource(wat: string, bytes: Buffer): string;
