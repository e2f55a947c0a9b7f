import * as ort from 'onnxruntime-node';
import { fullGarbageCollection } from './fullGc.js';
import { detectU8s8Saturation } from './quantize/u8s8Saturation.js';
import { Runtime, type OrtModule, type RuntimeOptions } from './runtime.js';

/**
 * A Runtime backed by onnxruntime-node (cpu, cuda); whether its int8 kernels saturate is read from the CPU, and
 * garbage is collected with V8's full collection.
 */
export function createNodeRuntime(options: RuntimeOptions = {}): Runtime {
  return new Runtime(
    ort as unknown as OrtModule,
    { u8s8Saturates: detectU8s8Saturation(), collectGarbage: fullGarbageCollection, ...options },
    'cpu',
  );
}
