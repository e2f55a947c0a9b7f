import * as ort from 'onnxruntime-web';
import { Runtime, type ExecutionProvider, type OrtModule, type RuntimeOptions } from './runtime.js';

/** Browser only: never imported by the Node entry points (onnxruntime-web is a build-time dependency of web/). */

export interface WebRuntimeOptions extends Omit<RuntimeOptions, 'device'> {
  /** 'auto' (default): WebGPU when the browser offers an adapter, else WASM. */
  device?: 'auto' | 'wasm' | 'webgpu';
  /**
   * URL prefix the ONNX Runtime .wasm/.mjs files are served from (the app serves its own copies, so
   * nothing is fetched from a CDN).
   */
  wasmPaths: string;
}

interface GpuNavigator {
  gpu?: { requestAdapter(): Promise<unknown> };
  hardwareConcurrency?: number;
}

/** WebGPU is only worth asking for when an adapter exists (headless or GPU-less browsers have none). */
async function webgpuAvailable(): Promise<boolean> {
  const nav = (globalThis as { navigator?: GpuNavigator }).navigator;
  if (!nav?.gpu) return false;
  try {
    return (await nav.gpu.requestAdapter()) != null;
  } catch {
    return false;
  }
}

/**
 * A Runtime backed by onnxruntime-web. WASM uses one thread per core when the page is
 * cross-origin isolated (COOP/COEP, as `sab serve` sends), else one thread; WebGPU falls back to
 * WASM per session with a notice (Runtime.session).
 */
export async function createWebRuntime(options: WebRuntimeOptions): Promise<Runtime> {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  const cores = (globalThis as { navigator?: GpuNavigator }).navigator?.hardwareConcurrency ?? 1;
  ort.env.wasm.wasmPaths = options.wasmPaths;
  ort.env.wasm.numThreads = isolated ? Math.max(1, Math.min(options.threads || cores, 16)) : 1;
  // Already inside a worker: no extra proxy worker.
  ort.env.wasm.proxy = false;
  let device: ExecutionProvider = 'wasm';
  if (options.device === 'webgpu' || (options.device !== 'wasm' && (await webgpuAvailable()))) device = 'webgpu';
  const { device: _d, wasmPaths: _w, threads: _t, ...rest } = options;
  return new Runtime(ort as unknown as OrtModule, { ...rest, device }, 'wasm');
}

/** The number of WASM threads ONNX Runtime will use (after createWebRuntime). */
export function webRuntimeThreads(): number {
  return Number(ort.env.wasm.numThreads ?? 1);
}
