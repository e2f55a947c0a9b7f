import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-common';
import type { TensorData } from '../checkpoint/tensor.js';
import type { GraphBuilder, SerializedModel } from './builder.js';
import { hasLowerableConv, lowerConvsToNchwc, type ConvLowering } from './lower/convNchwc.js';
import { probeNchwcBlock } from './lower/nchwcProbe.js';

/** Where ONNX Runtime executes: CPU or CUDA in Node; WASM or WebGPU in the browser. */
export type ExecutionProvider = 'cpu' | 'cuda' | 'wasm' | 'webgpu';

export interface RuntimeOptions {
  /** Preferred execution provider; default cpu (node) / wasm (browser). */
  device?: ExecutionProvider;
  /** Intra-op threads (0 = ONNX Runtime default: one per physical core). */
  threads?: number;
  /** Called with a one-line notice, e.g. when CUDA is unavailable and CPU is used instead. */
  onNotice?: (message: string) => void;
  /** ONNX Runtime's CPU memory arena and memory-pattern planning (ORT's defaults: both on; createNodeRuntime turns the pattern off). */
  cpuMemArena?: boolean;
  memPattern?: boolean;
  /** Large convs ORT would run as im2col + GEMM on its NCHWc direct kernels, CPU provider (see lowerConvsToNchwc); default on. */
  nchwcConv?: boolean;
  /**
   * Training graphs' block-multiple 3-D convs: false (default) leaves them on ORT's im2col Conv (the whole-tensor
   * NCHWc kind raises the step's peak); `{ depthChunk }` lowers them that many output depths at a time, those with
   * at least `minVoxels` output voxels per channel (default CONV3D_NCHWC_MIN_VOXELS).
   */
  nchwcTrainingConv3d?: false | { depthChunk: number; minVoxels?: number };
  /**
   * The CPU provider's u8s8 integer GEMM clamps 16-bit sums on this CPU (x86 without VNNI), so int8 weights
   * keep to 7 bits (graph/quantize/u8s8Saturation.ts); createNodeRuntime detects it. Default false.
   */
  u8s8Saturates?: boolean;
  /**
   * A full garbage collection, now (Node's runtime passes V8's: graph/fullGc.ts). Called once a session whose
   * weights came as large in-memory external data is open, so their JS copy (the VNet's 182 MB) is returned before
   * the session's first run grows its arena, instead of whenever V8 next decides to collect.
   */
  collectGarbage?: () => void;
}

/** The slice of the onnxruntime-{node,web} module we use; both packages export this shape. */
export interface OrtModule {
  InferenceSession: { create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  Tensor: new (type: OrtTensor.Type, data: TensorData, dims: readonly number[]) => OrtTensor;
}

/** A plain tensor crossing the runtime boundary. */
export interface RunTensor {
  data: TensorData;
  dims: readonly number[];
}

export class RuntimeError extends Error {
  override name = 'RuntimeError';
}

/** Initializers at least this large go to ONNX Runtime as in-memory external data (Runtime.serialize). */
const EXTERNAL_DATA_MIN_BYTES = 1 << 20;

const ORT_TYPE: Record<string, OrtTensor.Type> = {
  Float32Array: 'float32',
  Float64Array: 'float64',
  Int32Array: 'int32',
  BigInt64Array: 'int64',
  Uint8Array: 'uint8',
  Int8Array: 'int8',
  Int16Array: 'int16',
  Uint16Array: 'float16',
};

/** One loaded graph. `run` takes and returns plain typed arrays. */
export class Session {
  constructor(
    private readonly ort: OrtModule,
    readonly inner: InferenceSession,
    readonly provider: ExecutionProvider,
  ) {}

  get inputNames(): readonly string[] {
    return this.inner.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.inner.outputNames;
  }

  async run(feeds: Record<string, RunTensor>, outputs?: string[]): Promise<Record<string, RunTensor>> {
    const ortFeeds: Record<string, OrtTensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      const type = ORT_TYPE[t.data.constructor.name];
      if (!type) throw new RuntimeError(`input ${name}: unsupported array type ${t.data.constructor.name}`);
      ortFeeds[name] = new this.ort.Tensor(type, t.data, t.dims);
    }
    const res = outputs ? await this.inner.run(ortFeeds, outputs) : await this.inner.run(ortFeeds);
    const out: Record<string, RunTensor> = {};
    for (const [name, t] of Object.entries(res)) {
      out[name] = { data: t.data as TensorData, dims: [...t.dims] };
    }
    return out;
  }

  async release(): Promise<void> {
    await this.inner.release();
  }
}

/**
 * Opens ONNX Runtime sessions on the chosen execution provider. CUDA that cannot be loaded
 * (missing CUDA 12 / cuDNN 9 libraries, or provider files not installed) falls back to CPU with
 * one notice instead of failing.
 */
export class Runtime {
  private cudaFailed = false;
  private nchwcBlock: Promise<number | null> | undefined;

  constructor(
    private readonly ort: OrtModule,
    readonly options: RuntimeOptions = {},
    private readonly defaultProvider: ExecutionProvider = 'cpu',
  ) {}

  get device(): ExecutionProvider {
    return this.options.device ?? this.defaultProvider;
  }

  /** See RuntimeOptions.collectGarbage; nothing where the runtime has none (the browser collects on its own). */
  collectGarbage(): void {
    this.options.collectGarbage?.();
  }

  /**
   * `provider` overrides the runtime's device for this one session (e.g. a graph WebGPU cannot run). A
   * SerializedModel's external initializers go to ONNX Runtime as in-memory external data, which it copies while
   * the session is created (test/graph/externalData.test.ts), so the session does not keep them.
   */
  async session(model: Uint8Array | SerializedModel, label = 'model', provider?: ExecutionProvider): Promise<Session> {
    const wanted = this.cudaFailed ? 'cpu' : (provider ?? this.device);
    const { bytes, external } = model instanceof Uint8Array ? { bytes: model, external: [] } : model;
    const create = (p: ExecutionProvider) => {
      const opts = this.sessionOptions(p);
      if (external.length > 0) opts.externalData = external;
      return this.ort.InferenceSession.create(bytes, opts);
    };
    try {
      return new Session(this.ort, await create(wanted), wanted);
    } catch (err) {
      if (wanted === 'cuda' || wanted === 'webgpu') {
        const fallback: ExecutionProvider = wanted === 'cuda' ? 'cpu' : 'wasm';
        if (wanted === 'cuda') this.cudaFailed = true;
        const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
        this.options.onNotice?.(
          `${wanted} execution provider unavailable for ${label} (${why}); falling back to ${fallback}.` +
            (wanted === 'cuda' ? ' See README "GPU" for installing the CUDA 12 / cuDNN 9 runtime.' : ''),
        );
        return new Session(this.ort, await create(fallback), fallback);
      }
      throw new RuntimeError(`cannot open ${label} in ONNX Runtime: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /**
   * A finished graph as ONNX Runtime takes it. In Node, initializers of 1 MiB and more stay out of the protobuf
   * (in-memory external data, views of the builder's tensors): serialising them into it copied every weight once
   * more before ONNX Runtime copied it again. onnxruntime-web gets plain bytes (its external data is for files).
   */
  serialize(g: GraphBuilder): SerializedModel {
    return this.defaultProvider === 'wasm' ? { bytes: g.toBytes(), external: [] } : g.toModel({ externalMinBytes: EXTERNAL_DATA_MIN_BYTES });
  }

  /**
   * Provider-specific rewrites of a finished graph, before it is serialized for `session(..., provider)`: on the
   * CPU provider, large convs go to the NCHWc kernels once a probe has confirmed their filter layout here
   * (`training`: a training graph, whose peak memory rules out the 3-D kind).
   */
  async lower(g: GraphBuilder, opts: { provider?: ExecutionProvider; training?: boolean } = {}): Promise<void> {
    const wanted = this.cudaFailed ? 'cpu' : (opts.provider ?? this.device);
    // See ConvLowering.conv3d: the whole-tensor kind's transient memory would raise a training step's peak.
    const chunks = opts.training ? this.options.nchwcTrainingConv3d || undefined : undefined;
    const conv3d = opts.training ? (chunks ? 'chunked' : false) : true;
    if (wanted !== 'cpu' || this.options.nchwcConv === false || !hasLowerableConv(g, conv3d)) return;
    this.nchwcBlock ??= probeNchwcBlock((model, label) => this.session(model, label, 'cpu')).catch(() => null);
    const block = await this.nchwcBlock;
    if (!block) return;
    const lowering: ConvLowering = { block, conv3d };
    if (chunks) {
      lowering.depthChunk = chunks.depthChunk;
      if (chunks.minVoxels) lowering.minVoxels = chunks.minVoxels;
    }
    lowerConvsToNchwc(g, lowering);
  }

  private sessionOptions(provider: ExecutionProvider): InferenceSession.SessionOptions {
    const opts: InferenceSession.SessionOptions = {
      executionProviders: provider === 'cuda' ? ['cuda', 'cpu'] : [provider],
      graphOptimizationLevel: 'all',
    };
    if (this.options.threads) opts.intraOpNumThreads = this.options.threads;
    if (this.options.cpuMemArena !== undefined) opts.enableCpuMemArena = this.options.cpuMemArena;
    if (this.options.memPattern !== undefined) opts.enableMemPattern = this.options.memPattern;
    // Several sessions take turns (encoder, decoder, fusion): idle pools must not spin on the cores the
    // next session needs (measured: decoder 67 -> 44 ms per slice inside the volume loop).
    opts.extra = { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } };
    return opts;
  }
}
