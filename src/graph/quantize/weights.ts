import { GraphError, type GraphBuilder, type OpRecord } from '../builder.js';

/** A constant K x N matrix (row-major), as a MatMul's right operand holds it. */
export interface Matrix {
  rows: number; // K
  cols: number; // N
  data: Float32Array;
}

/**
 * The constant K x N matrix a value holds, when it is a float32 initializer behind Reshape to 2-D and/or
 * Transpose [1,0] only (as `linear` and the neck emit nn.Linear / 1x1-conv weights).
 */
export function constantMatrix(g: GraphBuilder, producer: Map<string, OpRecord>, name: string): Matrix | undefined {
  const t = g.initializers.get(name);
  if (t) return t.dtype === 'float32' && t.shape.length === 2 ? { rows: t.shape[0]!, cols: t.shape[1]!, data: t.data as Float32Array } : undefined;
  const r = producer.get(name);
  const v = g.values.get(name);
  if (!r || !v?.shape || v.shape.length !== 2 || !v.shape.every((d) => typeof d === 'number')) return undefined;
  const [rows, cols] = v.shape as [number, number];
  if (r.opType === 'Transpose' && String(r.attrs['perm']) === '1,0') {
    const src = constantMatrix(g, producer, r.inputs[0]!);
    if (!src) return undefined;
    const data = new Float32Array(rows * cols);
    for (let k = 0; k < src.rows; k++) for (let n = 0; n < src.cols; n++) data[n * src.rows + k] = src.data[k * src.cols + n]!;
    return { rows, cols, data };
  }
  if (r.opType === 'Reshape') {
    const src = g.initializers.get(r.inputs[0]!);
    if (src?.dtype === 'float32' && src.data.length === rows * cols) return { rows, cols, data: src.data as Float32Array };
  }
  return undefined;
}

/** The largest |q| of 8-bit and of 7-bit ("reduced range") symmetric int8 weights. */
export const INT8_LEVELS = 127;
export const INT7_LEVELS = 63;

/**
 * Symmetric int8 per channel (scale = max|w| / levels, zero point 0, |q| <= levels): `channels` groups of
 * `size` values, a channel being a row of `data` ('rows': [channels, size], e.g. Conv's output channels) or
 * a column ('columns': [size, channels], a MatMul weight's output columns). `levels` 63 keeps to 7 bits.
 */
export function symmetricPerChannel(
  data: Float32Array,
  channels: number,
  size: number,
  layout: 'rows' | 'columns',
  what: string,
  levels: number = INT8_LEVELS,
): { q: Int8Array; scale: Float32Array } {
  const at = layout === 'rows' ? (c: number, i: number) => c * size + i : (c: number, i: number) => i * channels + c;
  const scale = new Float32Array(channels);
  const q = new Int8Array(channels * size);
  for (let c = 0; c < channels; c++) {
    let m = 0;
    for (let i = 0; i < size; i++) m = Math.max(m, Math.abs(data[at(c, i)]!));
    if (!Number.isFinite(m)) throw new GraphError(`quantize: weight ${what} is not finite`);
    const s = m > 0 ? Math.fround(m / levels) : 1;
    scale[c] = s;
    for (let i = 0; i < size; i++) q[at(c, i)] = Math.max(-levels, Math.min(levels, Math.round(data[at(c, i)]! / s)));
  }
  return { q, scale };
}

/** Removes nodes none of whose outputs are used, then initializers nothing reads. */
export function dropUnused(g: GraphBuilder): void {
  const outputs = new Set(g.outputs.map((v) => v.name));
  for (;;) {
    const used = new Set<string>(outputs);
    for (const r of g.records) for (const i of r.inputs) used.add(i);
    const before = g.records.length;
    const kept = g.records.filter((r) => r.outputs.some((o) => used.has(o)));
    if (kept.length === before) {
      for (const name of [...g.initializers.keys()]) if (!used.has(name)) g.initializers.delete(name);
      return;
    }
    g.records.splice(0, g.records.length, ...kept);
  }
}
