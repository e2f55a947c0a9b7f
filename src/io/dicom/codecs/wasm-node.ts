import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The emscripten module of a cornerstone codec package, once its WASM is instantiated. */
export type EmscriptenModule = Record<string, unknown>;

interface CodecPackage {
  js: string;
  wasm: string;
}

export const WASM_CODECS = {
  charls: { js: '@cornerstonejs/codec-charls/decodewasmjs', wasm: '@cornerstonejs/codec-charls/decodewasm' },
  openjpeg: { js: '@cornerstonejs/codec-openjpeg/decodewasmjs', wasm: '@cornerstonejs/codec-openjpeg/decodewasm' },
  libjpegTurbo: { js: '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs', wasm: '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasm' },
} satisfies Record<string, CodecPackage>;
export type WasmCodecName = keyof typeof WASM_CODECS;

const loaded = new Map<WasmCodecName, EmscriptenModule>();

/**
 * Load a codec's decoder module synchronously from the installed package (no network). Emscripten's
 * `instantiateWasm` hook lets us compile the .wasm with the synchronous WebAssembly API, so the module is
 * usable when the factory returns and the DICOM readers can stay synchronous in Node.
 */
export function wasmCodec(name: WasmCodecName): EmscriptenModule {
  const hit = loaded.get(name);
  if (hit) return hit;
  const pkg = WASM_CODECS[name];
  const factory = require(pkg.js) as (arg: EmscriptenModule) => unknown;
  const wasm = new WebAssembly.Module(readFileSync(require.resolve(pkg.wasm)));
  const mod: EmscriptenModule = {
    instantiateWasm(imports: WebAssembly.Imports, receive: (i: WebAssembly.Instance, m: WebAssembly.Module) => void) {
      const instance = new WebAssembly.Instance(wasm, imports);
      receive(instance, wasm);
      return instance.exports;
    },
    print: () => undefined,
    printErr: () => undefined,
  };
  void factory(mod);
  if (!mod['calledRun']) throw new Error(`${pkg.js}: the WASM module did not initialise synchronously`);
  loaded.set(name, mod);
  return mod;
}
