import type { EncodedPrompt, SegmentAnyBone } from '../model/segmentAnyBone.js';
import { encodePrompts } from '../model/promptEncoder.js';
import { axesWithSliceLast, inverseOrder, permuteVoxels, type Axis } from '../volume/permute.js';
import { attentionMapForSlice, sigmoid } from './attention.js';
import { maskFromLogits, maskToSliceGrid, writeSliceIntoVolume } from './postprocess.js';
import { EncoderInputKernel, writeEncoderInput, percentileBounds, resizeBilinearPillow, resizeNearestPillow, vnetInputFromVolume, normaliseVolume, sliceToUint8 } from './preprocess/index.js';
import type { VoxelArray } from '../volume/types.js';
import { SegmentationError, promptsBySlice, toEncoderFrame, type VoxelPrompt } from './prompts.js';

const ENCODER_SIZE = 1024;
const LOWRES = 256;

export interface SegmentVolumeOptions {
  /** Depth attention (VNet + fusion). Default: on when the model has the VNet weights. */
  attention?: boolean;
  /** Slicing axis in voxel order; the official pipeline slices along the third axis (2). */
  axis?: Axis;
  /** Half-open range of slice indices along `axis` to segment; others stay 0. */
  slices?: [number, number];
  /** Prompts in voxel coordinates of the input volume (see prompts.ts). */
  prompts?: VoxelPrompt[];
  /** Leave slices without prompts empty instead of segmenting them automatically. */
  promptedOnly?: boolean;
  /** Slices per encoder run. */
  batch?: number;
  /** Also return per-voxel bone probabilities (sigmoid of the bone logit, nearest-resized like the mask). */
  probabilities?: boolean;
  onProgress?: (done: number, total: number) => void;
  /** Called after each slice with its image embedding and bone logits (e.g. to compare precisions). */
  onSlice?: (slice: SliceOutputs) => void;
  /** Keep the VNet session open after use (default: close it; it runs once per volume). */
  keepDepthSession?: boolean;
}

export interface SegmentVolumeResult {
  /** 0/1 mask on the input grid (same dims and voxel order). */
  mask: Uint8Array;
  probabilities?: Float32Array;
  slicesSegmented: number;
  attention: boolean;
  /** Stage times in ms; setupMs is graph building + session opening (first use only), not in the others. */
  timings: { preprocessMs: number; vnetMs: number; encoderMs: number; decoderMs: number; setupMs: number; totalMs: number };
}

/** One segmented slice's intermediate outputs (views valid during the onSlice call only). */
export interface SliceOutputs {
  /** Slice index along the slicing axis. */
  index: number;
  /** [256,64,64] image embedding. */
  embedding: Float32Array;
  /** [256,256] bone logits (channel 1 of the low-res logits; the maximum over a slice's prompt calls). */
  boneLogits: Float32Array;
  /** [256,256] 0/1 low-res mask (the union over a slice's prompt calls). */
  mask256: Uint8Array;
}

export interface VolumeGrid {
  data: VoxelArray;
  dims: [number, number, number];
}

/**
 * Segments every slice of a volume the way the official predictVolume does (same preprocessing,
 * same per-slice model, same resize back), except that the VNet runs once per volume, encoder
 * slices are batched, and sessions and weights are reused across slices and volumes.
 */
export async function segmentVolume(
  model: SegmentAnyBone,
  volume: VolumeGrid,
  options: SegmentVolumeOptions = {},
): Promise<SegmentVolumeResult> {
  const t0 = performance.now();
  const axis = options.axis ?? 2;
  const useAttention = options.attention ?? model.hasDepthAttention;
  if (useAttention && !model.hasDepthAttention) {
    throw new SegmentationError('depth attention needs atten.pth (the VNet weights); install it or use --no-attention');
  }
  const batch = Math.max(1, Math.floor(options.batch ?? 1));

  // Reorder so the slicing axis is last: slices are then (rows = first axis, cols = second).
  const order = axesWithSliceLast(axis);
  const { data, dims } = permuteVoxels(volume.data, volume.dims, order);
  const [ni, nj, nk] = dims;
  const prompts = promptsBySlice(options.prompts ?? [], volume.dims, order);

  const [start, end] = options.slices ?? [0, nk];
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end <= nk && start < end)) {
    throw new SegmentationError(`slice range ${start}:${end} is outside 0:${nk} along axis ${axis}`);
  }
  const todo: number[] = [];
  for (let k = start; k < end; k++) if (!options.promptedOnly || prompts.has(k)) todo.push(k);

  const tPre = performance.now();
  const bounds = percentileBounds(data);
  const normalised = normaliseVolume({ data, dims }, bounds);
  let preprocessMs = performance.now() - tPre;

  // Times a stage, moving the graph building / session opening it triggered into setupMs.
  let setupMs = 0;
  const timed = async <T>(work: () => Promise<T>, add: (ms: number) => void): Promise<T> => {
    const t = performance.now();
    const s = model.setupMs;
    try {
      return await work();
    } finally {
      const setup = model.setupMs - s;
      setupMs += setup;
      add(performance.now() - t - setup);
    }
  };

  let vnetMs = 0;
  let sigmoid64: Float32Array | undefined;
  if (useAttention && todo.length > 0) {
    sigmoid64 = await timed(async () => {
      const input = vnetInputFromVolume(normalised, dims);
      const res = sigmoid((await model.depthProbabilities(input)).logits);
      if (!options.keepDepthSession) await model.releaseDepthAttention();
      return res;
    }, (ms) => (vnetMs += ms));
  }

  const mask = new Uint8Array(ni * nj * nk);
  const probs = options.probabilities ? new Float32Array(ni * nj * nk) : undefined;
  let encoderMs = 0;
  let decoderMs = 0;
  let done = 0;
  options.onProgress?.(0, todo.length);

  // One input buffer for all batches (ONNX Runtime is done with it when encode resolves): the WebAssembly
  // kernel's (same bytes, ~5x faster), or a plain one filled by the JS functions where it is unavailable.
  const perSlice = 3 * ENCODER_SIZE * ENCODER_SIZE;
  const slots = Math.min(batch, Math.max(todo.length, 1));
  const kernel = EncoderInputKernel.create(ni, nj, ENCODER_SIZE, ENCODER_SIZE, slots);
  const buffer = kernel?.inputs ?? new Float32Array(slots * perSlice);
  const prepare = (ks: number[]): Float32Array => {
    const tp = performance.now();
    ks.forEach((k, b) => {
      if (kernel) kernel.writeVolumeSlice(normalised, dims, k, b);
      else writeEncoderInput(resizeBilinearPillow(sliceToUint8(normalised, dims, k), ni, nj, ENCODER_SIZE, ENCODER_SIZE), buffer, b * perSlice);
    });
    preprocessMs += performance.now() - tp;
    return buffer.subarray(0, ks.length * perSlice);
  };

  const batches: number[][] = [];
  for (let b = 0; b < todo.length; b += batch) batches.push(todo.slice(b, b + batch));
  const embSize = 256 * 64 * 64;
  for (const ks of batches) {
    // Sequential on purpose: preprocessing the next batch while ONNX Runtime encodes this one was
    // measured slower on 2 cores (the JS thread preempts one of ORT's threads and stalls its parallel ops).
    const images = prepare(ks);
    const embeddings = await timed(() => model.encode(images, ks.length), (ms) => (encoderMs += ms));

    for (let b = 0; b < ks.length; b++) {
      const k = ks[b]!;
      const embedding = embeddings.subarray(b * embSize, (b + 1) * embSize);
      const attention = sigmoid64 ? attentionMapForSlice(sigmoid64, k, nk) : null;
      const sliceMask = new Uint8Array(LOWRES * LOWRES);
      const sliceLogit = probs || options.onSlice ? new Float32Array(LOWRES * LOWRES).fill(-Infinity) : undefined;
      await timed(async () => {
        const slicePrompts = prompts.get(k);
        const calls: (EncodedPrompt | undefined)[] = slicePrompts
          ? slicePrompts.map((p) => encodePrompts(toEncoderFrame(p, ni, nj)))
          : [undefined];
        // Several decoder calls on one slice share one fusion run (the fused embedding is cached).
        const shared = attention && calls.length > 1 ? await model.fuse(embedding, attention) : undefined;
        for (const prompt of calls) {
          const res = shared ? await model.decodeMasks(shared, null, prompt) : await model.decodeMasks(embedding, attention, prompt);
          const m = maskFromLogits(res.lowResLogits, LOWRES, LOWRES, 1);
          for (let p = 0; p < m.length; p++) sliceMask[p] = sliceMask[p]! | m[p]!;
          if (sliceLogit) {
            const base = LOWRES * LOWRES;
            for (let p = 0; p < base; p++) sliceLogit[p] = Math.max(sliceLogit[p]!, res.lowResLogits[base + p]!);
          }
        }
      }, (ms) => (decoderMs += ms));
      if (options.onSlice && sliceLogit) options.onSlice({ index: k, embedding, boneLogits: sliceLogit, mask256: sliceMask });
      writeSliceIntoVolume(mask, dims, k, maskToSliceGrid(sliceMask, LOWRES, LOWRES, ni, nj));
      if (probs && sliceLogit) {
        const p256 = Float32Array.from(sliceLogit, (z) => 1 / (1 + Math.exp(-z)));
        writeSliceIntoVolume(probs, dims, k, resizeNearestPillow(p256, LOWRES, LOWRES, ni, nj));
      }
      options.onProgress?.(++done, todo.length);
    }
  }

  // Back to the input's axis order.
  const inv = inverseOrder(order);
  const result: SegmentVolumeResult = {
    mask: permuteVoxels(mask, dims, inv).data,
    slicesSegmented: todo.length,
    attention: useAttention,
    timings: { preprocessMs, vnetMs, encoderMs, decoderMs, setupMs, totalMs: performance.now() - t0 },
  };
  if (probs) result.probabilities = permuteVoxels(probs, dims, inv).data;
  return result;
}
