// Evaluation and measurement: overlap and surface-distance metrics, bootstrap tables, bone statistics,
// mask post-processing, surface meshes and preview montages. Everything works on typed arrays.
//
// Conventions (details next to each function):
// - masks: Uint8Array, dims [X, Y, Z] with x fastest, spacing [sx, sy, sz] mm; non-zero = foreground.
// - surface = foreground voxels with a 6-neighbour that is background or outside the grid (length-1 axes ignored).
// - distances: exact Euclidean distance transform (Felzenszwalb–Huttenlocher, per-axis spacing) between surface
//   voxel centres. hd = max; hd95 = 95th percentile (numpy linear) of the POOLED symmetric distances (medpy's
//   hd95, not MONAI's max of directed percentiles); assd = mean of the two directed means (medpy).
// - empty masks: both empty -> DSC = IoU = 1, distances 0; one empty -> DSC = IoU = 0, distances Infinity
//   (null in CLI JSON).
// - per-slice: 2-D metrics on each slice along the third axis; means over slices with foreground in either mask.
// - bootstrap: percentile method, cases resampled with replacement, mulberry32 PRNG from a uint32 seed,
//   10,000 resamples by default.
export { MetricsInputError } from './errors.js';
export type { BinaryMask } from './mask.js';
export { assertValidMask, assertSameDims, countForeground, labelToMask, sliceMask } from './mask.js';
export type { ConfusionCounts, OverlapScores, VolumeComparison } from './overlap.js';
export { confusionCounts, overlapScores, volumeComparison, dice } from './overlap.js';
export { squaredDistanceTransform, distancesAtQueries } from './edt.js';
export { surfaceIndices } from './surface.js';
export type { SurfaceDistances, SurfaceDistanceSummary } from './surface-distance.js';
export { surfaceDistances, summarizeSurfaceDistances, surfaceDistanceMetrics } from './surface-distance.js';
export { percentile, percentileSorted, mean } from './percentile.js';
export type { SegmentationMetrics, SliceMetrics, PerSliceResult, EvaluateOptions } from './evaluate.js';
export { evaluateSegmentation, evaluatePerSlice } from './evaluate.js';
export { mulberry32, normalSampler } from './prng.js';
export type { BootstrapOptions, BootstrapInterval } from './bootstrap.js';
export { bootstrapMeanCI, DEFAULT_RESAMPLES } from './bootstrap.js';
export type { LocationScore, LocationRow } from './summary-table.js';
export { locationTable, locationTableCsv, locationTableMarkdown, OVERALL_LABEL } from './summary-table.js';
export type { ManifestCase } from './csv.js';
export { parseCsv, parseManifest, csvLine, csvField, formatNumber } from './csv.js';
export type { ComponentLabels } from './components.js';
export { connectedComponents26 } from './components.js';
export { removeSmallComponents, keepLargestComponents, fillHolesPerSlice } from './postprocess.js';
export type { BoneStats, ComponentStats, IntensityStats } from './bone-stats.js';
export { boneStats, intensityInside } from './bone-stats.js';
export type { MaskGrid } from './grid.js';
export { gridMismatch, resampleMaskNearest, GRID_TOLERANCE } from './grid.js';
export type { TriangleMesh } from './mesh-types.js';
export { vertexCountOf, triangleCountOf } from './mesh-types.js';
export type { ExtractOptions } from './marching-tetrahedra.js';
export { extractSurfaceMesh } from './marching-tetrahedra.js';
export type { SmoothOptions } from './mesh-smooth.js';
export { smoothMesh, vertexNeighbours } from './mesh-smooth.js';
export { decimateMesh } from './mesh-decimate.js';
export type { EdgeReport } from './mesh-measure.js';
export { enclosedVolume, surfaceArea, edgeReport, meshBounds } from './mesh-measure.js';
export { encodeStl, encodeObj, decodeStl } from './mesh-format.js';
export type { PreviewOptions, RgbaImage, Rgb } from './preview.js';
export { renderMontage, encodePng, percentileWindow, previewSlices } from './preview.js';
export type { ColourKeyEntry, LabelOptions } from './preview-labels.js';
export { labelledMontagePng } from './preview-labels.js';
export type { ResampleMode, GridAlignOptions } from './volume-mask.js';
export { maskFromVolume, maskOnGrid } from './volume-mask.js';
