/** Options shared by every reader. */
export interface ReadOptions {
  /** Accept NaN/Inf voxels (default false: a volume to segment must be finite). */
  allowNonFinite?: boolean;
  /** Pick one volume of a 4D file (0-based). Required when the 4th dimension is > 1. */
  volumeIndex?: number;
  /** DICOM: which series to load when the folder holds several. */
  seriesUid?: string;
  /**
   * Detached data (a NRRD header's `data file:`) may lie outside the header's own folder. Default false: such a
   * header is refused, so a file from someone else cannot make us read /etc/passwd or ../../secrets (CLI:
   * --allow-external-data; `sab serve` and `sab worker` never set it).
   */
  allowExternalData?: boolean;
  /**
   * Called once per problem the reader worked around (an assumed spacing, an ignored or replaced transform), with a
   * message naming the file. The same messages are kept on `volume.source.warnings`.
   */
  onWarning?: (message: string) => void;
}
