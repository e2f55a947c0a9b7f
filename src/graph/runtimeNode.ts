import * as ort from 'onnxruntime-node';
import { Runtime, type OrtModule, type RuntimeOptions } from './runtime.js';

/** A Runtime backed by onnxruntime-node (cpu, cuda). */
export function createNodeRuntime(options: RuntimeOptions = {}): Runtime {
  return new Runtime(ort as unknown as OrtModule, options, 'cpu');
}
