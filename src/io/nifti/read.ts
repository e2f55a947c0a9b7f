import { bytesPerVoxel, HOST_LITTLE_ENDIAN, swapBytesInPlace, voxelsFromBytes } from '../../volume/dtype.js';
import type { VoxelDType, Vec3, Volume, VoxelArray } from '../../volume/types.js';
import { createVolume, firstNonFinite } from '../../volume/volume.js';
import { VolumeIOError, readInputFile } from '../errors.js';
import { GzipError, gunzip, isGzip } from '../gzip.js';
import { gunzipNative } from '../gzip-node.js';
import type { ReadOptions } from '../options.js';
import { NiftiGeometryError, niftiGeometry } from './geometry.js';
import { readWarnings } from '../warnings.js';
import {
  NIFTI1_HEADER_SIZE, NIFTI2_HEADER_SIZE, NIFTI_DTYPE, NIFTI_UNSUPPORTED, parseNiftiHeader, sizeofHdrBothWays, sniffNifti,
  type NiftiHeader,
} from './header.js';

export interface NiftiSourceHeader {
  /** The parsed header as stored (before any fix-ups), so a writer can reproduce its geometry fields. */
  nifti: NiftiHeader;
}

export function readNifti(path: string, opts: ReadOptions = {}): Volume {
  return decodeNiftiWith(gunzipNative, readInputFile(path), path, opts);
}

/** Decode a .nii or .nii.gz held in memory; `name` is used in error messages. */
export function decodeNifti(fileBytes: Uint8Array, name: string, opts: ReadOptions = {}): Volume {
  return decodeNiftiWith(gunzip, fileBytes, name, opts);
}

/** decodeNifti with the gzip decoder to use: Node's zlib for files, fflate (pure JS, also in a browser) otherwise. */
function decodeNiftiWith(inflate: (b: Uint8Array) => Uint8Array, fileBytes: Uint8Array, name: string, opts: ReadOptions): Volume {
  const fail = (problem: string): never => {
    throw new VolumeIOError(name, problem);
  };
  let bytes = fileBytes;
  if (isGzip(bytes)) {
    try {
      bytes = inflate(bytes);
    } catch (e) {
      if (e instanceof GzipError) fail(e.message);
      throw e;
    }
  }
  if (bytes.length < NIFTI1_HEADER_SIZE) fail(`file is ${bytes.length} bytes, shorter than a NIfTI header (348 bytes)`);
  const sniff = sniffNifti(bytes);
  if (!sniff) {
    const [le, be] = sizeofHdrBothWays(bytes);
    fail(`not a NIfTI file: header size field sizeof_hdr is ${le} (little-endian) / ${be} (big-endian), expected 348 (NIfTI-1) or 540 (NIfTI-2)`);
  }
  const { version, littleEndian } = sniff!;
  const hsize = version === 1 ? NIFTI1_HEADER_SIZE : NIFTI2_HEADER_SIZE;
  if (bytes.length < hsize) fail(`file is ${bytes.length} bytes, shorter than a NIfTI-2 header (540 bytes)`);
  const h = parseNiftiHeader(bytes, version, littleEndian);
  checkMagic(h, fail);

  const nd = h.dim[0]!;
  if (!Number.isInteger(nd) || nd < 1 || nd > 7) fail(`dim[0] (number of dimensions) is ${nd}, must be 1..7`);
  const shape = h.dim.slice(1, nd + 1);
  shape.forEach((d, i) => {
    if (!(d > 0)) fail(`dim[${i + 1}] is ${d}: every dimension must be positive (dim = [${h.dim.join(', ')}])`);
  });
  for (let a = 4; a < shape.length; a++) {
    if (shape[a]! > 1) fail(`${nd}D data (dim = [${h.dim.join(', ')}]) is not supported; only 3D or 4D volumes can be read`);
  }
  const dims: Vec3 = [shape[0] ?? 1, shape[1] ?? 1, shape[2] ?? 1];
  const nVolumes = shape[3] ?? 1;
  let volumeIndex = 0;
  if (opts.volumeIndex !== undefined) {
    if (!Number.isInteger(opts.volumeIndex) || opts.volumeIndex < 0 || opts.volumeIndex >= nVolumes) {
      fail(`volume index ${opts.volumeIndex} is out of range: the file holds ${nVolumes} volume(s)`);
    }
    volumeIndex = opts.volumeIndex;
  } else if (nVolumes > 1) {
    fail(`4D file with ${nVolumes} volumes (dim = [${h.dim.join(', ')}]); choose one with the volumeIndex option (--volume-index)`);
  }

  const dtype = NIFTI_DTYPE[h.datatype];
  if (!dtype) {
    const known = NIFTI_UNSUPPORTED[h.datatype];
    fail(`unsupported NIfTI datatype ${h.datatype}${known ? ` (${known})` : ' (unknown code)'}; supported: uint8, int8, int16, uint16, int32, uint32, float32, float64`);
  }
  const bpv = bytesPerVoxel(dtype!);
  const voxOffset = Math.floor(h.voxOffset);
  if (!(voxOffset >= hsize)) fail(`vox_offset is ${h.voxOffset}, inside the ${hsize}-byte header`);
  const n = dims[0] * dims[1] * dims[2];
  const start = voxOffset + volumeIndex * n * bpv;
  const needed = voxOffset + n * bpv * nVolumes;
  if (bytes.length < needed) {
    fail(`image data is truncated: the header (dim = [${shape.join(', ')}], ${dtype}) needs ${needed - voxOffset} bytes after offset ${voxOffset}, the file has ${Math.max(0, bytes.length - voxOffset)}`);
  }

  let raw = bytes.subarray(start, start + n * bpv);
  if (littleEndian !== HOST_LITTLE_ENDIAN && bpv > 1) {
    raw = new Uint8Array(raw); // a copy (Buffer.slice would be a view of the caller's bytes)
    swapBytesInPlace(raw, bpv);
  }
  let data: VoxelArray = voxelsFromBytes(dtype!, raw, n);
  // Own the voxels when they are a small part of a larger buffer (e.g. one volume of a 4D file), so the rest can be freed.
  if (data.byteLength < 0.9 * data.buffer.byteLength) data = data.slice();
  data = applyScaling(data, dtype!, h);

  if (!opts.allowNonFinite) {
    const bad = firstNonFinite(data);
    if (bad >= 0) {
      const i = bad % dims[0], j = Math.floor(bad / dims[0]) % dims[1], k = Math.floor(bad / (dims[0] * dims[1]));
      fail(`voxel (${i}, ${j}, ${k}) is ${data[bad]}: non-finite voxels cannot be segmented (pass allowNonFinite to read anyway)`);
    }
  }

  let geometry: ReturnType<typeof niftiGeometry>;
  try {
    geometry = niftiGeometry(h);
  } catch (e) {
    if (e instanceof NiftiGeometryError) fail(e.message);
    throw e;
  }
  const warnings = readWarnings(name, opts);
  for (const w of geometry!.warnings) warnings.warn(w);
  const source: NiftiSourceHeader = { nifti: h };
  return createVolume(data, dims, geometry!.affine, {
    format: version === 1 ? 'nifti1' : 'nifti2', path: name, header: source, ...(warnings.list.length ? { warnings: warnings.list } : {}),
  });
}

function checkMagic(h: NiftiHeader, fail: (p: string) => never): void {
  if (h.version === 1) {
    if (h.magic === 'ni1') fail('this is the header of a .hdr/.img pair; only single-file .nii is supported');
    if (h.magic !== 'n+1') fail(`bad NIfTI-1 magic ${JSON.stringify(h.magic)} (expected "n+1")`);
  } else if (!h.magic.startsWith('n+2')) {
    if (h.magic.startsWith('ni2')) fail('this is the header of a .hdr/.img pair; only single-file .nii is supported');
    fail(`bad NIfTI-2 magic ${JSON.stringify(h.magic)} (expected "n+2")`);
  }
}

/**
 * scl_slope/scl_inter as nibabel: slope 0 or non-finite means "no scaling"; a non-finite intercept counts as 0.
 * Scaled output is float32, or float64 when the raw type needs it (int32/uint32/float64) or the header is NIfTI-2
 * (whose scale factors are float64), mirroring numpy's type promotion in nibabel.
 */
function applyScaling(data: VoxelArray, dtype: VoxelDType, h: NiftiHeader): VoxelArray {
  let slope = h.sclSlope;
  let inter = h.sclInter;
  if (slope === 0 || !Number.isFinite(slope)) slope = 1;
  if (!Number.isFinite(inter)) inter = 0;
  if (slope === 1 && inter === 0) return data;
  const wide = h.version === 2 || dtype === 'int32' || dtype === 'uint32' || dtype === 'float64';
  const out = wide ? new Float64Array(data.length) : new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! * slope + inter;
  return out;
}
