export * from './builder.js';
export * from './runtime.js';
export { createNodeRuntime } from './runtimeNode.js';
export * from './quantize/index.js';
export { NCHWC_DOMAIN, lowerConvsToNchwc, hasLowerableConv, CONV3D_NCHWC_MIN_VOXELS, CONV2D_NCHWC_MIN_PIXELS, type ConvLowering } from './lower/convNchwc.js';
export { probeNchwcBlock } from './lower/nchwcProbe.js';
