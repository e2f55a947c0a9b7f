/** Options shared by every reader. */
export interface ReadOptions {
  /** Accept NaN/Inf voxels (default false: a volume to segment must be finite). */
  allowNonFinite?: boolean;
  /** Pick one volume of a 4D file (0-based). Required when the 4th dimension is > 1. */
  volumeIndex?: number;
  /** DICOM: which series to load when the folder holds several. */
  seriesUid?: string;
}
