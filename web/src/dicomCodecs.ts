// The DICOM codecs in the browser: the viewer's build puts this module in place of src/io/dicom/codecs/wasm-node.ts
// (vite alias), so the shared DICOM reader decodes with the same packages as in Node. Their .wasm files are
// emitted by vite next to the bundle and fetched from our own origin; `loadDicomCodecs()` compiles them
// (asynchronously, as browsers require for large modules) before any DICOM is read, and the reader's synchronous
// calls then find them instantiated here. The codecs' JS is a separate chunk, loaded with the first DICOM only.
import charlsWasm from '@cornerstonejs/codec-charls/decodewasm?url';
import openjpegWasm from '@cornerstonejs/codec-openjpeg/decodewasm?url';
import dcmjsWasm from 'dcmjs-codecs/build/dcmjs-native-codecs.wasm?url';
import type { DcmjsCodecsPackage } from '../../src/io/dicom/codecs/dcmjs-codecs-api.js';
import {
  installNativeCodecs,
  instantiateEmscripten,
  type EmscriptenFactory,
  type EmscriptenModule,
  type WasmCodecName,
} from '../../src/io/dicom/codecs/wasm-instantiate.js';

const loaded = new Map<WasmCodecName, EmscriptenModule>();
let dcmjs: DcmjsCodecsPackage | undefined;
let loading: Promise<void> | undefined;

async function compile(url: string): Promise<WebAssembly.Module> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${res.statusText} (the viewer's DICOM codecs are missing from the build)`);
  return WebAssembly.compile(await res.arrayBuffer());
}

/** Fetch and instantiate every DICOM codec once (idempotent); call before reading DICOM. */
export function loadDicomCodecs(): Promise<void> {
  loading ??= (async () => {
    const [charls, openjpeg, native, charlsJs, openjpegJs, dcmjsJs] = await Promise.all([
      compile(charlsWasm), compile(openjpegWasm), compile(dcmjsWasm),
      import('@cornerstonejs/codec-charls/decodewasmjs'), import('@cornerstonejs/codec-openjpeg/decodewasmjs'), import('dcmjs-codecs'),
    ]);
    loaded.set('charls', instantiateEmscripten(charlsJs.default as EmscriptenFactory, charls, 'codec-charls'));
    loaded.set('openjpeg', instantiateEmscripten(openjpegJs.default as EmscriptenFactory, openjpeg, 'codec-openjpeg'));
    // A CommonJS bundle: its exports are the module's default export once vite has wrapped it.
    const pkg = ((dcmjsJs as { default?: unknown }).default ?? dcmjsJs) as DcmjsCodecsPackage;
    dcmjs = installNativeCodecs(pkg, native);
  })();
  loading.catch(() => (loading = undefined)); // a failed load may be retried
  return loading;
}

const notLoaded = (): never => {
  throw new Error('the DICOM codecs are not loaded yet (loadDicomCodecs)');
};

/** Same contract as the Node module it replaces. */
export function wasmCodec(name: WasmCodecName): EmscriptenModule {
  return loaded.get(name) ?? notLoaded();
}

export function dcmjsCodecs(): DcmjsCodecsPackage {
  return dcmjs ?? notLoaded();
}
