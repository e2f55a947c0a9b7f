// Official SegmentAnyBone pre- and post-processing (manifest preprocessing_recipe), as pure typed-array functions.
export { PreprocessError, roundHalfEven, type VoxelGrid } from './preprocessTypes.js';
export * from './preprocessPercentile.js';
export * from './preprocessVolume.js';
export * from './preprocessResize.js';
export * from './preprocessEncoder.js';
export * from './preprocessVnet.js';
export * from './preprocessTargets.js';
export * from './preprocessFloat32Math.js';
export * from './attention.js';
export * from './postprocess.js';
export * from './prompts.js';
export { segmentVolume, type SegmentVolumeOptions, type SegmentVolumeResult, type VolumeGrid } from './segmentVolume.js';
export { loadModel, BoneSegmenter, type LoadModelOptions, type SegmentedVolume, type WeightsSource } from './segmenter.js';
export { traceSlice, type TracedTensor, type TraceOptions } from './trace.js';
