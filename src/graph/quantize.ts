import type { Tensor } from '../checkpoint/tensor.js';
import { GraphError, type GraphBuilder, type OpRecord } from './builder.js';

/** What quantizeMatMulWeights rewrote. */
export interface QuantizeReport {
  /** MatMul nodes now running as int8 (DynamicQuantizeMatMul). */
  matmuls: number;
  /** Weight values (float32) replaced by int8, and their total count. */
  weights: number;
}

/** ONNX Runtime's contrib-op domain (DynamicQuantizeMatMul lives there). */
export const ORT_CONTRIB_DOMAIN = 'com.microsoft';

/**
 * Dynamic int8 quantization of every MatMul whose right operand is a constant matrix (an initializer,
 * possibly behind a Reshape to 2-D and/or a Transpose [1,0], as `linear` and the neck emit it):
 * weights become symmetric per-column int8 (scale = max|w_col| / 127, zero point 0), and the node becomes
 * ONNX Runtime's fused DynamicQuantizeMatMul, which quantizes the activation per tensor to uint8 at run
 * time (min/max over the tensor, so no calibration data is needed) and runs the u8s8 integer GEMM (VNNI
 * on AVX-512 CPUs) with the scales folded into its float output.
 * Conv stays float32: ORT's ConvInteger was measured 2.5-6x slower than its float NCHWc Conv here.
 * Rewrites `g` in place; nodes and float weights left without consumers are dropped.
 */
export function quantizeMatMulWeights(g: GraphBuilder): QuantizeReport {
  const producer = new Map<string, OpRecord>();
  for (const r of g.records) for (const o of r.outputs) producer.set(o, r);
  const report: QuantizeReport = { matmuls: 0, weights: 0 };
  const quantized = new Map<string, [string, string, string]>();
  for (let i = 0; i < g.records.length; i++) {
    const r = g.records[i]!;
    if (r.opType !== 'MatMul' || r.domain !== '') continue;
    const a = g.values.get(r.inputs[0]!);
    if (!a || a.dtype !== 'float32') continue;
    const bName = r.inputs[1]!;
    let names = quantized.get(bName);
    if (!names) {
      const w = constantMatrix(g, producer, bName);
      if (!w) continue;
      names = addQuantizedWeight(g, bName, w);
      quantized.set(bName, names);
      report.weights += w.rows * w.cols;
    }
    g.records[i] = { opType: 'DynamicQuantizeMatMul', domain: ORT_CONTRIB_DOMAIN, name: r.name, inputs: [r.inputs[0]!, ...names], outputs: r.outputs, attrs: {} };
    report.matmuls++;
  }
  dropUnused(g);
  return report;
}

interface Matrix {
  rows: number; // K
  cols: number; // N
  /** Row-major K x N. */
  data: Float32Array;
}

/** The constant K x N matrix a value holds, when it is a float32 initializer behind Reshape/Transpose only. */
function constantMatrix(g: GraphBuilder, producer: Map<string, OpRecord>, name: string): Matrix | undefined {
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

function addQuantizedWeight(g: GraphBuilder, base: string, w: Matrix): [string, string, string] {
  const { rows: K, cols: N, data } = w;
  const scale = new Float32Array(N);
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) scale[n] = Math.max(scale[n]!, Math.abs(data[k * N + n]!));
  }
  for (let n = 0; n < N; n++) scale[n] = scale[n]! > 0 ? scale[n]! / 127 : 1;
  const q = new Int8Array(K * N);
  for (let k = 0; k < K; k++) {
    for (let n = 0; n < N; n++) q[k * N + n] = Math.max(-127, Math.min(127, Math.round(data[k * N + n]! / scale[n]!)));
  }
  if (!Number.isFinite(scale.reduce((s, x) => s + x, 0))) throw new GraphError(`quantize: weight ${base} is not finite`);
  const add = (suffix: string, t: Tensor) => g.initializer(`${base}:${suffix}`, t).name;
  return [
    add('int8', { dtype: 'int8', shape: [K, N], data: q }),
    add('scale', { dtype: 'float32', shape: [N], data: scale }),
    add('zero_point', { dtype: 'int8', shape: [N], data: new Int8Array(N) }),
  ];
}

/** Removes nodes none of whose outputs are used, then initializers nothing reads. */
function dropUnused(g: GraphBuilder): void {
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
