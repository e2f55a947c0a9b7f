import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { DcmjsCodecsPackage } from './dcmjs-codecs-api.js';

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

const DCMJS_CODECS_WASM = 'dcmjs-codecs/build/dcmjs-native-codecs.wasm';
let dcmjs: DcmjsCodecsPackage | undefined;

/**
 * dcmjs-codecs (dcmtk's IJG 8/12/16-bit JPEG, CharLS, OpenJPEG builds in one WASM) with its module instantiated
 * synchronously from the installed package. The package offers only `initializeAsync`; its decoders then read
 * `NativeCodecs.wasmApi` (the instance's exports as `wasm<Name>` plus its memory), which is what we set up here
 * with the same imports it gives the module, so the DICOM readers stay synchronous. Pinned at 0.0.8, and the
 * codec tests decode through it.
 */
export function dcmjsCodecs(): DcmjsCodecsPackage {
  if (dcmjs) return dcmjs;
  const pkg = require('dcmjs-codecs') as DcmjsCodecsPackage;
  if (!pkg.NativeCodecs.isInitialized()) {
    const wasm = new WebAssembly.Module(readFileSync(require.resolve(DCMJS_CODECS_WASM)));
    (pkg.NativeCodecs as unknown as { wasmApi: unknown }).wasmApi = instantiateNativeCodecs(wasm);
  }
  dcmjs = pkg;
  return pkg;
}

function instantiateNativeCodecs(wasm: WebAssembly.Module): Record<string, unknown> {
  let memory: WebAssembly.Memory | undefined;
  const view = (): DataView => new DataView(memory!.buffer);
  const text = (ptr: number, len: number): string => new TextDecoder().decode(new Uint8Array(memory!.buffer, ptr, len));
  const imports = {
    env: {
      // The codecs report a corrupt stream through this callback; the throw unwinds out of the decode call.
      onCodecsException: (ptr: number, len: number) => { throw new Error(text(ptr, len)); },
      onCodecsInfo: () => undefined,
      onCodecsTrace: () => undefined,
      emscripten_notify_memory_growth: () => undefined,
    },
    wasi_snapshot_preview1: {
      proc_exit: (code: number) => { throw new Error(`the codecs module exited with ${code}`); },
      clock_time_get: (_id: number, _precision: bigint, out: number) => { view().setBigUint64(out, BigInt(Date.now()) * 1_000_000n, true); return 0; },
      fd_write: (_fd: number, iovs: number, count: number, written: number) => {
        let n = 0;
        for (let i = 0; i < count; i++) n += view().getUint32(iovs + 8 * i + 4, true);
        view().setUint32(written, n, true);
        return 0;
      },
      fd_close: () => 0,
      fd_seek: () => 0,
      environ_sizes_get: (count: number, size: number) => { view().setUint32(count, 0, true); view().setUint32(size, 0, true); return 0; },
      environ_get: () => 0,
    },
  };
  const instance = new WebAssembly.Instance(wasm, imports);
  memory = instance.exports['memory'] as WebAssembly.Memory;
  const api: Record<string, unknown> = { wasmInstance: instance, wasmModule: wasm, wasmMemory: memory, wasmEnv: {} };
  for (const e of WebAssembly.Module.exports(wasm)) if (e.kind === 'function') api[`wasm${e.name}`] = instance.exports[e.name];
  return api;
}
