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
export { adviseSlicingAxis, inPlaneSlicingAxis, ANISOTROPY_RATIO, type SlicingAxisAdvice, type SlicingAxisChoice } from './slicing-axis.js';
export { affineProblem, usableSpacing, MIN_VOXEL_MM, MAX_VOXEL_MM } from './geometry-rules.js';
