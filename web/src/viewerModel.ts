import type { StateDict } from '../../src/checkpoint/tensor.js';
import type { Runtime } from '../../src/graph/runtime.js';
import { SegmentAnyBone, type EncodedPrompt, type MaskResult, type SliceProjections } from '../../src/model/segmentAnyBone.js';

/** Image embeddings of one slice, kept so prompts only re-run the small decoder. */
export interface SliceEmbeddings {
  embedding: Float32Array;
  /** After depth-attention fusion; absent until needed in attention mode. */
  fused?: Float32Array;
  /** The decoder's prompt-independent projections of `embedding` / `fused`, made by the first click. */
  projections?: { raw?: SliceProjections; fused?: SliceProjections };
}

/**
 * SegmentAnyBone for the viewer: remembers what the automatic pass computed (the VNet output for
 * the volume, and each slice's raw and fused embedding as segmentVolume decodes it).
 */
export class ViewerModel extends SegmentAnyBone {
  /** The last automatic decode's inputs and fused embedding, picked up by the progress callback. */
  lastAutoDecode: { embedding: Float32Array; attention: Float32Array | null; fused: Float32Array } | undefined;
  private vnet: Promise<{ logits: Float32Array; sigmoid: Float32Array }> | undefined;

  constructor(runtime: Runtime, sam: StateDict, vnetWeights: StateDict | undefined) {
    super(runtime, sam, vnetWeights);
  }

  /** Forget per-volume results (call when a new volume is loaded). */
  newVolume(): void {
    this.vnet = undefined;
    this.lastAutoDecode = undefined;
  }

  /** The VNet runs once per volume: its input depends on the volume only. */
  override depthProbabilities(vnetInput: Float32Array): Promise<{ logits: Float32Array; sigmoid: Float32Array }> {
    if (!this.vnet) {
      this.vnet = super.depthProbabilities(vnetInput);
      this.vnet.catch(() => (this.vnet = undefined));
    }
    return this.vnet;
  }

  /** The automatic pass also fetches the fused embedding, for the cache that later clicks decode over. */
  override async decodeMasks(embedding: Float32Array, attention: Float32Array | null, prompt?: EncodedPrompt): Promise<MaskResult> {
    if (prompt) return super.decodeMasks(embedding, attention, prompt);
    const res = await super.decode(embedding, attention);
    this.lastAutoDecode = { embedding, attention, fused: res.fusedEmbedding };
    return res;
  }
}

/** A small least-recently-used cache of slice embeddings (4 MB each, 8 MB with the fused one, +11 MB per mode once clicked). */
export class EmbeddingCache {
  private readonly map = new Map<number, SliceEmbeddings>();
  constructor(private readonly capacity = 16) {}

  get(k: number): SliceEmbeddings | undefined {
    const e = this.map.get(k);
    if (e) {
      this.map.delete(k);
      this.map.set(k, e);
    }
    return e;
  }

  set(k: number, e: SliceEmbeddings): void {
    this.map.delete(k);
    this.map.set(k, e);
    while (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
  }

  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}
