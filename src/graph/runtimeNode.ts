import * as ort from 'onnxruntime-node';
import { detectU8s8Saturation } from './quantize/u8s8Saturation.js';
import { Runtime, type OrtModule, type RuntimeOptions } from './runtime.js';

/** A Runtime backed by onnxruntime-node (cpu, cuda); whether its int8 kernels saturate is read from the CPU. */
export function createNodeRuntime(options: RuntimeOptions = {}): Runtime {
  return new Runtime(ort as unknown as OrtModule, { u8s8Saturates: detectU8s8Saturation(), ...options }, 'cpu');
}
