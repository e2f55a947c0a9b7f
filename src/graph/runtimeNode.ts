import * as ort from 'onnxruntime-node';
import { fullGarbageCollection } from './fullGc.js';
import { detectU8s8Saturation } from './quantize/u8s8Saturation.js';
import { Runtime, type OrtModule, type RuntimeOptions } from './runtime.js';

/**
 * A Runtime backed by onnxruntime-node (cpu, cuda); whether its int8 kernels saturate is read from the CPU, and
 * garbage is collected with V8's full collection. ONNX Runtime's memory pattern is off unless asked for: with it,
 * each session's first run reserves one block for its whole planned pattern, and `sab segment`'s peak was
 * 745-755 MiB against 657-658 MiB without it, within ~2% of the speed and with bit-identical outputs (DESIGN.md, issue 15,
 * round twelve). Training sets both arena and pattern itself.
 */
export function createNodeRuntime(options: RuntimeOptions = {}): Runtime {
  return new Runtime(
    ort as unknown as OrtModule,
    { u8s8Saturates: detectU8s8Saturation(), collectGarbage: fullGarbageCollection, memPattern: false, ...options },
    'cpu',
  );
}
