import type { DType } from '../checkpoint/tensor.js';
import type { AttrValue, Dim, GraphBuilder, OpRecord, Value } from './builder.js';

export interface InferredInfo {
  dtype?: DType;
  shape?: Dim[];
}

/**
 * Build-time shape inference for the ops the model uses. It is best effort: an op it does not know,
 * or one whose shape depends on runtime data, yields an unknown shape. Shapes let model code assert
 * its layout while building and let the training pass size gradient buffers.
 */
export function inferShapes(g: GraphBuilder, r: OpRecord, inputs: readonly (Value | null)[]): InferredInfo[] {
  const s = inputs.map((v) => v?.shape);
  const x = s[0];
  const a = r.attrs;
  const same = (): InferredInfo[] => [{ ...(x ? { shape: [...x] } : {}) }];
  switch (r.opType) {
    case 'Identity':
    case 'Relu':
    case 'Sigmoid':
    case 'Gelu':
    case 'Erf':
    case 'Tanh':
    case 'Exp':
    case 'Log':
    case 'Sqrt':
    case 'Neg':
    case 'Abs':
    case 'Cos':
    case 'Sin':
    case 'Reciprocal':
    case 'Softmax':
    case 'LogSoftmax':
    case 'Softplus':
    case 'Sign':
    case 'Elu':
    case 'Clip':
    case 'Floor':
    case 'Ceil':
    case 'Round':
    case 'LayerNormalization':
    case 'BatchNormalization':
    case 'InstanceNormalization':
    case 'Dropout':
    case 'Not':
      return same();
    case 'Cast':
      return [{ ...(x ? { shape: [...x] } : {}), dtype: dtypeFromOnnx(a['to'] as number) }];
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div':
    case 'Pow':
    case 'Max':
    case 'Min':
    case 'Sum':
      return [{ ...opt(broadcastAll(s)) }];
    case 'Equal':
    case 'Greater':
    case 'Less':
    case 'GreaterOrEqual':
    case 'LessOrEqual':
    case 'And':
    case 'Or':
      return [{ ...opt(broadcastAll(s)), dtype: 'bool' }];
    case 'Where':
      return [{ ...opt(broadcastAll(s)), ...(inputs[1] ? { dtype: inputs[1].dtype } : {}) }];
    case 'MatMul':
      return [{ ...opt(matmulShape(s[0], s[1])) }];
    case 'Gemm': {
      if (!s[0] || !s[1]) return [{}];
      const m = a['transA'] ? s[0][1]! : s[0][0]!;
      const n = a['transB'] ? s[1][0]! : s[1][1]!;
      return [{ shape: [m, n] }];
    }
    case 'Conv':
      return [{ ...opt(convShape(s[0], s[1], a, false)) }];
    case 'ConvTranspose':
      return [{ ...opt(convShape(s[0], s[1], a, true)) }];
    case 'Reshape': {
      const target = inputs[1] ? g.constantValues(inputs[1].name) : undefined;
      return [{ ...opt(x && target ? reshapeShape(x, target) : undefined) }];
    }
    case 'Transpose': {
      if (!x) return [{}];
      const perm = (a['perm'] as number[] | undefined) ?? x.map((_, i) => x.length - 1 - i);
      return [{ shape: perm.map((p) => x[p]!) }];
    }
    case 'Concat': {
      if (s.some((t) => !t)) return [{}];
      const shapes = s as Dim[][];
      const axis = normAxis(a['axis'] as number, shapes[0]!.length);
      const out = [...shapes[0]!];
      let total: Dim = 0;
      for (const t of shapes) total = addDim(total, t[axis]!);
      out[axis] = total;
      return [{ shape: out }];
    }
    case 'Unsqueeze': {
      const axes = inputs[1] ? g.constantValues(inputs[1].name) : undefined;
      if (!x || !axes) return [{}];
      const rank = x.length + axes.length;
      const norm = axes.map((ax) => normAxis(ax, rank)).sort((p, q) => p - q);
      const out: Dim[] = [...x];
      for (const ax of norm) out.splice(ax, 0, 1);
      return [{ shape: out }];
    }
    case 'Squeeze': {
      const axes = inputs[1] ? g.constantValues(inputs[1].name) : undefined;
      if (!x) return [{}];
      const drop = new Set(axes ? axes.map((ax) => normAxis(ax, x.length)) : x.flatMap((d, i) => (d === 1 ? [i] : [])));
      return [{ shape: x.filter((_, i) => !drop.has(i)) }];
    }
    case 'Slice': {
      const starts = inputs[1] ? g.constantValues(inputs[1].name) : undefined;
      const ends = inputs[2] ? g.constantValues(inputs[2].name) : undefined;
      const axes = inputs[3] ? g.constantValues(inputs[3].name) : undefined;
      const steps = inputs[4] ? g.constantValues(inputs[4].name) : undefined;
      if (!x || !starts || !ends) return [{}];
      const out = [...x];
      for (let k = 0; k < starts.length; k++) {
        const ax = normAxis(axes ? axes[k]! : k, x.length);
        const n = x[ax];
        if (typeof n !== 'number') return [{}];
        const step = steps ? steps[k]! : 1;
        const clampIdx = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + n : v, lo), hi);
        if (step > 0) {
          const b = clampIdx(starts[k]!, 0, n);
          const e = clampIdx(ends[k]!, 0, n);
          out[ax] = Math.max(0, Math.ceil((e - b) / step));
        } else {
          const b = clampIdx(starts[k]!, -1, n - 1);
          const e = clampIdx(ends[k]!, -1, n - 1);
          out[ax] = Math.max(0, Math.ceil((e - b) / step));
        }
      }
      return [{ shape: out }];
    }
    case 'ReduceMean':
    case 'ReduceSum':
    case 'ReduceMax':
    case 'ReduceMin':
    case 'ReduceSumSquare': {
      if (!x) return [{}];
      const axes = inputs[1] ? g.constantValues(inputs[1].name) : (a['axes'] as number[] | undefined);
      const keep = a['keepdims'] === undefined ? 1 : (a['keepdims'] as number);
      const set = new Set((axes ?? x.map((_, i) => i)).map((ax) => normAxis(ax, x.length)));
      const out: Dim[] = [];
      x.forEach((d, i) => {
        if (!set.has(i)) out.push(d);
        else if (keep) out.push(1);
      });
      return [{ shape: out }];
    }
    case 'Gather': {
      const idx = s[1];
      if (!x || !idx) return [{}];
      const axis = normAxis((a['axis'] as number | undefined) ?? 0, x.length);
      return [{ shape: [...x.slice(0, axis), ...idx, ...x.slice(axis + 1)] }];
    }
    case 'Expand': {
      const target = inputs[1] ? g.constantValues(inputs[1].name) : undefined;
      return [{ ...opt(x && target ? broadcastAll([x, target]) : undefined) }];
    }
    case 'Resize': {
      const sizes = inputs[3] ? g.constantValues(inputs[3].name) : undefined;
      if (x && sizes) return [{ shape: sizes }];
      const scales = inputs[2] ? g.constantValues(inputs[2].name) : undefined;
      if (x && scales && x.every((d) => typeof d === 'number')) {
        return [{ shape: (x as number[]).map((d, i) => Math.floor(d * scales[i]!)) }];
      }
      return [{}];
    }
    case 'Pad': {
      const pads = inputs[1] ? g.constantValues(inputs[1].name) : undefined;
      if (!x || !pads) return [{}];
      const r0 = x.length;
      return [{ shape: x.map((d, i) => addDim(d, pads[i]! + pads[i + r0]!)) }];
    }
    case 'Split': {
      const split = inputs[1] ? g.constantValues(inputs[1].name) : undefined;
      if (!x || !split) return r.outputs.map(() => ({}));
      const axis = normAxis((a['axis'] as number | undefined) ?? 0, x.length);
      return split.map((n) => {
        const out = [...x];
        out[axis] = n;
        return { shape: out };
      });
    }
    case 'ConstantOfShape': {
      const shape = inputs[0] ? g.constantValues(inputs[0].name) : undefined;
      const value = a['value'] as { dtype?: DType } | undefined;
      return [{ ...opt(shape), dtype: value?.dtype ?? 'float32' }];
    }
    case 'Tile': {
      const reps = inputs[1] ? g.constantValues(inputs[1].name) : undefined;
      if (!x || !reps) return [{}];
      return [{ shape: x.map((d, i) => (typeof d === 'number' ? d * reps[i]! : reps[i] === 1 ? d : mulDim(d, reps[i]!))) }];
    }
    case 'Shape':
      return [{ ...(x ? { shape: [x.length] } : {}), dtype: 'int64' }];
    default:
      return r.outputs.map(() => ({}));
  }
}

/**
 * Build-time value of a small 1-D int64 result computed from known shapes or constants (Shape of a
 * fixed-shape tensor, and Slice/Concat/Unsqueeze/Squeeze of such values), so that a Reshape or Expand
 * fed by it still gets an inferred shape. Undefined when any part is unknown or symbolic.
 */
export function foldIntValues(g: GraphBuilder, r: OpRecord, inputs: readonly (Value | null)[]): number[] | undefined {
  const vals = (k: number) => (inputs[k] ? g.constantValues(inputs[k].name) : undefined);
  switch (r.opType) {
    case 'Shape': {
      const s = inputs[0]?.shape;
      if (!s || !s.every((d) => typeof d === 'number') || r.attrs['start'] !== undefined || r.attrs['end'] !== undefined) return undefined;
      return [...(s as number[])];
    }
    case 'Slice': {
      const x = vals(0);
      const starts = vals(1);
      const ends = vals(2);
      if (!x || !starts || !ends || starts.length !== 1 || (inputs[4] && vals(4)?.[0] !== 1)) return undefined;
      if (inputs[3] && vals(3)?.[0] !== 0) return undefined;
      const n = x.length;
      const clampIdx = (v: number) => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
      return x.slice(clampIdx(starts[0]!), clampIdx(ends[0]!));
    }
    case 'Concat': {
      const parts = inputs.map((_, k) => vals(k));
      if (parts.some((p) => !p) || inputs.some((v) => v?.shape?.length !== 1)) return undefined;
      return parts.flatMap((p) => p!);
    }
    default:
      return undefined;
  }
}

function opt(shape: Dim[] | undefined): InferredInfo {
  return shape ? { shape } : {};
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

function addDim(p: Dim, q: Dim): Dim {
  if (q === 0) return p;
  if (p === 0) return q;
  return typeof p === 'number' && typeof q === 'number' ? p + q : `${p}+${q}`;
}

function broadcastAll(shapes: readonly (readonly Dim[] | undefined)[]): Dim[] | undefined {
  if (shapes.some((t) => !t)) return undefined;
  const rank = Math.max(...shapes.map((t) => t!.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const t of shapes) {
      const k = t!.length - rank + i;
      if (k < 0) continue;
      const e = t![k]!;
      if (e === 1) continue;
      if (d === 1) d = e;
      else if (typeof d === 'number' && typeof e === 'number' && d !== e) {
        throw new Error(`cannot broadcast shapes ${shapes.map((q) => `[${q!.join(',')}]`).join(' and ')}`);
      }
    }
    out.push(d);
  }
  return out;
}

function matmulShape(p: readonly Dim[] | undefined, q: readonly Dim[] | undefined): Dim[] | undefined {
  if (!p || !q || p.length < 2 || q.length < 2) return undefined;
  const [m, k1] = p.slice(-2);
  const [k2, n] = q.slice(-2);
  if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) {
    throw new Error(`MatMul inner dimensions differ: [${p.join(',')}] x [${q.join(',')}]`);
  }
  const batch = broadcastAll([p.slice(0, -2), q.slice(0, -2)]);
  return batch ? [...batch, m!, n!] : undefined;
}

function convShape(
  xs: readonly Dim[] | undefined,
  ws: readonly Dim[] | undefined,
  a: Readonly<Record<string, AttrValue>>,
  transposed: boolean,
): Dim[] | undefined {
  if (!xs || !ws) return undefined;
  const nsp = xs.length - 2;
  const kernel = (a['kernel_shape'] as number[] | undefined) ?? (ws.slice(2) as number[]);
  const strides = (a['strides'] as number[] | undefined) ?? new Array<number>(nsp).fill(1);
  const dil = (a['dilations'] as number[] | undefined) ?? new Array<number>(nsp).fill(1);
  const pads = (a['pads'] as number[] | undefined) ?? new Array<number>(2 * nsp).fill(0);
  const group = (a['group'] as number | undefined) ?? 1;
  const outPad = (a['output_padding'] as number[] | undefined) ?? new Array<number>(nsp).fill(0);
  const cout = transposed ? mulDim(ws[1]!, group) : ws[0]!;
  const out: Dim[] = [xs[0]!, cout];
  for (let i = 0; i < nsp; i++) {
    const n = xs[i + 2]!;
    if (typeof n !== 'number') return undefined;
    const k = kernel[i]!;
    const p = pads[i]! + pads[i + nsp]!;
    out.push(
      transposed
        ? (n - 1) * strides[i]! - p + dil[i]! * (k - 1) + outPad[i]! + 1
        : Math.floor((n + p - dil[i]! * (k - 1) - 1) / strides[i]!) + 1,
    );
  }
  return out;
}

function mulDim(p: Dim, q: number): Dim {
  return typeof p === 'number' ? p * q : q === 1 ? p : `${p}*${q}`;
}

function reshapeShape(x: readonly Dim[], target: readonly number[]): Dim[] | undefined {
  const out: Dim[] = target.map((t, i) => (t === 0 ? x[i]! : t));
  const neg = out.indexOf(-1);
  if (neg >= 0) {
    // Numeric element count of x, plus its symbolic factors ('N' or 'N*k' from an earlier -1).
    let numX = 1;
    const syms: string[] = [];
    for (const d of x) {
      if (typeof d === 'number') numX *= d;
      else {
        const m = /^(.+)\*(\d+)$/.exec(d);
        if (m) numX *= Number(m[2]);
        syms.push(m ? m[1]! : d);
      }
    }
    let numOut = 1;
    for (let i = 0; i < out.length; i++) {
      const q = out[i]!;
      if (i === neg) continue;
      if (typeof q === 'number') numOut *= q;
      else {
        // A symbolic dim kept in place (target 0) cancels the same symbol of x.
        const k = syms.indexOf(q);
        if (k < 0) return undefined;
        syms.splice(k, 1);
      }
    }
    if (numOut === 0 || numX % numOut !== 0) return undefined;
    const r = numX / numOut;
    if (syms.length === 0) out[neg] = r;
    else if (syms.length === 1) out[neg] = r === 1 ? syms[0]! : `${syms[0]!}*${r}`;
    else return undefined;
  }
  return out;
}

const ONNX_TO_DTYPE: Record<number, DType> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  16: 'bfloat16',
};

function dtypeFromOnnx(code: number): DType {
  const d = ONNX_TO_DTYPE[code];
  if (!d) throw new Error(`Cast to ONNX data type ${code} is not supported`);
  return d;
}
