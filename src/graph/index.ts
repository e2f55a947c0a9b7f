export * from './builder.js';
export * from './runtime.js';
export { createNodeRuntime } from './runtimeNode.js';
export * from './quantize/index.js';
export { NCHWC_DOMAIN, lowerConv3dToNchwc, hasLowerableConv3d, CONV3D_NCHWC_MIN_VOXELS, type Conv3dLowering } from './lower/conv3dNchwc.js';
export { probeNchwcBlock } from './lower/nchwcProbe.js';
