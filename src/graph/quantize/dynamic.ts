import type { GraphBuilder, OpRecord } from '../builder.js';
import { consumersOf, producersOf } from '../walk.js';
import { constantMatrix, dropUnused, INT8_LEVELS, symmetricPerChannel } from './weights.js';

export { INT7_LEVELS, INT8_LEVELS } from './weights.js';

/** What quantizeMatMulWeights rewrote. */
export interface QuantizeReport {
  /** MatMul nodes now running as int8 (DynamicQuantizeMatMul). */
  matmuls: number;
  /** Weight values (float32) replaced by int8, and their total count. */
  weights: number;
  /** Bias Adds folded into the DynamicQuantizeMatMul that feeds them. */
  biases: number;
}

export interface QuantizeMatMulOptions {
  /**
   * The largest |q| of the int8 weights: 127 (default) or 63, 7 bits, for CPUs whose u8s8 kernels saturate
   * 16-bit sums (see u8s8Saturation.ts).
   */
  weightLevels?: number;
}

/** ONNX Runtime's contrib-op domain (DynamicQuantizeMatMul lives there). */
export const ORT_CONTRIB_DOMAIN = 'com.microsoft';

/**
 * Dynamic int8 quantization of every MatMul whose right operand is a constant matrix (an initializer,
 * possibly behind a Reshape to 2-D and/or a Transpose [1,0], as `linear` and the neck emit it):
 * weights become symmetric per-column int8 (scale = max|w_col| / 127, or / 63 with `weightLevels` 63; zero
 * point 0), and the node becomes
 * ONNX Runtime's fused DynamicQuantizeMatMul, which quantizes the activation per tensor to uint8 at run
 * time (min/max over the tensor, so no calibration data is needed) and runs the u8s8 integer GEMM (VNNI
 * on AVX-512 CPUs) with the scales folded into its float output.
 * Conv stays float32: ORT's ConvInteger was measured 2.5-6x slower than its float NCHWc Conv here.
 * Rewrites `g` in place; nodes and float weights left without consumers are dropped.
 */
export function quantizeMatMulWeights(g: GraphBuilder, options: QuantizeMatMulOptions = {}): QuantizeReport {
  const levels = options.weightLevels ?? INT8_LEVELS;
  const producer = producersOf(g.records);
  const report: QuantizeReport = { matmuls: 0, weights: 0, biases: 0 };
  const quantized = new Map<string, [string, string, string]>();
  const consumers = consumersOf(g.records);
  const dropped = new Set<OpRecord>();
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
      const { q, scale } = symmetricPerChannel(w.data, w.cols, w.rows, 'columns', bName, levels);
      const add = (suffix: string, t: Parameters<GraphBuilder['initializer']>[1]) => g.initializer(`${bName}:${suffix}`, t).name;
      names = [
        add('int8', { dtype: 'int8', shape: [w.rows, w.cols], data: q }),
        add('scale', { dtype: 'float32', shape: [w.cols], data: scale }),
        add('zero_point', { dtype: 'int8', shape: [w.cols], data: new Int8Array(w.cols) }),
      ];
      quantized.set(bName, names);
      report.weights += w.rows * w.cols;
    }
    // A following `+ bias` (a constant [N]) moves into the kernel, which adds it while writing its output.
    const add = biasAdd(g, consumers, r.outputs[0]!, g.initializers.get(names[1])!.shape[0]!);
    const inputs = [r.inputs[0]!, ...names];
    let outputs = r.outputs;
    if (add) {
      inputs.push(add.bias);
      outputs = add.record.outputs;
      dropped.add(add.record);
      report.biases++;
    }
    g.records[i] = { opType: 'DynamicQuantizeMatMul', domain: ORT_CONTRIB_DOMAIN, name: r.name, inputs, outputs, attrs: {} };
    report.matmuls++;
  }
  if (dropped.size) g.records.splice(0, g.records.length, ...g.records.filter((r) => !dropped.has(r)));
  dropUnused(g);
  return report;
}


/** The Add that is the only reader of `value` and adds a constant float32 [n] to it, with that constant's name. */
function biasAdd(g: GraphBuilder, consumers: Map<string, OpRecord[]>, value: string, n: number): { record: OpRecord; bias: string } | undefined {
  const readers = consumers.get(value) ?? [];
  if (readers.length !== 1 || g.outputs.some((o) => o.name === value)) return undefined;
  const r = readers[0]!;
  if (r.opType !== 'Add' || r.domain !== '') return undefined;
  const bias = r.inputs[0] === value ? r.inputs[1]! : r.inputs[0]!;
  const t = g.initializers.get(bias);
  return t?.dtype === 'float32' && t.shape.length === 1 && t.shape[0] === n ? { record: r, bias } : undefined;
}
