import { loadCheckpoint } from '../checkpoint/load-checkpoint.js';
import type { StateDict } from '../checkpoint/tensor.js';
import { createNodeRuntime } from '../graph/runtimeNode.js';
import type { ExecutionProvider, Runtime } from '../graph/runtime.js';
import { SegmentAnyBone, type EncoderPrecision, type SegmentAnyBoneOptions } from '../model/segmentAnyBone.js';
import type { VNetBatchNormMode } from '../model/vnet.js';
import type { Volume } from '../volume/types.js';
import { createMaskLike } from '../volume/volume.js';
import { locateWeights } from '../weights/locate.js';
import { segmentVolume, type SegmentVolumeOptions, type SegmentVolumeResult } from './segmentVolume.js';

export interface LoadModelOptions {
  /** Execution provider (Node: cpu or cuda; cuda falls back to cpu with a notice). */
  device?: ExecutionProvider;
  threads?: number;
  vnetBatchNorm?: VNetBatchNormMode;
  /** Image encoder precision: 'float32' (default, faithful) or the opt-in, faster 'int8'. */
  precision?: EncoderPrecision;
  onNotice?: (message: string) => void;
  /** An existing runtime (e.g. onnxruntime-web in the browser) instead of onnxruntime-node. */
  runtime?: Runtime;
}

/** Where the weights come from: a folder (or undefined: $SAB_WEIGHTS, then the user cache), or state_dicts. */
export type WeightsSource = string | undefined | { sam: StateDict; vnet?: StateDict };

export interface SegmentedVolume extends Omit<SegmentVolumeResult, 'mask' | 'probabilities'> {
  /** uint8 0/1 mask on the input grid, with the input's affine and source header (for faithful writing). */
  mask: Volume;
  /** float32 bone probabilities on the same grid, when asked for. */
  probabilities?: Volume;
  /** Bone volume in millilitres (voxel count x voxel volume). */
  boneVolumeMl: number;
}

/** The library entry point: a loaded model that segments whole volumes. */
export class BoneSegmenter {
  constructor(readonly model: SegmentAnyBone) {}

  async segmentVolume(volume: Volume, options: SegmentVolumeOptions = {}): Promise<SegmentedVolume> {
    const res = await segmentVolume(this.model, { data: volume.data, dims: volume.dims }, options);
    const mask = createMaskLike(volume);
    mask.data = res.mask;
    let bone = 0;
    for (let i = 0; i < res.mask.length; i++) bone += res.mask[i]!;
    const [sx, sy, sz] = volume.spacing;
    const { mask: _m, probabilities, ...rest } = res;
    const out: SegmentedVolume = { ...rest, mask, boneVolumeMl: (bone * sx * sy * sz) / 1000 };
    if (probabilities) out.probabilities = { ...createMaskLike(volume), data: probabilities, dtype: 'float32' };
    return out;
  }

  release(): Promise<void> {
    return this.model.release();
  }
}

/**
 * Loads SegmentAnyBone from the official checkpoints (bone_sam.pth, and atten.pth for depth
 * attention). Graphs are built and ONNX Runtime sessions opened on first use.
 */
export function loadModel(weights: WeightsSource, options: LoadModelOptions = {}): BoneSegmenter {
  let sam: StateDict;
  let vnet: StateDict | (() => StateDict) | undefined;
  if (typeof weights === 'object') {
    sam = weights.sam;
    vnet = weights.vnet;
  } else {
    const paths = locateWeights(weights);
    sam = loadCheckpoint(paths.boneSam);
    const attenPath = paths.atten;
    // Loaded when the VNet graph is built, so no JS copy of its 182 MB of weights outlives it.
    if (attenPath) vnet = () => loadCheckpoint(attenPath);
  }
  const runtime =
    options.runtime ??
    createNodeRuntime({
      ...(options.device ? { device: options.device } : {}),
      ...(options.threads ? { threads: options.threads } : {}),
      ...(options.onNotice ? { onNotice: options.onNotice } : {}),
    });
  const modelOptions: SegmentAnyBoneOptions = {};
  if (options.vnetBatchNorm) modelOptions.vnetBatchNorm = options.vnetBatchNorm;
  if (options.precision) modelOptions.precision = options.precision;
  return new BoneSegmenter(new SegmentAnyBone(runtime, sam, vnet, modelOptions));
}
