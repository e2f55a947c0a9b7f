/// <reference lib="webworker" />
import { readCheckpoint } from '../../src/checkpoint/read-checkpoint.js';
import type { StateDict } from '../../src/checkpoint/tensor.js';
import { createWebRuntime, webRuntimeThreads } from '../../src/graph/runtimeWeb.js';
import type { Runtime } from '../../src/graph/runtime.js';
import { encodePrompts } from '../../src/model/promptEncoder.js';
import { attentionMapForSlice, sigmoid } from '../../src/pipeline/attention.js';
import { maskFromLogits, maskToSliceGrid } from '../../src/pipeline/postprocess.js';
import { writeEncoderInput, percentileBounds, resizeBilinearPillow, vnetInputFromVolume, normaliseVolume, sliceToUint8 } from '../../src/pipeline/preprocess/index.js';
import { promptsBySlice, toEncoderFrame } from '../../src/pipeline/prompts.js';
import { segmentVolume } from '../../src/pipeline/segmentVolume.js';
import type { VoxelArray } from '../../src/volume/types.js';
import { sharedNow, type RequestMessage, type RequestName, type Requests, type WorkerMessage } from './protocol.js';
import { rowsIToSlice } from './sliceMasks.js';
import type { SliceProjections } from '../../src/model/segmentAnyBone.js';
import { EmbeddingCache, ViewerModel, type SliceEmbeddings } from './viewerModel.js';

/** The model worker: weights, graphs and ONNX Runtime sessions live here so the page stays responsive. */

declare const self: DedicatedWorkerGlobalScope;

const ENCODER_SIZE = 1024;
const LOWRES = 256;

let runtime: Runtime | undefined;
let sam: StateDict | undefined;
let vnet: StateDict | undefined;
let model: ViewerModel | undefined;
let volume: { data: VoxelArray; dims: [number, number, number]; normalised?: Float32Array } | undefined;
const cache = new EmbeddingCache(16);

const post = (m: WorkerMessage, transfer: Transferable[] = []) => self.postMessage(m, transfer);

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(what);
  return v;
}

function rebuildModel(): void {
  if (!runtime || !sam) return;
  void model?.release();
  model = new ViewerModel(runtime, sam, vnet);
  cache.clear();
}

function normalised(): Float32Array {
  const v = need(volume, 'open a volume first');
  if (!v.normalised) v.normalised = normaliseVolume({ data: v.data, dims: v.dims }, percentileBounds(v.data));
  return v.normalised;
}

/** Encode one slice exactly as segmentVolume prepares it (volume percentiles, uint8, 1024 bilinear, normalise). */
async function encodeSlice(m: ViewerModel, k: number): Promise<Float32Array> {
  const v = need(volume, 'open a volume first');
  const [ni, nj] = v.dims;
  const u8 = sliceToUint8(normalised(), v.dims, k);
  const input = new Float32Array(3 * ENCODER_SIZE * ENCODER_SIZE);
  writeEncoderInput(resizeBilinearPillow(u8, ni, nj, ENCODER_SIZE, ENCODER_SIZE), input, 0);
  return m.encode(input, 1);
}

async function attentionFor(m: ViewerModel, k: number): Promise<Float32Array> {
  const v = need(volume, 'open a volume first');
  const probs = await m.depthProbabilities(vnetInputFromVolume(normalised(), v.dims));
  return attentionMapForSlice(sigmoid(probs.logits), k, v.dims[2]);
}

/** The decoder's prompt-independent part over a slice's (fused) embedding, once per slice and mode. */
async function projectionsOf(m: ViewerModel, entry: SliceEmbeddings, attention: boolean): Promise<SliceProjections> {
  const which = attention ? 'fused' : 'raw';
  const embedding = attention ? entry.fused! : entry.embedding;
  entry.projections ??= {};
  return (entry.projections[which] ??= await m.imageProjections(embedding));
}

const handlers: { [K in RequestName]: (args: Requests[K]['args'], id: number) => Promise<Requests[K]['result']> } = {
  async init({ device, wasmPaths }) {
    runtime = await createWebRuntime({
      device,
      wasmPaths,
      onNotice: (message) => post({ id: -1, kind: 'notice', message }),
    });
    rebuildModel();
    return { device: runtime.device, threads: webRuntimeThreads(), isolated: self.crossOriginIsolated };
  },

  async weights({ files }) {
    const roles: { name: string; role: 'sam' | 'vnet' }[] = [];
    for (const f of files) {
      // The page transferred these bytes to this worker, which keeps them: tensors may be views of them (no copy).
      const dict = readCheckpoint(f.bytes, f.name, { adoptBytes: true });
      const keys = [...dict.keys()];
      if (keys.some((k) => k.startsWith('image_encoder.'))) {
        sam = dict;
        roles.push({ name: f.name, role: 'sam' });
      } else if (keys.some((k) => k.startsWith('in_tr.'))) {
        vnet = dict;
        roles.push({ name: f.name, role: 'vnet' });
      } else {
        throw new Error(
          `${f.name}: neither SegmentAnyBone weights (image_encoder.* keys, as in bone_sam.pth) nor the VNet (in_tr.* keys, as in atten.pth); first keys: ${keys.slice(0, 3).join(', ')}`,
        );
      }
    }
    rebuildModel();
    return { files: roles, sam: sam !== undefined, vnet: vnet !== undefined };
  },

  async volume({ data, dims }) {
    volume = { data, dims };
    cache.clear();
    model?.newVolume();
    return { slices: dims[2] };
  },

  async segment({ start, end, attention }, id) {
    const m = need(model, 'load the weights (bone_sam.pth) first');
    const v = need(volume, 'open a volume first');
    const t0 = performance.now();
    const res = await segmentVolume(
      m,
      { data: v.data, dims: v.dims },
      {
        attention,
        slices: [start, end],
        onProgress: (done, total) => {
          // segmentVolume decodes slices in order, one per progress step: keep that slice's embeddings.
          const last = m.lastAutoDecode;
          if (done > 0 && last) {
            const e: SliceEmbeddings = { embedding: last.embedding };
            if (last.attention) e.fused = last.fused;
            cache.set(start + done - 1, e);
          }
          post({ id, kind: 'progress', done, total, stage: 'segmenting' });
        },
      },
    );
    const t = res.timings;
    return { mask: res.mask, start, end, attention: res.attention, encoderMs: t.encoderMs, vnetMs: t.vnetMs, totalMs: performance.now() - t0 };
  },

  async prompt({ slice, prompts, attention }) {
    const startAt = sharedNow();
    const m = need(model, 'load the weights (bone_sam.pth) first');
    const v = need(volume, 'open a volume first');
    const [ni, nj] = v.dims;
    let encodeMs = 0;
    let fusionMs = 0;
    let entry = cache.get(slice);
    const cached = entry !== undefined;
    if (!entry) {
      const t = performance.now();
      entry = { embedding: await encodeSlice(m, slice) };
      encodeMs = performance.now() - t;
      cache.set(slice, entry);
    }
    if (attention && !entry.fused) {
      const t = performance.now();
      entry.fused = await m.fuse(entry.embedding, await attentionFor(m, slice));
      fusionMs = performance.now() - t;
    }
    const t = performance.now();
    const projections = await projectionsOf(m, entry, attention);
    // Same grouping as `sab segment`: one decoder call per box (with the points inside it), one for the other points.
    const groups = promptsBySlice(prompts, v.dims, [0, 1, 2]).get(slice) ?? [];
    const union = new Uint8Array(LOWRES * LOWRES);
    const decodeAt = sharedNow();
    let decodedAt = decodeAt;
    for (const group of groups) {
      // The bone channel only (what decodeWithProjections' channel 1 holds, bit for bit).
      const bone = await m.decodeBoneLogits(projections, encodePrompts(toEncoderFrame(group, ni, nj)));
      decodedAt = sharedNow();
      const mask = maskFromLogits(bone, LOWRES, LOWRES, 0);
      for (let p = 0; p < union.length; p++) union[p] = union[p]! | mask[p]!;
    }
    const sliceMask = rowsIToSlice(maskToSliceGrid(union, LOWRES, LOWRES, ni, nj), ni, nj);
    const marks = { startAt, decodeAt, decodedAt, doneAt: sharedNow() };
    return { sliceMask, encodeMs, fusionMs, decodeMs: performance.now() - t, cached, marks };
  },

  async prefetch({ slice, attention }) {
    const entry = model && cache.get(slice);
    // Only over embeddings already cached: idle-time work never encodes or fuses.
    if (!model || !entry || (attention && !entry.fused) || entry.projections?.[attention ? 'fused' : 'raw']) return { computed: false };
    await projectionsOf(model, entry, attention);
    // The click decoder's session too: otherwise the first click pays for opening it.
    await model.preparePromptDecoding();
    return { computed: true };
  },
};

// One request at a time: ONNX Runtime sessions are not re-entrant, and a prompt must see the finished segmentation.
let queue: Promise<void> = Promise.resolve();
self.onmessage = (ev: MessageEvent<RequestMessage>) => {
  queue = queue.then(() => handle(ev.data));
};

async function handle({ id, type, args }: RequestMessage): Promise<void> {
  try {
    const handler = handlers[type] as (a: unknown, id: number) => Promise<unknown>;
    const result = await handler(args, id);
    const transfer: Transferable[] = [];
    for (const v of Object.values(result as object)) if (ArrayBuffer.isView(v)) transfer.push(v.buffer as ArrayBuffer);
    post({ id, kind: 'result', result }, transfer);
  } catch (err) {
    post({ id, kind: 'error', message: err instanceof Error ? err.message : String(err) });
  }
}
