import { readFileSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { allocVoxels, bytesPerVoxel, HOST_LITTLE_ENDIAN, swapBytesInPlace, voxelsFromBytes } from '../../volume/dtype.js';
import type { Vec3, Volume, VoxelArray } from '../../volume/types.js';
import { createVolume, firstNonFinite } from '../../volume/volume.js';
import { VolumeIOError, readInputFile } from '../errors.js';
import { Bzip2Error, bunzip2 } from '../bzip2.js';
import { GzipError, gunzip, isGzip } from '../gzip.js';
import type { ReadOptions } from '../options.js';
import { readWarnings, type ReadWarnings } from '../warnings.js';
import { affineProblem } from '../../volume/geometry-rules.js';
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
  const total = sizes.reduce((x, y) => x * y, 1);
  const needed = total * bpv;
  const encoding = f.encoding!.toLowerCase();
  const lineSkip = skipField(f, 'line skip', 'lineskip', fail);
  const byteSkip = skipField(f, 'byte skip', 'byteskip', fail);
  if (lineSkip === -1) fail('line skip is -1; it must be a non-negative integer (only byte skip may be -1)');
  const input = payloadSource(bytes, hdr!, name, opts, fail);
  const where = input.detached ? `detached data file ${input.path}` : 'the file';
  // Line skip counts text lines before the data (and before decompression); byte skip -1 on raw data means "the last
  // bytes of the file", which makes line skip irrelevant (as teem and pynrrd read it).
  const payload = encoding === 'raw' && byteSkip === -1 ? input.bytes : skipLines(input.bytes, lineSkip, where, fail);
  let raw: Uint8Array;
  if (encoding === 'raw') {
    raw = takeBytes(payload, byteSkip, needed, f, where, false, fail);
  } else if (encoding === 'gzip' || encoding === 'gz' || encoding === 'bzip2' || encoding === 'bz2') {
    // As teem: byte skip applies after decompression, so "the last bytes" (-1) cannot be found without inflating all.
    if (byteSkip === -1) fail(`byte skip -1 (data at the end of the file) only works with raw encoding, not ${encoding}`);
    raw = takeBytes(decompress(payload, encoding, byteSkip + needed, where, fail), byteSkip, needed, f, where, true, fail);
  } else if (encoding === 'ascii' || encoding === 'text' || encoding === 'txt') {
    if (byteSkip > 0 && byteSkip > payload.length) fail(`byte skip ${byteSkip} runs past the end of ${where} (${payload.length} bytes)`);
    const text = payload.subarray(byteSkip > 0 ? byteSkip : 0);
    const words = new TextDecoder('latin1').decode(text).trim().split(/[\s,]+/).filter(Boolean);
    if (words.length < total) fail(`image data is truncated: sizes ${f.sizes} need ${total} values, ${where} has ${words.length}`);
    const arr = allocVoxels(dtype, total);
    for (let i = 0; i < total; i++) {
      const v = Number(words[i]);
      if (Number.isNaN(v) && !/^[+-]?nan$/i.test(words[i]!)) fail(`value ${i} of the ascii data, ${JSON.stringify(words[i]!.slice(0, 40))}, is not a number`);
      arr[i] = v;
    }
    raw = new Uint8Array(arr.buffer);
  } else {
    fail(`unsupported NRRD encoding "${f.encoding}" (supported: raw, gzip, bzip2, ascii)`);
  }
  if (encoding !== 'ascii' && encoding !== 'text' && encoding !== 'txt') {
    const endian = f.endian?.toLowerCase();
    if (bpv > 1 && endian !== 'little' && endian !== 'big') fail(`field "endian" is ${endian === undefined ? 'missing' : `"${f.endian}"`}; it is required for multi-byte types`);
    if (bpv > 1 && (endian === 'little') !== HOST_LITTLE_ENDIAN) {
      raw = new Uint8Array(raw!); // a copy (Buffer.slice would be a view of the caller's bytes)
      swapBytesInPlace(raw, bpv);
    }
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

  const warnings = readWarnings(name, opts);
  const affine = nrrdAffine(hdr!, dirs, spatialAxes, warnings, fail);
  const problem = affineProblem(affine);
  if (problem !== undefined) fail(`the geometry (space directions / spacings) is unusable: ${problem}`);
  const source: NrrdSourceHeader = { nrrd: hdr!, encoding };
  if (f.space !== undefined) source.space = f.space;
  return createVolume(data, dims, affine, {
    format: 'nrrd', path: name, header: source, ...(warnings.list.length ? { warnings: warnings.list } : {}),
  });
}

/** `line skip` / `byte skip` (teem also accepts them without the space): an integer >= -1, default 0. */
function skipField(f: Record<string, string>, key: string, alt: string, fail: (p: string) => never): number {
  const text = f[key] ?? f[alt];
  if (text === undefined) return 0;
  const v = Number(text);
  if (!Number.isInteger(v) || v < -1) {
    fail(`${key} is ${JSON.stringify(text)}; it must be -1 (data at the end of the file) or a non-negative integer`);
  }
  return v;
}

interface PayloadSource {
  bytes: Uint8Array;
  detached: boolean;
  path: string;
}

/**
 * The bytes that hold the data: after the header, or a detached `data file`. A detached file must resolve (symbolic
 * links followed) inside the header's own folder unless opts.allowExternalData: a header from someone else must not
 * make a worker or a server read /etc/passwd or ../../secrets.
 */
function payloadSource(bytes: Uint8Array, hdr: NrrdHeader, name: string, opts: ReadOptions, fail: (p: string) => never): PayloadSource {
  const dataFile = hdr.fields['data file'] ?? hdr.fields['datafile'];
  if (dataFile === undefined) return { bytes: bytes.subarray(hdr.headerLength), detached: false, path: name };
  if (/^LIST/.test(dataFile) || /%/.test(dataFile)) fail(`multi-file "data file: ${dataFile}" is not supported`);
  if (dataFile === '' || dataFile.includes('\0')) fail(`data file ${JSON.stringify(dataFile)} is not a file name`);
  const folder = dirname(name);
  const p = isAbsolute(dataFile) ? dataFile : join(folder, dataFile);
  if (!opts.allowExternalData) {
    let real: string | undefined;
    let realFolder: string | undefined;
    try {
      realFolder = realpathSync(folder);
      real = realpathSync(p);
    } catch {
      // Judge a missing file by its path alone; reading it below then fails with the usual message.
      realFolder ??= resolve(folder);
      real = resolve(p);
    }
    const folderPrefix = realFolder.endsWith(sep) ? realFolder : realFolder + sep;
    if (!real.startsWith(folderPrefix)) {
      fail(`data file "${dataFile}" resolves to ${real}, outside the header's folder ${realFolder}; detached data is only read ` +
        'from the header\'s folder (pass --allow-external-data, or allowExternalData in the library, if you trust this header)');
    }
  }
  let payload: Uint8Array;
  try {
    payload = readFileSync(p);
  } catch (e) {
    fail(`cannot read detached data file ${p} (${(e as Error).message})`);
  }
  return { bytes: payload!, detached: true, path: p };
}

function skipLines(b: Uint8Array, lines: number, where: string, fail: (p: string) => never): Uint8Array {
  let off = 0;
  for (let l = 0; l < lines; l++) {
    const nl = b.indexOf(10, off);
    if (nl < 0) fail(`line skip ${lines} runs past the end of ${where}`);
    off = nl + 1;
  }
  return b.subarray(off);
}

/** Decompress gzip/bzip2 data, never to more than `limit` bytes (byte skip + the header's declared data size). */
function decompress(payload: Uint8Array, encoding: string, limit: number, where: string, fail: (p: string) => never): Uint8Array {
  if (encoding === 'bzip2' || encoding === 'bz2') {
    try {
      return bunzip2(payload, limit);
    } catch (e) {
      if (e instanceof Bzip2Error) fail(`${e.message} in ${where}`);
      throw e;
    }
  }
  if (!isGzip(payload)) fail(`${where} does not hold gzip data where the header says it starts (check "line skip")`);
  if (payload.length >= 18) {
    // The gzip trailer states the decompressed size (mod 2^32): a mismatch is caught before inflating anything.
    const n = payload.length;
    const isize = (payload[n - 4]! | (payload[n - 3]! << 8) | (payload[n - 2]! << 16) | (payload[n - 1]! << 24)) >>> 0;
    if (isize !== limit % 2 ** 32) {
      fail(`the gzip data in ${where} ends with a size field of ${isize} bytes, but byte skip + sizes x type declare ${limit}: ` +
        `it is truncated or does not match the header${isize > limit ? ' (if the data follows a header of its own, "byte skip" must give its length)' : ''}`);
    }
  }
  try {
    return gunzip(payload);
  } catch (e) {
    if (e instanceof GzipError) fail(`${e.message} in ${where}`);
    throw e;
  }
}

function sizeMismatch(got: number, declared: number, where: string): string {
  const hint = got > declared ? ' (if the data follows a header of its own, "byte skip" must give its length)' : '';
  return `the data in ${where} decompresses to ${got} bytes, but byte skip + sizes x type declare ${declared}${hint}`;
}

/**
 * The `needed` data bytes after `byteSkip` (-1: the last `needed` bytes). Compressed data must decompress to exactly
 * skip + needed bytes, as teem and pynrrd require; raw data may have bytes after it.
 */
function takeBytes(
  b: Uint8Array, byteSkip: number, needed: number, f: Record<string, string>, where: string, exact: boolean, fail: (p: string) => never,
): Uint8Array {
  if (byteSkip === -1) {
    if (b.length < needed) fail(`image data is truncated: sizes ${f.sizes} of ${f.type} need ${needed} bytes, ${where} has ${b.length}`);
    return b.subarray(b.length - needed);
  }
  if (byteSkip > b.length) fail(`byte skip ${byteSkip} runs past the end of ${where} (${b.length} bytes${exact ? ' decompressed' : ''})`);
  const have = b.length - byteSkip;
  if (have < needed) {
    fail(`image data is truncated: sizes ${f.sizes} of ${f.type} need ${needed} bytes${byteSkip ? ` after byte skip ${byteSkip}` : ''}, ${where} has ${have}`);
  }
  if (exact && have > needed) fail(sizeMismatch(b.length, byteSkip + needed, where));
  return b.subarray(byteSkip, byteSkip + needed);
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
function nrrdAffine(
  hdr: NrrdHeader, dirs: (number[] | null)[] | undefined, spatialAxes: number[], warnings: ReadWarnings, fail: (p: string) => never,
): Float64Array {
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
      // A missing spacing is the format's default of 1; NaN or 0 is a damaged one, said out loud.
      if (v !== undefined && (v === 0 || !Number.isFinite(v))) warnings.warn(`spacings[${col}] is ${v}; assuming a spacing of 1 mm along axis ${col}`);
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
