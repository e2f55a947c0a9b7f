export * from './types.js';
export * from './dtype.js';
export * from './affine.js';
export {
  VolumeError,
  createVolume,
  createMaskLike,
  voxelCount,
  voxelStats,
  firstNonFinite,
  summarizeVolume,
  type VoxelStats,
  type VolumeSummary,
} from './volume.js';
export {
  resampleLabels,
  resampleLinear,
  targetToSourceVoxelMap,
  gridOverlapFraction,
  worldBounds,
  downsampleByBlocks,
  type WorldGrid,
  type LabelResampleMode,
  type LabelResampleOptions,
  type ResampleOptions,
} from './resample.js';
