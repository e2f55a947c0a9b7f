import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { DcmjsCodecsPackage } from './dcmjs-codecs-api.js';
import { installNativeCodecs, instantiateEmscripten, type EmscriptenFactory, type EmscriptenModule, type WasmCodecName } from './wasm-instantiate.js';

// Node's source of the codecs: the installed packages' files, compiled synchronously (the viewer's build replaces
// this module with web/src/dicomCodecs.ts, which fetches and compiles them before reading).
const require = createRequire(import.meta.url);

interface CodecPackage {
  js: string;
  wasm: string;
}

export const WASM_CODECS = {
  charls: { js: '@cornerstonejs/codec-charls/decodewasmjs', wasm: '@cornerstonejs/codec-charls/decodewasm' },
  openjpeg: { js: '@cornerstonejs/codec-openjpeg/decodewasmjs', wasm: '@cornerstonejs/codec-openjpeg/decodewasm' },
} satisfies Record<WasmCodecName, CodecPackage>;

const loaded = new Map<WasmCodecName, EmscriptenModule>();

/** A cornerstone codec's decoder module, compiled and instantiated synchronously from the installed package (no network). */
export function wasmCodec(name: WasmCodecName): EmscriptenModule {
  const hit = loaded.get(name);
  if (hit) return hit;
  const pkg = WASM_CODECS[name];
  const wasm = new WebAssembly.Module(readFileSync(require.resolve(pkg.wasm)));
  const mod = instantiateEmscripten(require(pkg.js) as EmscriptenFactory, wasm, pkg.js);
  loaded.set(name, mod);
  return mod;
}

const DCMJS_CODECS_WASM = 'dcmjs-codecs/build/dcmjs-native-codecs.wasm';
let dcmjs: DcmjsCodecsPackage | undefined;

/** dcmjs-codecs (IJG 8/12/16-bit JPEG, RLE, ... in one WASM), instantiated synchronously from the installed package. */
export function dcmjsCodecs(): DcmjsCodecsPackage {
  dcmjs ??= installNativeCodecs(require('dcmjs-codecs') as DcmjsCodecsPackage, new WebAssembly.Module(readFileSync(require.resolve(DCMJS_CODECS_WASM))));
  return dcmjs;
}
