import type { StateDict } from '../checkpoint/tensor.js';
import type { Runtime } from '../graph/runtime.js';
import { encodePrompts } from '../model/promptEncoder.js';
import { SegmentAnyBone } from '../model/segmentAnyBone.js';
import type { VNetBatchNormMode } from '../model/vnet.js';
import { attentionPreRescale, probRescale, sigmoid } from './attention.js';
import { maskFromLogits, maskToSliceGrid } from './postprocess.js';
import { encoderInputFromSlice, percentileBounds, resizeBilinearPillow, type VoxelGrid, vnetInputFromVolume, normaliseVolume, sliceToUint8 } from './preprocess/index.js';
import { SegmentationError, type FramePrompt } from './prompts.js';

/** One traced tensor, named as in the golden manifest. */
export interface TracedTensor {
  name: string;
  dtype: 'float32' | 'uint8';
  shape: number[];
  data: Float32Array | Uint8Array;
  description: string;
}

export interface TraceOptions {
  sliceIndex: number;
  /** Prompt in the 1024x1024 encoder frame (x = column, y = row), as in the golden manifest. */
  prompt?: FramePrompt;
}

/**
 * Runs one slice through the whole official chain and returns every intermediate tensor under the
 * golden manifest's names: the automatic chain for both VNet BatchNorm modes (`*_eval`,
 * `*_batchstats`), the 2D-only logits, the dense PE, and the prompted decoder run (`point_*`,
 * `box_*` or `point_box_*`, with batch-statistics attention) when a prompt is given.
 */
export async function traceSlice(
  runtime: Runtime,
  sam: StateDict,
  vnet: StateDict,
  volume: VoxelGrid,
  options: TraceOptions,
): Promise<TracedTensor[]> {
  const [ni, nj, nk] = volume.dims;
  const k = options.sliceIndex;
  if (!Number.isInteger(k) || k < 0 || k >= nk) throw new SegmentationError(`slice ${k} is outside 0..${nk - 1}`);
  const out: TracedTensor[] = [];
  const add = (name: string, shape: number[], data: Float32Array | Uint8Array, description: string) =>
    out.push({ name, dtype: data instanceof Uint8Array ? 'uint8' : 'float32', shape, data, description });

  const normalised = normaliseVolume(volume, percentileBounds(volume.data));
  const u8 = sliceToUint8(normalised, volume.dims, k);
  add('slice_uint8', [ni, nj], u8, 'percentile-normalised slice as uint8 (rows = I, cols = J)');
  const resized = resizeBilinearPillow(u8, ni, nj, 1024, 1024);
  add('slice_uint8_resized_1024', [1024, 1024], resized, 'Pillow-bilinear 1024x1024 (one of 3 identical channels)');
  const enc = encoderInputFromSlice(resized);
  add('encoder_input_prenorm', [1, 1, 1024, 1024], enc.prenorm, 'encoder input before ImageNet normalisation');

  const models = new Map<VNetBatchNormMode, SegmentAnyBone>();
  const modelFor = (mode: VNetBatchNormMode) => {
    let m = models.get(mode);
    if (!m) models.set(mode, (m = new SegmentAnyBone(runtime, sam, vnet, { vnetBatchNorm: mode })));
    return m;
  };
  try {
    const base = modelFor('batchstats');
    const embedding = await base.encode(enc.input, 1);
    add('image_embedding', [1, 256, 64, 64], embedding, 'image encoder output');
    const vnetInput = vnetInputFromVolume(normalised, volume.dims);
    add('vnet_input', [1, 1, 64, 64, 64], vnetInput, 'VNet input (64^3 trilinear, (x-0.5)/0.5)');

    const noatt = await base.decode(embedding, null);
    add('auto_noatten_lowres_logits', [1, 2, 256, 256], noatt.lowResLogits, '2D-only automatic logits');
    add('dense_pe', [1, 256, 64, 64], noatt.densePe, 'dense positional encoding');
    const noMask = sam.get('prompt_encoder.no_mask_embed.weight');
    if (noMask) add('auto_dense_embeddings_value', [256], Float32Array.from(noMask.data as Float32Array), 'no_mask_embed');

    const attentionByMode = new Map<VNetBatchNormMode, Float32Array>();
    for (const mode of ['eval', 'batchstats'] as const) {
      const model = modelFor(mode);
      const { logits } = await model.depthProbabilities(vnetInput);
      add(`vnet_logits_${mode}`, [1, 1, 64, 64, 64], logits, `VNet logits (${mode} BatchNorm)`);
      const pre = attentionPreRescale(sigmoid(logits), k, nk);
      add(`attention_map_pre_rescale_${mode}`, [64, 64], pre, 'attention before prob_rescale');
      const att = probRescale(pre);
      attentionByMode.set(mode, att);
      add(`attention_map_${mode}`, [1, 64, 64], att, 'attention map fed to the fusion');
      const res = await model.decode(embedding, att);
      add(`fused_embedding_${mode}`, [1, 256, 64, 64], res.fusedEmbedding, 'embedding after attention fusion');
      add(`auto_lowres_logits_${mode}`, [1, 2, 256, 256], res.lowResLogits, 'automatic-mode logits (ch1 = bone)');
      add(`auto_iou_pred_${mode}`, [1, 2], res.iouPred, 'IoU head');
      const m256 = maskFromLogits(res.lowResLogits, 256, 256, 1);
      add(`auto_mask_256_${mode}`, [1, 256, 256], m256, 'bone mask at 256x256');
      add(`auto_mask_original_size_${mode}`, [ni, nj], maskToSliceGrid(m256, 256, 256, ni, nj), 'mask back on the slice grid');
    }

    const p = options.prompt;
    if (p && (p.points?.length || p.box)) {
      const prefix = p.points?.length && p.box ? 'point_box' : p.box ? 'box' : 'point';
      const res = await base.decode(embedding, attentionByMode.get('batchstats')!, encodePrompts(p));
      add(`${prefix}_sparse_embeddings`, [1, res.sparseTokens, 256], res.sparseEmbeddings, 'sparse prompt tokens');
      add(`${prefix}_lowres_logits`, [1, 2, 256, 256], res.lowResLogits, 'prompted logits (batchstats attention)');
      add(`${prefix}_iou_pred`, [1, 2], res.iouPred, 'IoU head');
    }
  } finally {
    for (const m of models.values()) await m.release();
  }
  return out;
}
