import { flipXY } from '../../volume/affine.js';
import { affineProblem } from '../../volume/geometry-rules.js';
import { allocVoxels } from '../../volume/dtype.js';
import type { Vec3, Volume, VoxelArray, VoxelDType } from '../../volume/types.js';
import { createVolume, firstNonFinite } from '../../volume/volume.js';
import { VolumeIOError } from '../errors.js';
import type { ReadOptions } from '../options.js';
import { loadDicomFiles, type DicomFileBytes } from './files.js';
import { FrameError, framePixels, unsupportedSyntax } from './frames.js';
import { expandFrames, MultiFrameError } from './multiframe.js';
import { parseDicomSlice, type DicomSlice } from './parse.js';

/** Summary of one series found in a folder/zip. */
export interface DicomSeriesInfo {
  seriesInstanceUid: string;
  seriesNumber: number | undefined;
  description: string;
  modality: string;
  sliceCount: number;
  rows: number;
  columns: number;
}

/** One source image of a loaded series, in volume slice order (k = 0, 1, ...). */
export interface DicomInstanceRef {
  sopInstanceUid: string;
  sopClassUid: string;
  file: string;
  /** ImagePositionPatient (LPS, mm). */
  position: number[];
  /** 1-based frame number when the slice is one frame of a multi-frame (Enhanced) object. */
  frameNumber?: number;
}

/** Kept in Volume.source.header for DICOM inputs: enough to write a DICOM-SEG that references the series. */
export interface DicomSourceHeader {
  series: DicomSeriesInfo;
  studyInstanceUid: string;
  frameOfReferenceUid: string;
  /** ImageOrientationPatient (row direction then column direction, LPS). */
  orientation: number[];
  pixelSpacing: [number, number];
  sliceThickness: number | undefined;
  instances: DicomInstanceRef[];
  patient: Record<string, string>;
}

const NON_IMAGE_MODALITIES = new Set(['SEG', 'RTSTRUCT', 'RTPLAN', 'RTDOSE', 'SR', 'PR', 'KO', 'REG']);

function parseAll(path: string, files: DicomFileBytes[] = loadDicomFiles(path)): DicomSlice[] {
  const slices: DicomSlice[] = [];
  for (const f of files) {
    const s = parseDicomSlice(f.name, f.bytes);
    // Derived non-image objects (e.g. a SEG we wrote next to the series) are not slices of it.
    if (s && s.pixels && !NON_IMAGE_MODALITIES.has(s.modality)) slices.push(s);
  }
  if (slices.length === 0) throw new VolumeIOError(path, `no DICOM images found (${files.length} file(s) looked at)`);
  return slices;
}

function groupBySeries(slices: DicomSlice[]): Map<string, DicomSlice[]> {
  const groups = new Map<string, DicomSlice[]>();
  for (const s of slices) {
    const g = groups.get(s.seriesInstanceUid);
    if (g) g.push(s);
    else groups.set(s.seriesInstanceUid, [s]);
  }
  return groups;
}

function info(uid: string, g: DicomSlice[]): DicomSeriesInfo {
  const s = g[0]!;
  const sliceCount = g.reduce((n, x) => n + Math.max(1, x.numberOfFrames), 0); // an Enhanced object counts its frames
  return { seriesInstanceUid: uid, seriesNumber: s.seriesNumber, description: s.seriesDescription, modality: s.modality, sliceCount, rows: s.rows, columns: s.columns };
}

/** The series in a DICOM folder or .zip, ordered by series number. */
export function listDicomSeries(path: string, files?: DicomFileBytes[]): DicomSeriesInfo[] {
  return [...groupBySeries(parseAll(path, files))].map(([uid, g]) => info(uid, g)).sort((a, b) => (a.seriesNumber ?? 0) - (b.seriesNumber ?? 0));
}

function cross(a: number[], b: number[]): number[] {
  return [a[1]! * b[2]! - a[2]! * b[1]!, a[2]! * b[0]! - a[0]! * b[2]!, a[0]! * b[1]! - a[1]! * b[0]!];
}
const dot = (a: number[], b: number[]): number => a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]!;
const fmt = (v: number[]): string => `(${v.map((x) => +x.toFixed(4)).join(', ')})`;

/**
 * Read one series of a DICOM folder or .zip into a RAS volume. `files` (already in memory, e.g. retrieved over
 * DICOMweb) replaces reading `path`, which then only names the source in messages.
 */
export function readDicomSeries(path: string, opts: ReadOptions = {}, files?: DicomFileBytes[]): Volume {
  const groups = groupBySeries(parseAll(path, files));
  let uid = opts.seriesUid;
  if (uid === undefined) {
    if (groups.size > 1) {
      const list = [...groups].map(([u, g]) => `${u} (${g[0]!.seriesDescription || 'no description'}, ${g.length} slices)`).join('; ');
      throw new VolumeIOError(path, `${groups.size} series found; choose one with seriesUid (--series): ${list}`);
    }
    uid = [...groups.keys()][0]!;
  }
  const slices = groups.get(uid);
  if (!slices) throw new VolumeIOError(path, `series ${uid} not found; series present: ${[...groups.keys()].join(', ')}`);
  return buildVolume(path, uid, slices, opts);
}

function buildVolume(path: string, uid: string, images: DicomSlice[], opts: ReadOptions): Volume {
  const fail = (problem: string): never => {
    throw new VolumeIOError(path, `series ${uid}: ${problem}`);
  };
  const slices: DicomSlice[] = [];
  for (const s of images) {
    const why = unsupportedSyntax(s);
    if (why) fail(`${s.name} ${why}`);
    try {
      slices.push(...expandFrames(s));
    } catch (e) {
      if (e instanceof MultiFrameError) fail(`${s.name} ${e.message}`);
      throw e;
    }
  }
  const first = slices[0]!;
  for (const s of slices) {
    if (s.samplesPerPixel !== 1) fail(`${s.name} has ${s.samplesPerPixel} samples per pixel; only grayscale is supported`);
    if (s.rows !== first.rows || s.columns !== first.columns) {
      fail(`inconsistent image size: ${first.name} is ${first.rows}x${first.columns} (rows x columns) but ${s.name} is ${s.rows}x${s.columns}`);
    }
    if (s.bitsAllocated !== first.bitsAllocated || s.pixelRepresentation !== first.pixelRepresentation) {
      fail(`inconsistent pixel format between ${first.name} and ${s.name}`);
    }
    if (!s.orientation || s.orientation.length !== 6 || s.orientation.some((x) => !Number.isFinite(x))) fail(`${s.name} has no valid ImageOrientationPatient`);
    if (!s.position || s.position.length !== 3 || s.position.some((x) => !Number.isFinite(x))) fail(`${s.name} has no valid ImagePositionPatient`);
    if (!s.pixelSpacing) fail(`${s.name} has no PixelSpacing`);
  }
  if (first.rows < 1 || first.columns < 1) fail(`${first.name} has ${first.rows}x${first.columns} pixels`);
  if (![8, 16, 32].includes(first.bitsAllocated)) fail(`${first.name}: BitsAllocated ${first.bitsAllocated} is not supported (8, 16 or 32)`);
  for (const s of slices) {
    if (s.orientation!.some((x, i) => Math.abs(x - first.orientation![i]!) > 1e-4)) {
      fail(`mixed orientations: ${first.name} has ImageOrientationPatient ${fmt(first.orientation!)} but ${s.name} has ${fmt(s.orientation!)}`);
    }
    if (Math.abs(s.pixelSpacing![0] - first.pixelSpacing![0]) > 1e-4 || Math.abs(s.pixelSpacing![1] - first.pixelSpacing![1]) > 1e-4) {
      fail(`inconsistent PixelSpacing between ${first.name} and ${s.name}`);
    }
  }
  const rowDir = first.orientation!.slice(0, 3);
  const colDir = first.orientation!.slice(3, 6);
  const normal = cross(rowDir, colDir);
  // Sort along the slice normal, not by InstanceNumber or file name, which scanners do not keep consistent.
  const sorted = slices.map((s) => ({ s, d: dot(normal, s.position!) })).sort((a, b) => a.d - b.d);
  const n = sorted.length;
  for (let k = 1; k < n; k++) {
    if (Math.abs(sorted[k]!.d - sorted[k - 1]!.d) < 1e-4) {
      fail(`two slices at the same position ${sorted[k]!.d.toFixed(3)} mm: ${sorted[k - 1]!.s.name} and ${sorted[k]!.s.name} (several acquisitions in one series?)`);
    }
  }
  let step: number[];
  if (n > 1) {
    const p0 = sorted[0]!.s.position!, pN = sorted[n - 1]!.s.position!;
    step = [0, 1, 2].map((a) => (pN[a]! - p0[a]!) / (n - 1));
    // Judge gaps against the median gap, so the message points at the odd one out.
    const gaps = sorted.slice(1).map((x, k) => x.d - sorted[k]!.d).sort((a, b) => a - b);
    const gap = gaps[Math.floor((gaps.length - 1) / 2)]!;
    for (let k = 1; k < n; k++) {
      const g = sorted[k]!.d - sorted[k - 1]!.d;
      if (Math.abs(g - gap) > Math.max(1e-3, 0.01 * gap)) {
        fail(`non-uniform slice spacing (missing slice?): gap of ${g.toFixed(4)} mm between ${sorted[k - 1]!.s.name} and ${sorted[k]!.s.name}, expected ${gap.toFixed(4)} mm`);
      }
    }
    for (let k = 1; k < n; k++) {
      // Every slice must sit on the line p0 + k*step (tolerates gantry tilt, refuses scattered positions).
      const pk = sorted[k]!.s.position!;
      const off = Math.hypot(...[0, 1, 2].map((a) => pk[a]! - (p0[a]! + k * step[a]!)));
      if (off > Math.max(1e-3, 0.01 * gap)) fail(`${sorted[k]!.s.name} is ${off.toFixed(4)} mm off the line through the other slice positions`);
    }
  } else {
    const t = first.sliceThickness && first.sliceThickness > 0 ? first.sliceThickness : 1;
    step = normal.map((x) => x * t);
  }
  const [rowSpacing, colSpacing] = first.pixelSpacing!;
  const lps = new Float64Array(16);
  for (let r = 0; r < 3; r++) {
    lps[r * 4] = rowDir[r]! * colSpacing; // i: along a row (column index), spaced by column spacing
    lps[r * 4 + 1] = colDir[r]! * rowSpacing; // j: down a column (row index)
    lps[r * 4 + 2] = step[r]!;
    lps[r * 4 + 3] = sorted[0]!.s.position![r]!;
  }
  lps[15] = 1;
  const affine = flipXY(lps);
  const problem = affineProblem(affine);
  if (problem !== undefined) fail(`the geometry (PixelSpacing, ImageOrientationPatient, slice positions) is unusable: ${problem}`);

  const dims: Vec3 = [first.columns, first.rows, n];
  const data = assemblePixels(sorted.map((x) => x.s), dims, fail);
  if (!opts.allowNonFinite) {
    const bad = firstNonFinite(data);
    if (bad >= 0) {
      const i = bad % dims[0], j = Math.floor(bad / dims[0]) % dims[1], k = Math.floor(bad / (dims[0] * dims[1]));
      fail(`voxel (${i}, ${j}, ${k}) is ${data[bad]}: non-finite voxels cannot be segmented (pass allowNonFinite to read anyway)`);
    }
  }
  const header: DicomSourceHeader = {
    series: info(uid, images),
    studyInstanceUid: first.studyInstanceUid,
    frameOfReferenceUid: first.frameOfReferenceUid,
    orientation: first.orientation!,
    pixelSpacing: first.pixelSpacing!,
    sliceThickness: first.sliceThickness,
    instances: sorted.map(({ s }) => ({
      sopInstanceUid: s.sopInstanceUid, sopClassUid: s.sopClassUid, file: s.name, position: s.position!,
      ...(s.frameIndex !== undefined ? { frameNumber: s.frameIndex + 1 } : {}),
    })),
    patient: first.patient,
  };
  return createVolume(data, dims, affine, { format: 'dicom', path, header });
}

/** Copy each slice's pixels into one array, applying RescaleSlope/Intercept (float32 output only when they change values). */
function assemblePixels(slices: DicomSlice[], dims: Vec3, fail: (p: string) => never): VoxelArray {
  const first = slices[0]!;
  const per = dims[0] * dims[1];
  const bytesPer = first.bitsAllocated / 8;
  const signed = first.pixelRepresentation === 1;
  const rawType: VoxelDType = bytesPer === 1 ? (signed ? 'int8' : 'uint8') : bytesPer === 2 ? (signed ? 'int16' : 'uint16') : signed ? 'int32' : 'uint32';
  // Every slice's pixel data is checked against rows x columns before the volume is allocated from those numbers.
  // (Native data only: a compressed frame's decoded size is checked by its codec.)
  for (const s of slices) {
    const px = s.pixels!;
    if (px.encapsulated) continue;
    const need = ((s.frameIndex ?? 0) + 1) * per * bytesPer;
    const available = Math.max(0, Math.min(px.length, s.bytes.length - px.offset));
    if (available < need) fail(`${s.name}: pixel data is truncated (${available} bytes, ${need} needed)`);
  }
  const rescaled = slices.some((s) => s.rescaleSlope !== 1 || s.rescaleIntercept !== 0);
  const out: VoxelArray = rescaled ? new Float32Array(per * dims[2]) : allocVoxels(rawType, per * dims[2]);
  slices.forEach((s, k) => {
    let px;
    try {
      px = framePixels(s);
    } catch (e) {
      if (e instanceof FrameError) fail(`${s.name}: ${e.message}`);
      throw e;
    }
    const base = k * per;
    const slope = s.rescaleSlope, inter = s.rescaleIntercept;
    if (rescaled) for (let i = 0; i < per; i++) out[base + i] = px![i]! * slope + inter;
    else out.set(px!.subarray(0, per), base);
  });
  return out;
}
