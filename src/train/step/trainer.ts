import type { StateDict } from '../../checkpoint/tensor.js';
import type { RunTensor, Runtime, Session } from '../../graph/runtime.js';
import { TrainIO, buildSamTrainGraph, buildVNetTrainGraph, trainablePredicate, type TrainGraph, type TrainableSpec } from './graphs.js';

/**
 * One training step = one run of a training graph: forward, loss and the gradients of every
 * trainable parameter. The trainer owns the current parameter values (`params`); an optimizer
 * updates those Float32Arrays in place (or replaces them with `setParam`) and the next step feeds
 * them, so the graph is built once.
 */

export type TrainStage = 'sam' | 'vnet';

export interface TrainerOptions {
  stage: TrainStage;
  /** The checkpoint being fine-tuned (SAM keys for 'sam', MONAI VNet keys for 'vnet'). */
  weights: StateDict;
  /** Trainable parameters: checkpoint key prefixes or a predicate. */
  trainable: TrainableSpec;
  /** Fixed batch size of the graph. */
  batch: number;
  /** SAM only: 'image' = through the encoder (stage 1), 'embedding' = precomputed embeddings (stage 2). Default 'image'. */
  samInput?: 'image' | 'embedding';
  /** SAM only: fuse the depth-attention map (default true). */
  attention?: boolean;
  /** SAM only: 'auto' (no prompt, default) or 'prompt' with `points` prompt tokens per image. */
  mode?: 'auto' | 'prompt';
  points?: number;
  /**
   * The trainable tensors of `weights` become the trainer's parameters and are updated in place, instead of being
   * copied: for a caller that owns the state dict (a fine-tune run that loaded it), so a 45.6M-parameter VNet is not
   * held twice (182 MB). Tensors that are not float32 are still copied.
   */
  adoptWeights?: boolean;
}

/** Inputs of one step; sizes follow the graph's batch. */
export interface SamBatch {
  /** [B,3,1024,1024] ImageNet-normalised encoder input (samInput 'image'). */
  image?: Float32Array;
  /** [B,256,64,64] image embeddings (samInput 'embedding'). */
  imageEmbedding?: Float32Array;
  /** [B,64,64] attention maps (when attention). */
  attentionMap?: Float32Array;
  /** [B,P,2] prompt points in the 1024 frame and [B,P] labels (mode 'prompt'; see encodePrompts). */
  pointCoords?: Float32Array;
  pointLabels?: Float32Array;
  /** [B,256,256] 0/1 targets. */
  target: Float32Array;
}

export interface VNetBatch {
  /** [B,1,64,64,64] VNet inputs and 0/1 targets. */
  input: Float32Array;
  target: Float32Array;
}

export interface StepResult {
  /** Total loss (the one differentiated). */
  loss: number;
  /** Every loss term by name (sam: dice, ce, total; vnet: bce, tversky, total). */
  terms: Record<string, number>;
  /** Model output of the step: low_res_logits [B,2,256,256] or vnet_logits [B,1,64,64,64]. */
  output: Float32Array;
  /** d(loss)/d(parameter) for every trainable parameter (zeros for ones the loss does not reach). */
  grads: Map<string, Float32Array>;
}

export class TrainerError extends Error {
  override name = 'TrainerError';
}

const ONE: RunTensor = { data: new Float32Array([1]), dims: [] };

const BUFFER_SUFFIXES = ['.running_mean', '.running_var', '.num_batches_tracked'];

export class Trainer {
  /** Current values of the trainable parameters (copies of the checkpoint's tensors at creation, or those tensors themselves with `adoptWeights`). */
  readonly params = new Map<string, Float32Array>();
  readonly shapes = new Map<string, number[]>();

  private forwardSession: Promise<Session> | undefined;

  /** `openForward` opens the forward-only graph of the same stage (see `forward`); without it `forward` runs the training graph. */
  constructor(
    readonly graph: TrainGraph,
    private readonly session: Session,
    readonly options: TrainerOptions,
    trainableKeys: string[],
    private readonly openForward?: (params: readonly string[]) => Promise<Session>,
  ) {
    for (const key of trainableKeys) {
      const t = options.weights.get(key)!;
      this.params.set(key, options.adoptWeights && t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as Float32Array));
      this.shapes.set(key, [...t.shape]);
    }
  }

  /** Names of the trainable parameters, in a fixed order. */
  get paramNames(): string[] {
    return [...this.params.keys()];
  }

  setParam(key: string, value: Float32Array): void {
    const cur = this.params.get(key);
    if (!cur) throw new TrainerError(`${key} is not a trainable parameter of this trainer`);
    if (cur.length !== value.length) throw new TrainerError(`${key}: ${value.length} values, expected ${cur.length}`);
    this.params.set(key, value);
  }

  async step(batch: SamBatch | VNetBatch): Promise<StepResult> {
    const out = await this.session.run(this.feedsOf(batch, this.graph.takesOne));
    const grads = new Map<string, Float32Array>();
    for (const key of this.params.keys()) {
      const g = out[`${TrainIO.gradPrefix}${key}`];
      grads.set(key, g ? (g.data as Float32Array) : new Float32Array(this.params.get(key)!.length));
    }
    return { ...this.resultOf(out), grads };
  }

  /**
   * The forward pass and loss only, on a forward-only graph of the same stage (the same train-mode
   * forward and loss without backward ops), opened on first use: ONNX Runtime runs every node of a
   * session whatever outputs are fetched, so fetching only the loss from the training graph would
   * still run the backward. Loss-only evaluations (finite differences) and the forward-only
   * reference time of `npm run bench train` use it.
   */
  async forward(batch: SamBatch | VNetBatch): Promise<Omit<StepResult, 'grads'>> {
    const outputName = this.options.stage === 'vnet' ? TrainIO.vnetLogits : TrainIO.lowResLogits;
    if (this.openForward) this.forwardSession ??= this.openForward(this.graph.params);
    const session = this.forwardSession ? await this.forwardSession : this.session;
    return this.resultOf(await session.run(this.feedsOf(batch, session === this.session && this.graph.takesOne), [...Object.values(this.graph.losses), outputName]));
  }

  private resultOf(out: Record<string, RunTensor>): Omit<StepResult, 'grads'> {
    const terms: Record<string, number> = {};
    for (const [name, output] of Object.entries(this.graph.losses)) terms[name] = (out[output]!.data as Float32Array)[0]!;
    const outputName = this.options.stage === 'vnet' ? TrainIO.vnetLogits : TrainIO.lowResLogits;
    return { loss: terms['total']!, terms, output: out[outputName]!.data as Float32Array };
  }

  private feedsOf(batch: SamBatch | VNetBatch, withOne: boolean): Record<string, RunTensor> {
    const b = this.options.batch;
    const feeds: Record<string, RunTensor> = {};
    const feed = (name: string, data: Float32Array | undefined, dims: number[], what: string) => {
      if (!data) throw new TrainerError(`training step needs ${what}`);
      const n = dims.reduce((p, d) => p * d, 1);
      if (data.length !== n) throw new TrainerError(`${what}: ${data.length} values, expected ${n} ([${dims.join(',')}])`);
      feeds[name] = { data, dims };
    };
    if (this.options.stage === 'vnet') {
      const v = batch as VNetBatch;
      feed(TrainIO.vnetInput, v.input, [b, 1, 64, 64, 64], 'the VNet input');
      feed(TrainIO.target, v.target, [b, 1, 64, 64, 64], 'the VNet target');
    } else {
      const s = batch as SamBatch;
      if ((this.options.samInput ?? 'image') === 'image') feed(TrainIO.image, s.image, [b, 3, 1024, 1024], 'the encoder image');
      else feed(TrainIO.imageEmbedding, s.imageEmbedding, [b, 256, 64, 64], 'the image embedding');
      if (this.options.attention ?? true) feed(TrainIO.attentionMap, s.attentionMap, [b, 64, 64], 'the attention map');
      if ((this.options.mode ?? 'auto') === 'prompt') {
        const p = this.options.points ?? 1;
        feed(TrainIO.pointCoords, s.pointCoords, [b, p, 2], 'the prompt points');
        feed(TrainIO.pointLabels, s.pointLabels, [b, p], 'the prompt labels');
      }
      feed(TrainIO.target, s.target, [b, 1, 256, 256], 'the target');
    }
    for (const key of this.graph.params) feeds[key] = { data: this.params.get(key)!, dims: this.shapes.get(key)! };
    if (withOne) feeds[TrainIO.one] = ONE;
    return feeds;
  }

  async release(): Promise<void> {
    await this.session.release();
    if (this.forwardSession) await (await this.forwardSession).release();
    this.forwardSession = undefined;
  }
}

/**
 * The training graph of a stage and its trainable keys: the checkpoint's parameters (BatchNorm
 * running statistics excluded) selected by `trainable`; it is an error if none match.
 */
export function buildStageTrainGraph(options: TrainerOptions, forwardOnly?: readonly string[]): { graph: TrainGraph; keys: string[] } {
  const isTrainable = trainablePredicate(options.trainable);
  const keys = [...options.weights.keys()].filter((k) => isTrainable(k) && !BUFFER_SUFFIXES.some((s) => k.endsWith(s)));
  if (keys.length === 0) throw new TrainerError(`no checkpoint parameter matches the trainable selection`);
  const selected = new Set(keys);
  const graph =
    options.stage === 'vnet'
      ? buildVNetTrainGraph(options.weights, { batch: options.batch, trainable: (k) => selected.has(k), ...(forwardOnly ? { forwardOnly } : {}) })
      : buildSamTrainGraph(options.weights, {
          batch: options.batch,
          input: options.samInput ?? 'image',
          attention: options.attention ?? true,
          mode: options.mode ?? 'auto',
          ...(options.points !== undefined ? { points: options.points } : {}),
          trainable: (k) => selected.has(k),
          ...(forwardOnly ? { forwardOnly } : {}),
        });
  return { graph, keys };
}

/** Opens the forward-only graph of a stage taking `params` as inputs (Trainer.forward). */
export function forwardOpener(runtime: Runtime, options: TrainerOptions): (params: readonly string[]) => Promise<Session> {
  return async (params) => {
    const { graph } = buildStageTrainGraph(options, params);
    await runtime.lower(graph.g, { training: true });
    return runtime.session(graph.g.toBytes(), `${graph.g.name}_forward`);
  };
}

/** Builds the training graph of a stage (see buildStageTrainGraph) and opens it. */
export async function createTrainer(runtime: Runtime, options: TrainerOptions): Promise<Trainer> {
  const { graph, keys } = buildStageTrainGraph(options);
  await runtime.lower(graph.g, { training: true });
  const session = await runtime.session(graph.g.toBytes(), graph.g.name);
  return new Trainer(graph, session, options, keys, forwardOpener(runtime, options));
}
