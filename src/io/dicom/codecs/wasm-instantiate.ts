import type { DcmjsCodecsPackage } from './dcmjs-codecs-api.js';

// Instantiating the codecs' WASM from an already compiled WebAssembly.Module, synchronously, the same in Node
// (compiled from the installed file: wasm-node.ts) and in the browser (compiled asynchronously from the served
// file first: web/src/dicomCodecs.ts), so the DICOM readers themselves stay synchronous everywhere.

/** The cornerstone codecs sab uses (JPEG-LS, JPEG 2000). */
export type WasmCodecName = 'charls' | 'openjpeg';

/** The emscripten module of a cornerstone codec package, once its WASM is instantiated. */
export type EmscriptenModule = Record<string, unknown>;
/** A cornerstone codec package's emscripten factory (its `decodewasmjs` export). */
export type EmscriptenFactory = (arg: EmscriptenModule) => unknown;

/** Run an emscripten factory on a compiled module through its `instantiateWasm` hook (no fetch, no await). */
export function instantiateEmscripten(factory: EmscriptenFactory, wasm: WebAssembly.Module, label: string): EmscriptenModule {
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
  if (!mod['calledRun']) throw new Error(`${label}: the WASM module did not initialise synchronously`);
  return mod;
}

/**
 * Make dcmjs-codecs usable from a compiled module of its `dcmjs-native-codecs.wasm`. The package offers only
 * `initializeAsync`; its decoders then read `NativeCodecs.wasmApi` (the instance's exports as `wasm<Name>` plus
 * its memory), which is what we set up here with the same imports it gives the module. Pinned at 0.0.8, and the
 * codec tests decode through it.
 */
export function installNativeCodecs(pkg: DcmjsCodecsPackage, wasm: WebAssembly.Module): DcmjsCodecsPackage {
  if (!pkg.NativeCodecs.isInitialized()) (pkg.NativeCodecs as unknown as { wasmApi: unknown }).wasmApi = instantiateNativeCodecs(wasm);
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
