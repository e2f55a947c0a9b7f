/** Voxel element types the readers and writers understand. */
export type VoxelDType = 'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';

export type VoxelArray =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array;

export type Vec3 = [number, number, number];

/** Where a volume came from; `header` is format specific and kept so a mask can be written with the same geometry fields. */
export interface VolumeSource {
  format: 'nifti1' | 'nifti2' | 'nrrd' | 'dicom';
  /** Path the volume was read from (file, directory or .zip). */
  path?: string;
  header: unknown;
  /** What the reader worked around (assumed spacing, ignored transform...), one message per problem, naming the file. */
  warnings?: string[];
}

/**
 * A 3D scalar image on a regular grid.
 * Voxel (i, j, k) lives at data[i + j*dims[0] + k*dims[0]*dims[1]] (first axis fastest, as stored in NIfTI/NRRD).
 * `affine` is row-major 4x4 mapping voxel indices to RAS+ world coordinates in mm.
 */
export interface Volume {
  data: VoxelArray;
  dims: Vec3;
  spacing: Vec3;
  affine: Float64Array;
  dtype: VoxelDType;
  source?: VolumeSource;
}
