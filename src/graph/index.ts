export * from './builder.js';
export * from './runtime.js';
export { createNodeRuntime } from './runtimeNode.js';
export * from './quantize/index.js';
