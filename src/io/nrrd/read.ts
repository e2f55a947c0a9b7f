import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { allocVoxels, bytesPerVoxel, HOST_LITTLE_ENDIAN, swapBytesInPlace, voxelsFromBytes } from '../../volume/dtype.js';
import type { Vec3, Volume, VoxelArray } from '../../volume/types.js';
import { createVolume, firstNonFinite } from '../../volume/volume.js';
import { VolumeIOError, readInputFile } from '../errors.js';
import { GzipError, gunzip } from '../gzip.js';
import type { ReadOptions } from '../options.js';
import { NrrdParseError, nrrdType, parseNrrdHeader, parseVectors, spaceToRasFlips, type NrrdHeader } from './header.js';

export interface NrrdSourceHeader {
  nrrd: NrrdHeader;
  /** The NRRD space the file declared (e.g. 'left-posterior-superior'), or undefined for spacings-only files. */
  space?: string;
  encoding: string;
}

export function readNrrd(path: string, opts: ReadOptions = {}): Volume {
  return decodeNrrd(readInputFile(path), path, opts);
}

/** Decode NRRD bytes; `name` names the file in errors and locates a detached `data file`. */
export function decodeNrrd(bytes: Uint8Array, name: string, opts: ReadOptions = {}): Volume {
  const fail = (problem: string): never => {
    throw new VolumeIOError(name, problem);
  };
  let hdr: NrrdHeader;
  try {
    hdr = parseNrrdHeader(bytes);
  } catch (e) {
    if (e instanceof NrrdParseError) fail(e.message);
    throw e;
  }
  const f = hdr!.fields;
  for (const req of ['type', 'dimension', 'sizes', 'encoding']) if (!(req in f)) fail(`required field "${req}" is missing`);
  const dtype = nrrdType(f.type!) ?? fail(`unsupported NRRD type "${f.type}" (supported: int8, uint8, int16, uint16, int32, uint32, float, double)`);
  const ndim = Number(f.dimension);
  if (!Number.isInteger(ndim) || ndim < 1 || ndim > 4) fail(`dimension is ${f.dimension}; only 1 to 4 are supported`);
  const sizes = f.sizes!.split(/\s+/).map(Number);
  if (sizes.length !== ndim) fail(`sizes lists ${sizes.length} values but dimension is ${ndim}`);
  sizes.forEach((s, i) => {
    if (!Number.isInteger(s) || s < 1) fail(`sizes[${i}] is ${s}: every size must be a positive integer (sizes: ${f.sizes})`);
  });

  // Which axes are spatial: those with a direction vector (or all of them for old spacings-only files).
  const dirs = f['space directions'] !== undefined ? parseVectors(f['space directions']) : undefined;
  if (dirs && dirs.length !== ndim) fail(`space directions lists ${dirs.length} entries but dimension is ${ndim}`);
  const spatialAxes = dirs ? dirs.map((d, i) => (d ? i : -1)).filter((i) => i >= 0) : [...Array(Math.min(ndim, 3)).keys()];
  const otherAxes = [...Array(ndim).keys()].filter((i) => !spatialAxes.includes(i));
  if (spatialAxes.length > 3) fail(`${spatialAxes.length} spatial axes; at most 3 are supported`);
  const otherSize = otherAxes.reduce((p, a) => p * sizes[a]!, 1);
  if (otherAxes.filter((a) => sizes[a]! > 1).length > 1) fail('more than one non-spatial axis is not supported');
  let volumeIndex = 0;
  if (opts.volumeIndex !== undefined) {
    if (!Number.isInteger(opts.volumeIndex) || opts.volumeIndex < 0 || opts.volumeIndex >= otherSize) {
      fail(`volume index ${opts.volumeIndex} is out of range: the file holds ${otherSize} volume(s)`);
    }
    volumeIndex = opts.volumeIndex;
  } else if (otherSize > 1) {
    fail(`${ndim}D file with ${otherSize} volumes along a non-spatial axis; choose one with the volumeIndex option (--volume-index)`);
  }

  const bpv = bytesPerVoxel(dtype);
  const total = sizes.reduce((a, b) => a * b, 1);
  let payload = readPayload(bytes, hdr!, name, fail);
  const encoding = f.encoding!.toLowerCase();
  let raw: Uint8Array;
  if (encoding === 'raw' || encoding === 'gzip' || encoding === 'gz') {
    if (encoding !== 'raw') {
      try {
        payload = gunzip(payload);
      } catch (e) {
        if (e instanceof GzipError) fail(e.message);
        throw e;
      }
    }
    const skip = Number(f['byte skip'] ?? 0);
    const start = skip === -1 ? payload.length - total * bpv : skip;
    if (!(start >= 0) || payload.length - start < total * bpv) {
      fail(`image data is truncated: sizes ${f.sizes} of ${f.type} need ${total * bpv} bytes, the file has ${Math.max(0, payload.length - Math.max(0, start))}`);
    }
    raw = payload.subarray(start, start + total * bpv);
    const endian = f.endian?.toLowerCase();
    if (bpv > 1 && endian !== 'little' && endian !== 'big') fail(`field "endian" is ${endian === undefined ? 'missing' : `"${f.endian}"`}; it is required for multi-byte types`);
    if (bpv > 1 && (endian === 'little') !== HOST_LITTLE_ENDIAN) {
      raw = raw.slice();
      swapBytesInPlace(raw, bpv);
    }
  } else if (encoding === 'ascii' || encoding === 'text' || encoding === 'txt') {
    const words = new TextDecoder('latin1').decode(payload).trim().split(/[\s,]+/).filter(Boolean);
    if (words.length < total) fail(`image data is truncated: sizes ${f.sizes} need ${total} values, the file has ${words.length}`);
    const arr = allocVoxels(dtype, total);
    for (let i = 0; i < total; i++) arr[i] = Number(words[i]);
    raw = new Uint8Array(arr.buffer);
  } else {
    fail(`unsupported NRRD encoding "${f.encoding}" (supported: raw, gzip, ascii)`);
  }

  const all: VoxelArray = voxelsFromBytes(dtype, raw!, total);
  const dims: Vec3 = [sizes[spatialAxes[0]!] ?? 1, sizes[spatialAxes[1]!] ?? 1, sizes[spatialAxes[2]!] ?? 1];
  let data: VoxelArray;
  const simple = otherAxes.every((a) => sizes[a] === 1) && spatialAxes.every((a, i) => a === i);
  if (simple) {
    data = all.byteLength < 0.9 * all.buffer.byteLength ? all.slice() : all;
  } else {
    data = gatherVolume(all, sizes, spatialAxes, otherAxes[0], volumeIndex, dtype);
  }

  if (!opts.allowNonFinite) {
    const bad = firstNonFinite(data);
    if (bad >= 0) {
      const i = bad % dims[0], j = Math.floor(bad / dims[0]) % dims[1], k = Math.floor(bad / (dims[0] * dims[1]));
      fail(`voxel (${i}, ${j}, ${k}) is ${data[bad]}: non-finite voxels cannot be segmented (pass allowNonFinite to read anyway)`);
    }
  }

  const affine = nrrdAffine(hdr!, dirs, spatialAxes, fail);
  const source: NrrdSourceHeader = { nrrd: hdr!, encoding };
  if (f.space !== undefined) source.space = f.space;
  return createVolume(data, dims, affine, { format: 'nrrd', path: name, header: source });
}

function readPayload(bytes: Uint8Array, hdr: NrrdHeader, name: string, fail: (p: string) => never): Uint8Array {
  const dataFile = hdr.fields['data file'] ?? hdr.fields['datafile'];
  if (dataFile === undefined) return bytes.subarray(hdr.headerLength);
  if (/^LIST/.test(dataFile) || /%/.test(dataFile)) fail(`multi-file "data file: ${dataFile}" is not supported`);
  const p = isAbsolute(dataFile) ? dataFile : join(dirname(name), dataFile);
  let payload: Uint8Array;
  try {
    payload = readFileSync(p);
  } catch (e) {
    fail(`cannot read detached data file ${p} (${(e as Error).message})`);
  }
  const lineSkip = Number(hdr.fields['line skip'] ?? 0);
  let off = 0;
  for (let l = 0; l < lineSkip; l++) {
    const nl = payload!.indexOf(10, off);
    if (nl < 0) fail(`line skip ${lineSkip} runs past the end of ${p}`);
    off = nl + 1;
  }
  return payload!.subarray(off);
}

/** Copy out the spatial sub-volume at `index` along the non-spatial axis (e.g. one component of a vector image). */
function gatherVolume(
  all: VoxelArray, sizes: number[], spatialAxes: number[], other: number | undefined, index: number, dtype: Volume['dtype'],
): VoxelArray {
  const strides: number[] = [];
  let s = 1;
  for (const n of sizes) {
    strides.push(s);
    s *= n;
  }
  const [a0, a1, a2] = spatialAxes;
  const n0 = a0 === undefined ? 1 : sizes[a0]!, n1 = a1 === undefined ? 1 : sizes[a1]!, n2 = a2 === undefined ? 1 : sizes[a2]!;
  const s0 = a0 === undefined ? 0 : strides[a0]!, s1 = a1 === undefined ? 0 : strides[a1]!, s2 = a2 === undefined ? 0 : strides[a2]!;
  const base = other === undefined ? 0 : index * strides[other]!;
  const out = allocVoxels(dtype, n0 * n1 * n2);
  let o = 0;
  for (let k = 0; k < n2; k++) for (let j = 0; j < n1; j++) for (let i = 0; i < n0; i++) out[o++] = all[base + i * s0 + j * s1 + k * s2]!;
  return out;
}

/**
 * Voxel->RAS affine. With `space` + `space directions` + `space origin` the geometry is exact; files with only
 * `spacings` get identity directions in LPS, as ITK (and hence 3D Slicer) reads them.
 */
function nrrdAffine(hdr: NrrdHeader, dirs: (number[] | null)[] | undefined, spatialAxes: number[], fail: (p: string) => never): Float64Array {
  const f = hdr.fields;
  const m = new Float64Array(16);
  m[15] = 1;
  let flips: [number, number, number] = [-1, -1, 1];
  if (f.space !== undefined) {
    flips = spaceToRasFlips(f.space) ?? fail(`unsupported space "${f.space}" (expected a 3D space such as left-posterior-superior or right-anterior-superior)`);
  } else if (f['space dimension'] !== undefined && f['space dimension'] !== '3') {
    fail(`space dimension ${f['space dimension']} is not supported (3 expected)`);
  }
  if (dirs) {
    spatialAxes.forEach((axis, col) => {
      const d = dirs[axis]!;
      if (d.length !== 3 || d.some((x) => !Number.isFinite(x))) fail(`space direction ${axis} must be 3 finite numbers`);
      for (let r = 0; r < 3; r++) m[r * 4 + col] = d[r]! * flips[r]! + 0; // + 0 turns -0 into 0
    });
    for (let col = spatialAxes.length; col < 3; col++) m[col * 5] = 1;
  } else {
    const sp = (f.spacings ?? '').split(/\s+/).filter(Boolean).map(Number);
    for (let col = 0; col < 3; col++) {
      const v = sp[col];
      m[col * 5] = (v !== undefined && Number.isFinite(v) && v !== 0 ? v : 1) * flips[col]! + 0;
    }
  }
  if (f['space origin'] !== undefined) {
    const o = parseVectors(f['space origin'])[0];
    if (!o || o.length !== 3 || o.some((x) => !Number.isFinite(x))) fail(`space origin "${f['space origin']}" must be 3 finite numbers`);
    for (let r = 0; r < 3; r++) m[r * 4 + 3] = o![r]! * flips[r]! + 0;
  }
  return m;
}
