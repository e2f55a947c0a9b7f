/** Element types a checkpoint tensor can have (names follow ONNX / safetensors spelling). */
export type DType =
  | 'float32'
  | 'float16'
  | 'bfloat16'
  | 'float64'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool';

/**
 * Typed storage per dtype. float16/bfloat16 keep their raw 16-bit patterns (Uint16Array);
 * `toFloat32` widens them. bool is stored as Uint8Array (0/1).
 */
export type TensorData =
  | Float32Array
  | Float64Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

/** A dense, contiguous, row-major (C order) tensor. */
export interface Tensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

/** A state_dict: parameter name -> tensor, in checkpoint order. */
export type StateDict = Map<string, Tensor>;

export interface ReadCheckpointOptions {
  /**
   * The caller hands the file's bytes over and will not change them (loadCheckpoint, which read them itself):
   * tensors stored contiguously and aligned are then views of those bytes instead of copies (never two over the
   * same bytes; the rest are copied as usual). Default false: every tensor owns its memory.
   */
  adoptBytes?: boolean;
}

export const DTYPE_BYTES: Record<DType, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE half -> float32. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** bfloat16 -> float32: the 16 bits are the top half of a float32. */
export function bfloat16ToFloat(b: number): number {
  u32Scratch[0] = (b & 0xffff) << 16;
  return f32Scratch[0]!;
}

/** Widen any floating or integer tensor to float32 (copying). */
export function toFloat32(t: Tensor): Float32Array {
  const n = t.data.length;
  if (t.dtype === 'float32') return t.data as Float32Array;
  const out = new Float32Array(n);
  if (t.dtype === 'float16') {
    const d = t.data as Uint16Array;
    for (let i = 0; i < n; i++) out[i] = halfToFloat(d[i]!);
  } else if (t.dtype === 'bfloat16') {
    const d = t.data as Uint16Array;
    for (let i = 0; i < n; i++) out[i] = bfloat16ToFloat(d[i]!);
  } else if (t.dtype === 'int64') {
    const d = t.data as BigInt64Array;
    for (let i = 0; i < n; i++) out[i] = Number(d[i]!);
  } else {
    const d = t.data as Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array;
    for (let i = 0; i < n; i++) out[i] = d[i]!;
  }
  return out;
}
