import type { VoxelDType } from '../../volume/types.js';

/**
 * NIfTI-1 / NIfTI-2 header fields, version independent. Parsed and written by our own code (not nifti-reader-js):
 * nifti-reader-js 0.8.0 decodes NIfTI-2 64-bit ints wrongly (double sign extension for negative values, big-endian
 * words swapped/signed), derives its affine with a different precedence from nibabel, and has no writer; one layout
 * table here serves both reading and writing.
 */
export interface NiftiHeader {
  version: 1 | 2;
  littleEndian: boolean;
  dimInfo: number;
  dim: number[]; // 8 entries, dim[0] = number of dimensions
  intentP1: number;
  intentP2: number;
  intentP3: number;
  intentCode: number;
  datatype: number;
  bitpix: number;
  sliceStart: number;
  pixdim: number[]; // 8 entries, pixdim[0] = qfac
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  sliceEnd: number;
  sliceCode: number;
  xyztUnits: number;
  calMax: number;
  calMin: number;
  sliceDuration: number;
  toffset: number;
  descrip: string;
  auxFile: string;
  qformCode: number;
  sformCode: number;
  quaternB: number;
  quaternC: number;
  quaternD: number;
  qoffsetX: number;
  qoffsetY: number;
  qoffsetZ: number;
  srowX: number[];
  srowY: number[];
  srowZ: number[];
  intentName: string;
  magic: string;
}

type Kind = 'i16' | 'i32' | 'i64' | 'u8' | 'f32' | 'f64' | 'str';
interface Slot {
  key: keyof NiftiHeader;
  offset: number;
  kind: Kind;
  count: number; // elements for arrays, bytes for strings; 0 = scalar
}

const s = (key: keyof NiftiHeader, offset: number, kind: Kind, count = 0): Slot => ({ key, offset, kind, count });

export const NIFTI1_HEADER_SIZE = 348;
export const NIFTI2_HEADER_SIZE = 540;

const LAYOUT_1: Slot[] = [
  s('dimInfo', 39, 'u8'), s('dim', 40, 'i16', 8), s('intentP1', 56, 'f32'), s('intentP2', 60, 'f32'), s('intentP3', 64, 'f32'),
  s('intentCode', 68, 'i16'), s('datatype', 70, 'i16'), s('bitpix', 72, 'i16'), s('sliceStart', 74, 'i16'),
  s('pixdim', 76, 'f32', 8), s('voxOffset', 108, 'f32'), s('sclSlope', 112, 'f32'), s('sclInter', 116, 'f32'),
  s('sliceEnd', 120, 'i16'), s('sliceCode', 122, 'u8'), s('xyztUnits', 123, 'u8'), s('calMax', 124, 'f32'), s('calMin', 128, 'f32'),
  s('sliceDuration', 132, 'f32'), s('toffset', 136, 'f32'), s('descrip', 148, 'str', 80), s('auxFile', 228, 'str', 24),
  s('qformCode', 252, 'i16'), s('sformCode', 254, 'i16'), s('quaternB', 256, 'f32'), s('quaternC', 260, 'f32'), s('quaternD', 264, 'f32'),
  s('qoffsetX', 268, 'f32'), s('qoffsetY', 272, 'f32'), s('qoffsetZ', 276, 'f32'),
  s('srowX', 280, 'f32', 4), s('srowY', 296, 'f32', 4), s('srowZ', 312, 'f32', 4), s('intentName', 328, 'str', 16), s('magic', 344, 'str', 4),
];

const LAYOUT_2: Slot[] = [
  s('magic', 4, 'str', 8), s('datatype', 12, 'i16'), s('bitpix', 14, 'i16'), s('dim', 16, 'i64', 8),
  s('intentP1', 80, 'f64'), s('intentP2', 88, 'f64'), s('intentP3', 96, 'f64'), s('pixdim', 104, 'f64', 8),
  s('voxOffset', 168, 'i64'), s('sclSlope', 176, 'f64'), s('sclInter', 184, 'f64'), s('calMax', 192, 'f64'), s('calMin', 200, 'f64'),
  s('sliceDuration', 208, 'f64'), s('toffset', 216, 'f64'), s('sliceStart', 224, 'i64'), s('sliceEnd', 232, 'i64'),
  s('descrip', 240, 'str', 80), s('auxFile', 320, 'str', 24), s('qformCode', 344, 'i32'), s('sformCode', 348, 'i32'),
  s('quaternB', 352, 'f64'), s('quaternC', 360, 'f64'), s('quaternD', 368, 'f64'),
  s('qoffsetX', 376, 'f64'), s('qoffsetY', 384, 'f64'), s('qoffsetZ', 392, 'f64'),
  s('srowX', 400, 'f64', 4), s('srowY', 432, 'f64', 4), s('srowZ', 464, 'f64', 4),
  s('sliceCode', 496, 'i32'), s('xyztUnits', 500, 'i32'), s('intentCode', 504, 'i32'), s('intentName', 508, 'str', 16), s('dimInfo', 524, 'u8'),
];

const SIZE: Record<Exclude<Kind, 'str'>, number> = { i16: 2, i32: 4, i64: 8, u8: 1, f32: 4, f64: 8 };

function readScalar(v: DataView, off: number, kind: Exclude<Kind, 'str'>, le: boolean): number {
  switch (kind) {
    case 'i16': return v.getInt16(off, le);
    case 'i32': return v.getInt32(off, le);
    case 'i64': return Number(v.getBigInt64(off, le));
    case 'u8': return v.getUint8(off);
    case 'f32': return v.getFloat32(off, le);
    case 'f64': return v.getFloat64(off, le);
  }
}

function writeScalar(v: DataView, off: number, kind: Exclude<Kind, 'str'>, le: boolean, x: number): void {
  switch (kind) {
    case 'i16': v.setInt16(off, x, le); break;
    case 'i32': v.setInt32(off, x, le); break;
    case 'i64': v.setBigInt64(off, BigInt(Math.trunc(x)), le); break;
    case 'u8': v.setUint8(off, x); break;
    case 'f32': v.setFloat32(off, x, le); break;
    case 'f64': v.setFloat64(off, x, le); break;
  }
}

/** Which header this is and its byte order, from sizeof_hdr (348 or 540) read both ways; null if neither. */
export function sniffNifti(bytes: Uint8Array): { version: 1 | 2; littleEndian: boolean } | null {
  if (bytes.length < 4) return null;
  const v = new DataView(bytes.buffer, bytes.byteOffset, 4);
  for (const le of [true, false]) {
    const n = v.getInt32(0, le);
    if (n === NIFTI1_HEADER_SIZE) return { version: 1, littleEndian: le };
    if (n === NIFTI2_HEADER_SIZE) return { version: 2, littleEndian: le };
  }
  return null;
}

export function sizeofHdrBothWays(bytes: Uint8Array): [number, number] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, 4);
  return [v.getInt32(0, true), v.getInt32(0, false)];
}

export function parseNiftiHeader(bytes: Uint8Array, version: 1 | 2, littleEndian: boolean): NiftiHeader {
  const size = version === 1 ? NIFTI1_HEADER_SIZE : NIFTI2_HEADER_SIZE;
  const v = new DataView(bytes.buffer, bytes.byteOffset, size);
  const h: Record<string, unknown> = { version, littleEndian };
  for (const slot of version === 1 ? LAYOUT_1 : LAYOUT_2) {
    if (slot.kind === 'str') {
      const raw = bytes.subarray(slot.offset, slot.offset + slot.count);
      const end = raw.indexOf(0);
      h[slot.key] = new TextDecoder('latin1').decode(end >= 0 ? raw.subarray(0, end) : raw);
    } else if (slot.count > 0) {
      const arr: number[] = [];
      for (let i = 0; i < slot.count; i++) arr.push(readScalar(v, slot.offset + i * SIZE[slot.kind], slot.kind, littleEndian));
      h[slot.key] = arr;
    } else {
      h[slot.key] = readScalar(v, slot.offset, slot.kind, littleEndian);
    }
  }
  return h as unknown as NiftiHeader;
}

/** Header bytes plus the 4-byte extension flag (all zero: no extensions are written). */
export function serializeNiftiHeader(h: NiftiHeader): Uint8Array {
  const size = h.version === 1 ? NIFTI1_HEADER_SIZE : NIFTI2_HEADER_SIZE;
  const out = new Uint8Array(size + 4);
  const v = new DataView(out.buffer);
  v.setInt32(0, size, h.littleEndian);
  for (const slot of h.version === 1 ? LAYOUT_1 : LAYOUT_2) {
    const val = h[slot.key];
    if (slot.kind === 'str') {
      const str = String(val ?? '');
      for (let i = 0; i < Math.min(str.length, slot.count); i++) out[slot.offset + i] = str.charCodeAt(i) & 0xff;
    } else if (slot.count > 0) {
      const arr = val as number[];
      for (let i = 0; i < slot.count; i++) writeScalar(v, slot.offset + i * SIZE[slot.kind], slot.kind, h.littleEndian, arr[i] ?? 0);
    } else {
      writeScalar(v, slot.offset, slot.kind, h.littleEndian, val as number);
    }
  }
  if (h.version === 1) v.setInt32(32, 16384, h.littleEndian); // legacy `extents`, as most writers set it
  return out;
}

export const NIFTI1_MAGIC = 'n+1';
export const NIFTI2_MAGIC = 'n+2\0\r\n\x1a\n';

/** NIfTI datatype codes we read and write. */
export const NIFTI_DTYPE: Record<number, VoxelDType> = {
  2: 'uint8', 4: 'int16', 8: 'int32', 16: 'float32', 64: 'float64', 256: 'int8', 512: 'uint16', 768: 'uint32',
};
export const NIFTI_CODE: Record<VoxelDType, number> = {
  uint8: 2, int16: 4, int32: 8, float32: 16, float64: 64, int8: 256, uint16: 512, uint32: 768,
};
/** Names of known but unsupported codes, for a useful error. */
export const NIFTI_UNSUPPORTED: Record<number, string> = {
  1: 'binary (1 bit)', 32: 'complex64', 128: 'rgb24', 1024: 'int64', 1280: 'uint64', 1536: 'float128',
  1792: 'complex128', 2048: 'complex256', 2304: 'rgba32',
};

export function emptyNiftiHeader(version: 1 | 2): NiftiHeader {
  return {
    version, littleEndian: true, dimInfo: 0, dim: [3, 1, 1, 1, 1, 1, 1, 1], intentP1: 0, intentP2: 0, intentP3: 0, intentCode: 0,
    datatype: 2, bitpix: 8, sliceStart: 0, pixdim: [1, 1, 1, 1, 0, 0, 0, 0], voxOffset: version === 1 ? 352 : 544,
    sclSlope: 1, sclInter: 0, sliceEnd: 0, sliceCode: 0, xyztUnits: 2, calMax: 0, calMin: 0, sliceDuration: 0, toffset: 0,
    descrip: '', auxFile: '', qformCode: 0, sformCode: 0, quaternB: 0, quaternC: 0, quaternD: 0, qoffsetX: 0, qoffsetY: 0, qoffsetZ: 0,
    srowX: [0, 0, 0, 0], srowY: [0, 0, 0, 0], srowZ: [0, 0, 0, 0], intentName: '', magic: version === 1 ? NIFTI1_MAGIC : NIFTI2_MAGIC,
  };
}
