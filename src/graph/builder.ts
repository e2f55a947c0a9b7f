import type { DType, Tensor, TensorData } from '../checkpoint/tensor.js';
import { numel } from '../checkpoint/tensor.js';
import { AttributeType, ModelProto, OnnxDataType } from './onnxSchema.js';
import { foldIntValues, inferShapes } from './shapes.js';

/** A dimension: a fixed size, or a symbolic name (e.g. the batch 'N'). */
export type Dim = number | string;

/** A named tensor flowing through the graph (graph input, initializer, or node output). */
export interface Value {
  readonly name: string;
  readonly dtype: DType;
  /** Shape where the builder could infer it; undefined when unknown. */
  readonly shape: Dim[] | undefined;
}

export type AttrValue = number | string | number[] | string[] | Tensor;

/**
 * One emitted node. Kept as plain data so later passes (e.g. training's backward-graph derivation)
 * can walk the forward graph: op type, inputs, outputs, attributes and the shapes known at build time.
 */
export interface OpRecord {
  readonly opType: string;
  readonly domain: string;
  readonly name: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: Readonly<Record<string, AttrValue>>;
}

/** Attribute names whose numeric values ONNX types as FLOAT / FLOATS (everything else numeric is INT). */
const FLOAT_ATTRS = new Set([
  'alpha',
  'beta',
  'epsilon',
  'momentum',
  'gamma',
  'ratio',
  'cubic_coeff_a',
  'extrapolation_value',
  'scales',
  'value_float',
  'value_floats',
  'spatial_scale',
]);

export interface BuilderOptions {
  /** ai.onnx opset; 21 has LayerNormalization, Gelu (20) and Resize antialias (18). */
  opset?: number;
  docString?: string;
}

export class GraphError extends Error {
  override name = 'GraphError';
}

/**
 * Emits an ONNX model from TypeScript, in the style of a PyTorch `forward`: every call adds a node
 * and returns its output Value. Initializers come straight from checkpoint tensors.
 */
export class GraphBuilder {
  readonly opset: number;
  readonly records: OpRecord[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly initializers = new Map<string, Tensor>();
  /** Every value by name (inputs, initializers, node outputs). */
  readonly values = new Map<string, Value>();
  private readonly docString: string;
  private counter = 0;
  private readonly constCache = new Map<string, Value>();
  /** Small int64 values known at build time though computed by nodes (e.g. Shape of a fixed-shape tensor). */
  private readonly foldedInts = new Map<string, number[]>();

  constructor(
    readonly name: string,
    options: BuilderOptions = {},
  ) {
    this.opset = options.opset ?? 21;
    this.docString = options.docString ?? '';
  }

  /** A fresh unique value name with a readable prefix. */
  uniqueName(prefix: string): string {
    let n: string;
    do n = `${prefix}_${this.counter++}`;
    while (this.values.has(n));
    return n;
  }

  input(name: string, dtype: DType, shape: Dim[]): Value {
    this.assertFree(name);
    const v: Value = { name, dtype, shape: [...shape] };
    this.values.set(name, v);
    this.inputs.push(v);
    return v;
  }

  /** Mark a value as a graph output, optionally under a new name (an Identity node renames it). */
  output(value: Value, name?: string): Value {
    let v = value;
    if (name !== undefined && name !== value.name) {
      this.assertFree(name);
      v = this.op('Identity', [value], {}, { outputName: name });
    }
    this.outputs.push(v);
    return v;
  }

  /** Register a tensor (e.g. from a checkpoint) as an initializer. */
  initializer(name: string, tensor: Tensor): Value {
    this.assertFree(name);
    if (tensor.data.length !== numel(tensor.shape)) {
      throw new GraphError(
        `initializer ${name}: data has ${tensor.data.length} elements, shape [${tensor.shape.join(',')}] needs ${numel(tensor.shape)}`,
      );
    }
    this.initializers.set(name, tensor);
    const v: Value = { name, dtype: tensor.dtype, shape: [...tensor.shape] };
    this.values.set(name, v);
    return v;
  }

  /** A small constant initializer, deduplicated by content. */
  constant(data: number[] | TensorData, shape: number[], dtype: DType = 'float32'): Value {
    const typed = toTyped(data, dtype);
    const key = `${dtype}|${shape.join(',')}|${Array.from(typed as ArrayLike<number | bigint>, String).join(',')}`;
    const cached = key.length < 4096 ? this.constCache.get(key) : undefined;
    if (cached) return cached;
    const v = this.initializer(this.uniqueName('const'), { dtype, shape, data: typed });
    if (key.length < 4096) this.constCache.set(key, v);
    return v;
  }

  scalar(x: number, dtype: DType = 'float32'): Value {
    return this.constant([x], [], dtype);
  }

  int64s(xs: number[]): Value {
    return this.constant(xs, [xs.length], 'int64');
  }

  /** Constant value of an initializer as numbers (for shape inference), or undefined. */
  constantValues(name: string): number[] | undefined {
    const folded = this.foldedInts.get(name);
    if (folded) return folded;
    const t = this.initializers.get(name);
    if (!t || t.data.length > 64) return undefined;
    return Array.from(t.data as ArrayLike<number | bigint>, Number);
  }

  /** Emit one node with a single output. */
  op(
    opType: string,
    inputs: readonly (Value | null)[],
    attrs: Record<string, AttrValue> = {},
    options: { domain?: string; outputName?: string; dtype?: DType } = {},
  ): Value {
    return this.opMulti(opType, inputs, 1, attrs, {
      ...options,
      ...(options.outputName !== undefined ? { outputNames: [options.outputName] } : {}),
    })[0]!;
  }

  /** Emit one node with `nOutputs` outputs. */
  opMulti(
    opType: string,
    inputs: readonly (Value | null)[],
    nOutputs: number,
    attrs: Record<string, AttrValue> = {},
    options: { domain?: string; outputNames?: string[]; dtype?: DType } = {},
  ): Value[] {
    for (const i of inputs) {
      if (i && !this.values.has(i.name)) throw new GraphError(`${opType}: input ${i.name} is not in graph ${this.name}`);
    }
    const prefix = opType.toLowerCase();
    const outNames = options.outputNames ?? Array.from({ length: nOutputs }, () => this.uniqueName(prefix));
    outNames.forEach((n) => this.assertFree(n));
    const record: OpRecord = {
      opType,
      domain: options.domain ?? '',
      name: this.uniqueName(`n_${prefix}`),
      inputs: inputs.map((i) => (i ? i.name : '')),
      outputs: outNames,
      attrs,
    };
    const inferred = inferShapes(this, record, inputs);
    const outs = outNames.map((name, k) => {
      const info = inferred[k];
      const v: Value = {
        name,
        dtype: options.dtype ?? info?.dtype ?? inputs.find((x) => x)?.dtype ?? 'float32',
        shape: info?.shape,
      };
      this.values.set(name, v);
      return v;
    });
    const folded = foldIntValues(this, record, inputs);
    if (folded) this.foldedInts.set(outNames[0]!, folded);
    this.records.push(record);
    return outs;
  }

  /**
   * Removes `dead` nodes (e.g. a derivation's nodes nothing reads), their output values, and the initializers only
   * they read (ONNX Runtime warns about unused initializers), keeping the constant cache consistent.
   */
  removeNodes(dead: ReadonlySet<OpRecord>): void {
    if (dead.size === 0) return;
    const kept = this.records.filter((r) => !dead.has(r));
    this.records.splice(0, this.records.length, ...kept);
    const read = new Set<string>([...kept.flatMap((r) => r.inputs), ...this.outputs.map((v) => v.name)]);
    for (const r of dead) {
      for (const o of r.outputs) this.values.delete(o);
      for (const i of r.inputs) if (i && this.initializers.has(i) && !read.has(i)) {
        this.initializers.delete(i);
        this.values.delete(i);
      }
    }
    for (const [key, v] of this.constCache) if (!this.values.has(v.name)) this.constCache.delete(key);
  }

  /**
   * Replaces `record` (a node with one output) by the nodes `emit` adds, in its place in node order; the value
   * `emit` returns takes over the record's output name. For lowering passes over a finished graph.
   */
  replaceNode(record: OpRecord, emit: () => Value): void {
    const at = this.records.indexOf(record);
    if (at < 0 || record.outputs.length !== 1) throw new GraphError(`replaceNode: ${record.name} is not a single-output node of ${this.name}`);
    const start = this.records.length;
    const result = emit();
    const added = this.records.splice(start);
    const k = added.findIndex((r) => r.outputs.includes(result.name));
    if (k < 0) throw new GraphError(`replaceNode ${record.name}: the replacement's result ${result.name} is not one of its node outputs`);
    const producer = added[k]!;
    added[k] = { ...producer, outputs: producer.outputs.map((o) => (o === result.name ? record.outputs[0]! : o)) };
    this.values.delete(result.name);
    this.records.splice(at, 1, ...added);
  }

  // ---- typed shorthands for the ops the models use (all go through `op`, so records stay uniform) ----
  add(a: Value, b: Value): Value {
    return this.op('Add', [a, b]);
  }
  sub(a: Value, b: Value): Value {
    return this.op('Sub', [a, b]);
  }
  mul(a: Value, b: Value): Value {
    return this.op('Mul', [a, b]);
  }
  div(a: Value, b: Value): Value {
    return this.op('Div', [a, b]);
  }
  matmul(a: Value, b: Value): Value {
    return this.op('MatMul', [a, b]);
  }
  relu(x: Value): Value {
    return this.op('Relu', [x]);
  }
  gelu(x: Value, approximate: 'none' | 'tanh' = 'none'): Value {
    return this.op('Gelu', [x], approximate === 'none' ? {} : { approximate });
  }
  sigmoid(x: Value): Value {
    return this.op('Sigmoid', [x]);
  }
  softmax(x: Value, axis = -1): Value {
    return this.op('Softmax', [x], { axis });
  }
  transpose(x: Value, perm: number[]): Value {
    return this.op('Transpose', [x], { perm });
  }
  reshape(x: Value, shape: number[]): Value {
    return this.op('Reshape', [x, this.int64s(shape)]);
  }
  concat(xs: Value[], axis: number): Value {
    return this.op('Concat', xs, { axis });
  }
  slice(x: Value, starts: number[], ends: number[], axes: number[], steps?: number[]): Value {
    const ins = [x, this.int64s(starts), this.int64s(ends), this.int64s(axes)];
    if (steps) ins.push(this.int64s(steps));
    return this.op('Slice', ins);
  }
  unsqueeze(x: Value, axes: number[]): Value {
    return this.op('Unsqueeze', [x, this.int64s(axes)]);
  }
  squeeze(x: Value, axes: number[]): Value {
    return this.op('Squeeze', [x, this.int64s(axes)]);
  }
  reduceMean(x: Value, axes: number[], keepdims = true): Value {
    return this.op('ReduceMean', [x, this.int64s(axes)], { keepdims: keepdims ? 1 : 0 });
  }
  reduceSum(x: Value, axes: number[], keepdims = true): Value {
    return this.op('ReduceSum', [x, this.int64s(axes)], { keepdims: keepdims ? 1 : 0 });
  }
  conv(
    x: Value,
    w: Value,
    b: Value | null,
    attrs: { strides?: number[]; pads?: number[]; dilations?: number[]; group?: number } = {},
  ): Value {
    // Strides, pads and dilations spelled out (the ONNX defaults): onnxruntime-web's WebGPU Conv fails
    // without them ("dilations should be 2D", "strides should be 2D").
    const rank = w.shape?.length;
    const n = rank === undefined ? 0 : rank - 2;
    const withDefaults =
      rank === undefined
        ? attrs
        : {
            ...attrs,
            strides: attrs.strides ?? new Array<number>(n).fill(1),
            pads: attrs.pads ?? new Array<number>(2 * n).fill(0),
            dilations: attrs.dilations ?? new Array<number>(n).fill(1),
          };
    return this.op('Conv', b ? [x, w, b] : [x, w], withDefaults);
  }
  convTranspose(
    x: Value,
    w: Value,
    b: Value | null,
    attrs: { strides?: number[]; pads?: number[]; output_padding?: number[]; group?: number } = {},
  ): Value {
    return this.op('ConvTranspose', b ? [x, w, b] : [x, w], attrs);
  }
  layerNorm(x: Value, scale: Value, bias: Value, epsilon: number, axis = -1): Value {
    return this.op('LayerNormalization', [x, scale, bias], { axis, epsilon });
  }
  batchNorm(x: Value, scale: Value, bias: Value, mean: Value, variance: Value, epsilon: number): Value {
    return this.op('BatchNormalization', [x, scale, bias, mean, variance], { epsilon });
  }

  /** The ModelProto as bytes, ready for onnxruntime. */
  toBytes(): Uint8Array {
    return this.toModel().bytes;
  }

  /**
   * The ModelProto with every initializer of at least `externalMinBytes` bytes left out as ONNX external data:
   * `external` holds views of those tensors' own memory (nothing copied), for ONNX Runtime's in-memory external
   * data. Serialising the weights into the protobuf copied them once more (the VNet's 182 MB, before ONNX Runtime
   * copied them again).
   */
  toModel(opts: { externalMinBytes?: number } = {}): SerializedModel {
    const minBytes = opts.externalMinBytes ?? Infinity;
    const external: ExternalTensorData[] = [];
    const initializer = [...this.initializers].map(([name, t]) => {
      const bytes = bytesOf(t.data);
      if (bytes.byteLength < minBytes) return { ...tensorHeader(name, t), rawData: bytes };
      const path = `w${external.length}.bin`;
      external.push({ path, data: bytes });
      const entries = { location: path, offset: '0', length: String(bytes.byteLength) };
      return {
        ...tensorHeader(name, t),
        dataLocation: EXTERNAL_LOCATION,
        externalData: Object.entries(entries).map(([key, value]) => ({ key, value })),
      };
    });
    return { bytes: this.encode(initializer), external };
  }

  private encode(initializer: object[]): Uint8Array {
    if (this.outputs.length === 0) throw new GraphError(`graph ${this.name} has no outputs`);
    const model = {
      irVersion: 10,
      producerName: 'segment-any-bone',
      producerVersion: '0.1.0',
      docString: this.docString,
      // Contrib ops (e.g. com.microsoft's quantized kernels) need their domain imported too.
      opsetImport: [
        { domain: '', version: this.opset },
        ...[...new Set(this.records.map((r) => r.domain).filter((d) => d !== ''))].map((domain) => ({ domain, version: 1 })),
      ],
      graph: {
        name: this.name,
        node: this.records.map((r) => ({
          input: [...r.inputs],
          output: [...r.outputs],
          name: r.name,
          opType: r.opType,
          domain: r.domain,
          attribute: Object.entries(r.attrs).map(([k, v]) => encodeAttr(k, v)),
        })),
        initializer,
        input: this.inputs.map(valueInfo),
        output: this.outputs.map(valueInfo),
      },
    };
    return ModelProto.encode(model as unknown as protobufMessage).finish();
  }

  private assertFree(name: string): void {
    if (this.values.has(name)) throw new GraphError(`value name ${name} is already used in graph ${this.name}`);
  }
}

type protobufMessage = Parameters<typeof ModelProto.encode>[0];

/** TensorProto.DataLocation.EXTERNAL. */
const EXTERNAL_LOCATION = 1;

/** One initializer's bytes kept out of the protobuf: `path` is the name the model's TensorProto refers to. */
export interface ExternalTensorData {
  path: string;
  data: Uint8Array;
}

/** A serialised graph: the ModelProto bytes and the initializers it refers to as in-memory external data. */
export interface SerializedModel {
  bytes: Uint8Array;
  external: ExternalTensorData[];
}

function toTyped(data: number[] | TensorData, dtype: DType): TensorData {
  if (!Array.isArray(data)) return data;
  switch (dtype) {
    case 'float32':
      return Float32Array.from(data);
    case 'float64':
      return Float64Array.from(data);
    case 'int64':
      return BigInt64Array.from(data, (x) => BigInt(Math.trunc(x)));
    case 'int32':
      return Int32Array.from(data);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(data);
    default:
      throw new GraphError(`constant of dtype ${dtype} is not supported`);
  }
}

function bytesOf(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** A TensorProto's name, shape and type: the fields inline and external initializers share. */
function tensorHeader(name: string, t: Tensor): object {
  return { name, dims: t.shape, dataType: OnnxDataType[t.dtype] };
}

function encodeTensor(name: string, t: Tensor): object {
  return { ...tensorHeader(name, t), rawData: bytesOf(t.data) };
}

function valueInfo(v: Value): object {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: OnnxDataType[v.dtype],
        ...(v.shape
          ? { shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } }
          : {}),
      },
    },
  };
}

function encodeAttr(name: string, v: AttrValue): object {
  if (typeof v === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') {
    return FLOAT_ATTRS.has(name) || !Number.isInteger(v)
      ? { name, type: AttributeType.FLOAT, f: v }
      : { name, type: AttributeType.INT, i: v };
  }
  if (Array.isArray(v)) {
    if (v.length > 0 && typeof v[0] === 'string') {
      return { name, type: AttributeType.STRINGS, strings: (v as string[]).map((s) => new TextEncoder().encode(s)) };
    }
    const nums = v as number[];
    return FLOAT_ATTRS.has(name) || nums.some((x) => !Number.isInteger(x))
      ? { name, type: AttributeType.FLOATS, floats: nums }
      : { name, type: AttributeType.INTS, ints: nums };
  }
  return { name, type: AttributeType.TENSOR, t: encodeTensor(name, v) };
}
