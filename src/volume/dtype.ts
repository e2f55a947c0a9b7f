import type { VoxelDType, VoxelArray } from './types.js';

type VoxelArrayCtor = {
  new (length: number): VoxelArray;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): VoxelArray;
  readonly BYTES_PER_ELEMENT: number;
};

const CTORS: Record<VoxelDType, VoxelArrayCtor> = {
  uint8: Uint8Array,
  int8: Int8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
};

export const VOXEL_DTYPES: readonly VoxelDType[] = Object.keys(CTORS) as VoxelDType[];

export function isVoxelDType(s: string): s is VoxelDType {
  return Object.prototype.hasOwnProperty.call(CTORS, s);
}

export function bytesPerVoxel(dtype: VoxelDType): number {
  return CTORS[dtype].BYTES_PER_ELEMENT;
}

export function allocVoxels(dtype: VoxelDType, length: number): VoxelArray {
  return new CTORS[dtype](length);
}

/** A typed view over little-endian bytes (copied when unaligned so the view is always valid). */
export function voxelsFromBytes(dtype: VoxelDType, bytes: Uint8Array, length: number): VoxelArray {
  const ctor = CTORS[dtype];
  const nbytes = length * ctor.BYTES_PER_ELEMENT;
  if ((bytes.byteOffset % ctor.BYTES_PER_ELEMENT) === 0) {
    return new ctor(bytes.buffer, bytes.byteOffset, length);
  }
  const copy = new Uint8Array(nbytes);
  copy.set(bytes.subarray(0, nbytes));
  return new ctor(copy.buffer, 0, length);
}

export function dtypeOfArray(a: VoxelArray): VoxelDType {
  if (a instanceof Uint8Array) return 'uint8';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Uint16Array) return 'uint16';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint32Array) return 'uint32';
  if (a instanceof Float32Array) return 'float32';
  return 'float64';
}

/** Reverse byte order of each element in place (for big-endian files). */
export function swapBytesInPlace(bytes: Uint8Array, elementSize: number): void {
  if (elementSize === 1) return;
  const n = bytes.length - (bytes.length % elementSize);
  for (let o = 0; o < n; o += elementSize) {
    for (let a = o, b = o + elementSize - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/** The machine is little-endian on every platform Node 20 supports; checked once rather than assumed. */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
