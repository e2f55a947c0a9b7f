import { GraphError, type GraphBuilder, type OpRecord } from '../builder.js';
import { producersOf } from '../walk.js';
import { constantMatrix, dropUnused, symmetricPerChannel } from './weights.js';

/** Observed range of one activation over the calibration inputs. */
export interface ActivationRange {
  min: number;
  max: number;
}

/** What quantizeStatic rewrote. */
export interface StaticQuantizeReport {
  convs: number;
  matmuls: number;
  /** Activation x activation MatMuls (attention QK^T, AV) with both operands quantized. */
  activationMatmuls: number;
  /** Activations given a QuantizeLinear/DequantizeLinear pair. */
  activations: number;
}

export interface StaticQuantizeOptions {
  /** Also quantize MatMuls whose two operands are activations (default false). */
  activationMatmuls?: boolean;
  /** Quantize Conv nodes (default true). */
  convs?: boolean;
  /** Quantize MatMuls with a constant weight matrix (default true). */
  weightMatmuls?: boolean;
  /** Give Conv outputs a Q/DQ pair too, so ONNX Runtime fuses QLinearConv (default true). */
  convOutputs?: boolean;
  /** The largest |q| of the int8 weights: 127 (default) or 63 where the CPU's u8s8 kernels saturate. */
  weightLevels?: number;
}

/** The nodes static quantization rewrites, and the activations whose ranges it needs. */
export interface StaticPlan {
  nodes: Set<OpRecord>;
  /** Activations to calibrate, in graph order. */
  activations: string[];
}

const isFloat = (g: GraphBuilder, name: string) => g.values.get(name)?.dtype === 'float32' && !g.initializers.has(name);

/**
 * Which nodes become int8 and which activations need a calibrated range: the inputs of every chosen
 * Conv (with a constant weight) and MatMul (constant weight, or two activations when asked), and the
 * Conv outputs (ONNX Runtime fuses DequantizeLinear -> Conv -> QuantizeLinear into QLinearConv only
 * when the output is quantized too).
 */
export function planStatic(g: GraphBuilder, options: StaticQuantizeOptions = {}): StaticPlan {
  const producer = producersOf(g.records);
  const nodes = new Set<OpRecord>();
  const activations: string[] = [];
  const seen = new Set<string>();
  const need = (name: string) => {
    if (!seen.has(name)) activations.push(name);
    seen.add(name);
  };
  for (const r of g.records) {
    if (r.domain !== '') continue;
    if (r.opType === 'Conv' && options.convs !== false) {
      const w = g.initializers.get(r.inputs[1]!);
      const b = r.inputs[2] ? g.initializers.get(r.inputs[2]) : undefined;
      if (!isFloat(g, r.inputs[0]!) || w?.dtype !== 'float32' || (r.inputs[2] && !b)) continue;
      nodes.add(r);
      need(r.inputs[0]!);
      if (options.convOutputs !== false) need(r.outputs[0]!);
    } else if (r.opType === 'MatMul') {
      if (!isFloat(g, r.inputs[0]!)) continue;
      const constant = constantMatrix(g, producer, r.inputs[1]!);
      if (constant && options.weightMatmuls !== false) {
        nodes.add(r);
        need(r.inputs[0]!);
      } else if (!constant && options.activationMatmuls && isFloat(g, r.inputs[1]!)) {
        nodes.add(r);
        need(r.inputs[0]!);
        need(r.inputs[1]!);
      }
    }
  }
  return { nodes, activations };
}

/** uint8 affine parameters for a range (widened to hold 0, so zero stays exact). */
export function uint8Params(range: ActivationRange): { scale: number; zeroPoint: number } {
  const min = Math.min(0, range.min);
  const max = Math.max(0, range.max);
  if (!Number.isFinite(min) || !Number.isFinite(max)) throw new GraphError(`quantize: activation range [${range.min}, ${range.max}] is not finite`);
  const scale = max > min ? Math.fround((max - min) / 255) : 1;
  return { scale, zeroPoint: Math.max(0, Math.min(255, Math.round(-min / scale))) };
}

/**
 * Static int8 quantization in ONNX's QDQ form: each activation the plan names gets a
 * QuantizeLinear -> DequantizeLinear pair (uint8, per tensor, from its calibrated range), and each chosen
 * node's constant weights become int8 (symmetric, per output channel) behind a DequantizeLinear, Conv
 * biases int32 at scale x_scale * w_scale. ONNX Runtime's graph optimizer fuses these groups into
 * QLinearConv, QLinearMatMul and MatMulIntegerToFloat and runs them on its integer kernels (VNNI/AMX
 * on CPUs that have them); everything between them (GELU, LayerNorm, Softmax, adds) stays float32.
 * Rewrites `g` in place; float weights left without consumers are dropped.
 */
export function quantizeStatic(
  g: GraphBuilder,
  ranges: ReadonlyMap<string, ActivationRange>,
  options: StaticQuantizeOptions = {},
): StaticQuantizeReport {
  const plan = planStatic(g, options);
  const producer = producersOf(g.records);
  const report: StaticQuantizeReport = { convs: 0, matmuls: 0, activationMatmuls: 0, activations: 0 };
  const params = new Map<string, { scale: number; zeroPoint: number }>();
  for (const name of plan.activations) {
    const range = ranges.get(name);
    if (!range) throw new GraphError(`quantize: no calibrated range for activation ${name}`);
    params.set(name, uint8Params(range));
  }
  const out: OpRecord[] = [];
  /** Activation name -> the DequantizeLinear output that stands for it in quantized nodes. */
  const dequantized = new Map<string, string>();
  const scalarParams = (base: string) => {
    const p = params.get(base)!;
    return [
      g.initializer(g.uniqueName(`${base}:scale`), { dtype: 'float32', shape: [], data: Float32Array.of(p.scale) }).name,
      g.initializer(g.uniqueName(`${base}:zp`), { dtype: 'uint8', shape: [], data: Uint8Array.of(p.zeroPoint) }).name,
    ];
  };
  /** Q -> DQ of `src`, the DQ writing `dst`. */
  const emitPair = (src: string, dst: string, base: string) => {
    const [scale, zp] = scalarParams(base);
    const q = g.uniqueName(`${base}:q`);
    const v = g.values.get(src)!;
    g.values.set(q, { name: q, dtype: 'uint8', shape: v.shape });
    if (!g.values.has(dst)) g.values.set(dst, { name: dst, dtype: 'float32', shape: v.shape });
    out.push({ opType: 'QuantizeLinear', domain: '', name: g.uniqueName('n_quantize'), inputs: [src, scale!, zp!], outputs: [q], attrs: {} });
    out.push({ opType: 'DequantizeLinear', domain: '', name: g.uniqueName('n_dequantize'), inputs: [q, scale!, zp!], outputs: [dst], attrs: {} });
    report.activations++;
  };
  const activation = (name: string): string => {
    let d = dequantized.get(name);
    if (!d) {
      d = g.uniqueName(`${name}:dq`);
      emitPair(name, d, name);
      dequantized.set(name, d);
    }
    return d;
  };
  const dqWeight = (base: string, q: Int8Array, shape: number[], scale: Float32Array, axis: number): string => {
    const qName = g.initializer(g.uniqueName(`${base}:int8`), { dtype: 'int8', shape, data: q }).name;
    const sName = g.initializer(g.uniqueName(`${base}:scale`), { dtype: 'float32', shape: [scale.length], data: scale }).name;
    const zName = g.initializer(g.uniqueName(`${base}:zp`), { dtype: 'int8', shape: [scale.length], data: new Int8Array(scale.length) }).name;
    const d = g.uniqueName(`${base}:dq`);
    g.values.set(d, { name: d, dtype: 'float32', shape });
    out.push({ opType: 'DequantizeLinear', domain: '', name: g.uniqueName('n_dequantize'), inputs: [qName, sName, zName], outputs: [d], attrs: { axis } });
    return d;
  };

  for (const r of g.records) {
    if (!plan.nodes.has(r)) {
      out.push(r);
      continue;
    }
    if (r.opType === 'Conv') {
      const x = activation(r.inputs[0]!);
      const wName = r.inputs[1]!;
      const w = g.initializers.get(wName)!;
      const cout = w.shape[0]!;
      const { q, scale } = symmetricPerChannel(w.data as Float32Array, cout, (w.data.length / cout) | 0, 'rows', wName, options.weightLevels);
      const wq = dqWeight(wName, q, [...w.shape], scale, 0);
      const inputs = [x, wq];
      if (r.inputs[2]) {
        const bName = r.inputs[2];
        const b = g.initializers.get(bName)!.data as Float32Array;
        const xs = params.get(r.inputs[0]!)!.scale;
        const bs = Float32Array.from(scale, (s) => Math.fround(s * xs));
        const bq = Int32Array.from(b, (v, o) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(v / bs[o]!))));
        const qName = g.initializer(g.uniqueName(`${bName}:int32`), { dtype: 'int32', shape: [cout], data: bq }).name;
        const sName = g.initializer(g.uniqueName(`${bName}:scale`), { dtype: 'float32', shape: [cout], data: bs }).name;
        const zName = g.initializer(g.uniqueName(`${bName}:zp`), { dtype: 'int32', shape: [cout], data: new Int32Array(cout) }).name;
        const d = g.uniqueName(`${bName}:dq`);
        g.values.set(d, { name: d, dtype: 'float32', shape: [cout] });
        out.push({ opType: 'DequantizeLinear', domain: '', name: g.uniqueName('n_dequantize'), inputs: [qName, sName, zName], outputs: [d], attrs: { axis: 0 } });
        inputs.push(d);
      }
      const y = r.outputs[0]!;
      if (params.has(y)) {
        // The Conv writes a float temporary; Q -> DQ writes the original name its consumers read.
        const raw = g.uniqueName(`${y}:raw`);
        g.values.set(raw, g.values.get(y)!);
        out.push({ ...r, inputs, outputs: [raw] });
        emitPair(raw, y, y);
        dequantized.set(y, y);
      } else {
        out.push({ ...r, inputs });
      }
      report.convs++;
    } else {
      const a = activation(r.inputs[0]!);
      const w = constantMatrix(g, producer, r.inputs[1]!);
      if (w) {
        const { q, scale } = symmetricPerChannel(w.data, w.cols, w.rows, 'columns', r.inputs[1]!, options.weightLevels);
        out.push({ ...r, inputs: [a, dqWeight(r.inputs[1]!, q, [w.rows, w.cols], scale, 1)] });
        report.matmuls++;
      } else {
        out.push({ ...r, inputs: [a, activation(r.inputs[1]!)] });
        report.activationMatmuls++;
      }
    }
  }
  g.records.splice(0, g.records.length, ...out);
  dropUnused(g);
  return report;
}
