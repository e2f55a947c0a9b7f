import { DTYPE_BYTES, numel, type DType, type Tensor, type TensorData } from './tensor.js';

/** Raw bytes of one torch storage; several tensor views may share it. */
export interface Storage {
  /** Archive key of the storage (e.g. "0"), for error messages. */
  key: string;
  dtype: DType;
  /** Number of elements the storage holds. */
  numel: number;
  bytes: Uint8Array;
}

/** A tensor as torch describes it: a strided view into a storage. */
export interface TensorView {
  storage: Storage;
  storageOffset: number;
  shape: number[];
  stride: number[];
}

/**
 * A fresh, own copy of `src`. (Not `src.slice()`: on a Node Buffer, slice returns a view.)
 */
export function copyBytes(src: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(src.length);
  out.set(src);
  return out;
}

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Wrap a buffer holding contiguous little-endian elements as the typed array of `dtype`. */
export function typedArrayFor(dtype: DType, buffer: ArrayBuffer, byteOffset = 0, length?: number): TensorData {
  if (!HOST_IS_LITTLE_ENDIAN) throw new Error('checkpoint reading needs a little-endian host');
  switch (dtype) {
    case 'float32': return new Float32Array(buffer, byteOffset, length);
    case 'float64': return new Float64Array(buffer, byteOffset, length);
    case 'float16':
    case 'bfloat16': return new Uint16Array(buffer, byteOffset, length);
    case 'int64': return new BigInt64Array(buffer, byteOffset, length);
    case 'int32': return new Int32Array(buffer, byteOffset, length);
    case 'int16': return new Int16Array(buffer, byteOffset, length);
    case 'int8': return new Int8Array(buffer, byteOffset, length);
    case 'uint8':
    case 'bool': return new Uint8Array(buffer, byteOffset, length);
  }
}

/**
 * Highest storage element index the view touches plus one (0 for an empty view), or a reason
 * the view is malformed.
 */
export function viewExtent(view: TensorView): number | string {
  const { shape, stride, storageOffset } = view;
  if (shape.length !== stride.length) return `shape ${fmt(shape)} and stride ${fmt(stride)} differ in rank`;
  if (!Number.isSafeInteger(storageOffset) || storageOffset < 0) return `invalid storage offset ${storageOffset}`;
  let end = storageOffset + 1;
  for (let d = 0; d < shape.length; d++) {
    const size = shape[d]!;
    const st = stride[d]!;
    if (!Number.isSafeInteger(size) || size < 0) return `invalid size ${fmt(shape)}`;
    if (!Number.isSafeInteger(st) || st < 0) return `invalid stride ${fmt(stride)}`;
    if (size === 0) return 0;
    end += (size - 1) * st;
  }
  return end;
}

function fmt(a: readonly number[]): string {
  return `(${a.join(', ')})`;
}

/**
 * Merge dimensions that are contiguous with respect to each other and drop size-1 ones, so the
 * copy loop below runs over as few, as long rows as possible. Strides are in elements.
 */
function coalesce(shape: readonly number[], stride: readonly number[]): { shape: number[]; stride: number[] } {
  const outShape: number[] = [];
  const outStride: number[] = [];
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && outStride[last] === shape[d]! * stride[d]!) {
      outShape[last] = outShape[last]! * shape[d]!;
      outStride[last] = stride[d]!;
    } else {
      outShape.push(shape[d]!);
      outStride.push(stride[d]!);
    }
  }
  return { shape: outShape, stride: outStride };
}

type Words = Uint8Array | Uint16Array | Uint32Array;

/**
 * Strided gather of `shape` elements from `src` (all in word units) into contiguous `dst`. The three
 * innermost dimensions run as plain nested loops and only the outer ones through the index counter:
 * with a per-element counter, small transposed blocks (the golden atten.pth's 5x5x5 kernels read
 * with strides (1, 5, 25)) cost far more in bookkeeping than in copying.
 */
function gather(src: Words, dst: Words, offset: number, shape: readonly number[], stride: readonly number[]): void {
  const pad = Math.max(0, 3 - shape.length);
  const dims = [...new Array<number>(pad).fill(1), ...shape];
  const strides = [...new Array<number>(pad).fill(0), ...stride];
  const nd = dims.length;
  const [n0, n1, n2] = dims.slice(nd - 3) as [number, number, number];
  const [s0, s1, s2] = strides.slice(nd - 3) as [number, number, number];
  const outer = nd - 3;
  const blocks = numel(dims.slice(0, outer));
  const counter = new Array<number>(outer).fill(0);
  const contiguousRows = s2 === 1 && n2 >= 64;
  let base = offset;
  let o = 0;
  for (let b = 0; b < blocks; b++) {
    for (let i0 = 0, p0 = base; i0 < n0; i0++, p0 += s0) {
      for (let i1 = 0, p1 = p0; i1 < n1; i1++, p1 += s1) {
        if (contiguousRows) {
          dst.set(src.subarray(p1, p1 + n2), o);
          o += n2;
        } else {
          for (let i2 = 0, p = p1; i2 < n2; i2++, p += s2) dst[o++] = src[p]!;
        }
      }
    }
    for (let d = outer - 1; d >= 0; d--) {
      base += strides[d]!;
      if (++counter[d]! < dims[d]!) break;
      base -= strides[d]! * dims[d]!;
      counter[d] = 0;
    }
  }
}

/** Element-sized unsigned words over the storage bytes, copying once if they are misaligned. */
function storageWords(storage: Storage, wordBytes: number, cache: Map<Storage, Words>): Words {
  let words = cache.get(storage);
  if (words && words.BYTES_PER_ELEMENT === wordBytes) return words;
  let bytes = storage.bytes;
  if (bytes.byteOffset % wordBytes !== 0) bytes = copyBytes(bytes);
  const count = Math.floor(bytes.byteLength / wordBytes);
  words =
    wordBytes === 1 ? bytes
    : wordBytes === 2 ? new Uint16Array(bytes.buffer, bytes.byteOffset, count)
    : new Uint32Array(bytes.buffer, bytes.byteOffset, count);
  cache.set(storage, words);
  return words;
}

/**
 * The byte ranges of caller-owned buffers already handed out as tensors (materialize's `adopted`), so that the
 * views it makes stay disjoint whatever the file says: two storages may cover the same bytes (a legacy
 * checkpoint's storage views, or a zip whose entries overlap), and several tensors may view one storage.
 */
export class AdoptedBytes {
  /** Per buffer, the claimed ranges sorted by start as [start0, end0, start1, end1, ...] (disjoint, so ends sort too). */
  private readonly claimed = new Map<ArrayBufferLike, number[]>();

  /** Claims [start, end) of `buffer` when no claimed range overlaps it. */
  claim(buffer: ArrayBufferLike, start: number, end: number): boolean {
    let r = this.claimed.get(buffer);
    if (!r) this.claimed.set(buffer, (r = []));
    // The first claimed range that ends after `start`: the only one that can overlap [start, end).
    let lo = 0;
    let hi = r.length / 2;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (r[2 * mid + 1]! <= start) lo = mid + 1;
      else hi = mid;
    }
    if (lo < r.length / 2 && r[2 * lo]! < end) return false;
    r.splice(2 * lo, 0, start, end);
    return true;
  }
}

/**
 * Copy a (possibly non-contiguous, offset, shared) view into a fresh contiguous row-major tensor.
 * The caller has checked the view's extent against the storage. Copies move raw bits through
 * unsigned integer words, so float NaN payloads survive; 8-byte elements move as two 32-bit words.
 *
 * `adopted`: given when the caller owns the storages' bytes and hands them over (loadCheckpoint's file buffer).
 * A contiguous view whose first element is aligned then becomes a view of those bytes instead of a copy, unless
 * it overlaps bytes an earlier tensor took, so no two tensors share memory.
 */
export function materialize(view: TensorView, cache: Map<Storage, Words> = new Map(), adopted?: AdoptedBytes): Tensor {
  const { storage } = view;
  const dtype = storage.dtype;
  const elemBytes = DTYPE_BYTES[dtype];
  const n = numel(view.shape);
  const shape = [...view.shape];
  const c = coalesce(view.shape, view.stride);
  if (n === 0) return { dtype, shape, data: typedArrayFor(dtype, new ArrayBuffer(0)) };
  if (c.shape.length === 0 || (c.shape.length === 1 && c.stride[0] === 1)) {
    const start = view.storageOffset * elemBytes;
    const bytes = storage.bytes.subarray(start, start + n * elemBytes);
    if (adopted && bytes.byteOffset % elemBytes === 0 && adopted.claim(bytes.buffer, bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) {
      return { dtype, shape, data: typedArrayFor(dtype, bytes.buffer as ArrayBuffer, bytes.byteOffset, n) };
    }
    return { dtype, shape, data: typedArrayFor(dtype, copyBytes(bytes).buffer) };
  }
  const wordBytes = Math.min(elemBytes, 4);
  const ratio = elemBytes / wordBytes;
  let wShape = c.shape;
  let wStride = c.stride;
  let offset = view.storageOffset;
  if (ratio > 1) {
    wShape = [...c.shape, ratio];
    wStride = [...c.stride.map((s) => s * ratio), 1];
    offset *= ratio;
  }
  const out = new ArrayBuffer(n * elemBytes);
  const dst: Words = wordBytes === 1 ? new Uint8Array(out) : wordBytes === 2 ? new Uint16Array(out) : new Uint32Array(out);
  gather(storageWords(storage, wordBytes, cache), dst, offset, wShape, wStride);
  return { dtype, shape, data: typedArrayFor(dtype, out) };
}
