// Official SegmentAnyBone pre- and post-processing (manifest preprocessing_recipe), as pure typed-array functions.
export * from './preprocess/index.js';
export * from './attention.js';
export * from './postprocess.js';
export * from './prompts.js';
export { segmentVolume, type SegmentVolumeOptions, type SegmentVolumeResult, type SliceOutputs, type VolumeGrid } from './segmentVolume.js';
export { loadModel, BoneSegmenter, type LoadModelOptions, type SegmentedVolume, type WeightsSource } from './segmenter.js';
export * from './precisionAgreement.js';
export { traceSlice, type TracedTensor, type TraceOptions } from './trace.js';
