import { copyFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig, type Plugin } from 'vite';

// The viewer is a static app: `npm run build` writes web/dist, `sab serve` serves it with COOP/COEP.
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const ORT_DIST = here('../node_modules/onnxruntime-web/dist/');
// ONNX Runtime's WASM (with WebGPU/JSEP) runtime and its loader, served from our own origin (./ort/).
const ORT_FILES = ['ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm'];
const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

function ortRuntimeFiles(): Plugin {
  return {
    name: 'sab-ort-runtime-files',
    apply: 'build',
    writeBundle(options) {
      const dir = `${options.dir ?? here('dist')}/ort`;
      mkdirSync(dir, { recursive: true });
      for (const f of ORT_FILES) copyFileSync(ORT_DIST + f, `${dir}/${f}`);
    },
  };
}

const shim = (name: string) => here(`src/shims/${name}.ts`);

export default defineConfig({
  root: here('.'),
  base: './',
  logLevel: 'warn',
  resolve: {
    // The external-wasm build of onnxruntime-web loads its .mjs/.wasm from env.wasm.wasmPaths
    // (our ./ort/ copies) instead of inlining a loader that would spawn threads from our bundle.
    conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions],
    alias: [
      { find: /^node:fs$/, replacement: shim('node-fs') },
      { find: /^node:path$/, replacement: shim('node-path') },
      { find: /^node:zlib$/, replacement: shim('node-zlib') },
      // The codecs' emscripten glue requires these in its Node branch only.
      { find: /^fs$/, replacement: shim('node-fs') },
      { find: /^path$/, replacement: shim('node-path') },
      // The DICOM codecs' Node loader (reads the installed .wasm files) -> the browser's (fetches vite's copies).
      { find: /^\.\/wasm-node\.js$/, replacement: here('src/dicomCodecs.ts') },
    ],
  },
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: {
    outDir: here('dist'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    reportCompressedSize: false,
    sourcemap: false,
    rollupOptions: {
      onwarn(warning, warn) {
        // dcmjs-codecs reaches fetch/require through eval in branches the viewer does not take (we hand it the WASM).
        if (warning.code === 'EVAL' && warning.id?.includes('dcmjs-codecs')) return;
        warn(warning);
      },
    },
  },
  server: { headers: ISOLATION_HEADERS },
  preview: { headers: ISOLATION_HEADERS },
  plugins: [ortRuntimeFiles()],
});
