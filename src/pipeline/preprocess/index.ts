// Official SegmentAnyBone preprocessing (manifest preprocessing_recipe), as pure typed-array functions: the one entry point.
export { PreprocessError, roundHalfEven, type VoxelGrid } from './types.js';
export * from './percentile.js';
export * from './volume.js';
export * from './resize.js';
export * from './encoder.js';
export { EncoderInputKernel } from './encoderKernel.js';
export * from './vnet.js';
export * from './targets.js';
export * from './float32Math.js';
