import type { StateDict } from '../../checkpoint/tensor.js';
import type { Runtime } from '../../graph/runtime.js';
import { attentionPreRescale, probRescale, sigmoid } from '../../pipeline/attention.js';
import { encoderInputFromSlice } from '../../pipeline/preprocess/index.js';
import { percentileBounds } from '../../pipeline/preprocess/index.js';
import { resizeBilinearPillow } from '../../pipeline/preprocess/index.js';
import { sliceOf, trainTarget256, vnetTarget64 } from '../../pipeline/preprocess/index.js';
import type { VoxelGrid } from '../../pipeline/preprocess/index.js';
import { vnetInputFromVolume } from '../../pipeline/preprocess/index.js';
import { normaliseVolume, sliceToUint8 } from '../../pipeline/preprocess/index.js';
import { SegmentationError } from '../../pipeline/prompts.js';
import type { TracedTensor } from '../../pipeline/trace.js';
import { createTrainer } from './trainer.js';

/** Golden `training` gradient names -> the parameter each is taken for. */
export const SAM_TRACE_GRADS: Readonly<Record<string, string>> = {
  grad_enc_space_adapter_fc1_w: 'image_encoder.layers.1.blocks.0.Space_Adapter.D_fc1.weight',
  grad_enc_mlp_adapter_fc2_w: 'image_encoder.layers.2.blocks.3.MLP_Adapter.D_fc2.weight',
  grad_dec_adapter_fc1_w: 'mask_decoder.transformer.layers.0.Adapter.D_fc1.weight',
  grad_fusion_gate: 'attention_fusion.gate',
  grad_fusion_conv0_w: 'attention_fusion.fuse_emb.0.weight',
  grad_hypernet2_fc0_w: 'mask_decoder.output_hypernetworks_mlps.2.layers.0.weight',
};
export const VNET_TRACE_GRADS: Readonly<Record<string, string>> = {
  grad_vnet_in_conv_w: 'in_tr.conv_block.conv.weight',
  grad_vnet_out_conv_w: 'out_tr.conv_block.conv.weight',
  grad_vnet_out_conv2_w: 'out_tr.conv2.weight',
  grad_vnet_out_conv2_b: 'out_tr.conv2.bias',
};

export interface TrainTrace {
  tensors: TracedTensor[];
  /** Loss terms under the golden scalar names. */
  scalars: Record<string, number>;
}

/**
 * One deterministic training step on one slice, as the golden `training` section defines it: SAM in
 * train mode (batch-statistics BatchNorm) with the batch-statistics attention map, automatic mode,
 * Dice + CE against the slice's mask; the VNet in train mode with BCE + Tversky against the 64^3
 * mask. No optimizer step. Returns the logits, targets and gradients under the golden names.
 */
export async function traceTrainingStep(
  runtime: Runtime,
  sam: StateDict,
  vnet: StateDict,
  volume: VoxelGrid,
  mask: VoxelGrid,
  sliceIndex: number,
): Promise<TrainTrace> {
  const [ni, nj, nk] = volume.dims;
  if (mask.dims.some((d, i) => d !== volume.dims[i])) {
    throw new SegmentationError(`mask grid ${mask.dims.join('x')} differs from the volume grid ${volume.dims.join('x')}`);
  }
  if (!Number.isInteger(sliceIndex) || sliceIndex < 0 || sliceIndex >= nk) throw new SegmentationError(`slice ${sliceIndex} is outside 0..${nk - 1}`);
  const tensors: TracedTensor[] = [];
  const add = (name: string, shape: number[], data: Float32Array, description: string) =>
    tensors.push({ name, dtype: 'float32', shape, data, description });

  const normalised = normaliseVolume(volume, percentileBounds(volume.data));
  const image = encoderInputFromSlice(resizeBilinearPillow(sliceToUint8(normalised, volume.dims, sliceIndex), ni, nj, 1024, 1024)).input;
  const vnetInput = vnetInputFromVolume(normalised, volume.dims);
  const target256 = trainTarget256(sliceOf(mask, sliceIndex), ni, nj);
  const target64 = vnetTarget64(mask);
  add('train_target_256', [256, 256], target256, 'SAM training target (0/1)');
  add('vnet_target_64', [64, 64, 64], target64, 'VNet training target (0/1)');
  const scalars: Record<string, number> = {};

  const vnetTrainer = await createTrainer(runtime, { stage: 'vnet', weights: vnet, trainable: Object.values(VNET_TRACE_GRADS), batch: 1 });
  let attention: Float32Array;
  try {
    const step = await vnetTrainer.step({ input: vnetInput, target: target64 });
    for (const [name, key] of Object.entries(VNET_TRACE_GRADS)) add(name, vnetTrainer.shapes.get(key)!, step.grads.get(key)!, `d(L_3d)/d(${key})`);
    scalars['vnet_loss_bce'] = step.terms['bce']!;
    scalars['vnet_loss_tversky'] = step.terms['tversky']!;
    scalars['vnet_loss_total'] = step.terms['total']!;
    // The train-mode VNet forward is the batch-statistics forward, so it yields the attention map too.
    attention = probRescale(attentionPreRescale(sigmoid(step.output), sliceIndex, nk));
  } finally {
    await vnetTrainer.release();
  }

  const samTrainer = await createTrainer(runtime, { stage: 'sam', weights: sam, trainable: Object.values(SAM_TRACE_GRADS), batch: 1 });
  try {
    const step = await samTrainer.step({ image, attentionMap: attention, target: target256 });
    add('train_lowres_logits', [1, 2, 256, 256], step.output, 'train-mode automatic decoder output');
    for (const [name, key] of Object.entries(SAM_TRACE_GRADS)) add(name, samTrainer.shapes.get(key)!, step.grads.get(key)!, `d(L_sam)/d(${key})`);
    scalars['loss_dice'] = step.terms['dice']!;
    scalars['loss_ce'] = step.terms['ce']!;
    scalars['loss_total'] = step.terms['total']!;
  } finally {
    await samTrainer.release();
  }
  return { tensors, scalars };
}
