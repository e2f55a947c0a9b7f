import type { VoxelPrompt } from '../../src/pipeline/prompts.js';
import type { VoxelArray } from '../../src/volume/types.js';

/** Messages between the page and the model worker (worker.ts). Typed arrays travel as transferables. */

export type DeviceChoice = 'auto' | 'wasm' | 'webgpu';

export interface WeightFile {
  name: string;
  bytes: Uint8Array;
}

export interface Requests {
  init: { args: { device: DeviceChoice; wasmPaths: string }; result: { device: string; threads: number; isolated: boolean } };
  /** Parse checkpoints; each file is recognised by its keys (SAM + fusion, or VNet). */
  weights: { args: { files: WeightFile[] }; result: { files: { name: string; role: 'sam' | 'vnet' }[]; sam: boolean; vnet: boolean } };
  volume: { args: { data: VoxelArray; dims: [number, number, number] }; result: { slices: number } };
  /** Automatic mode over slices [start, end) along the third voxel axis (the official slicing axis). */
  segment: {
    args: { start: number; end: number; attention: boolean };
    result: { mask: Uint8Array; start: number; end: number; attention: boolean; encoderMs: number; vnetMs: number; totalMs: number };
  };
  /** Prompt mode on one slice over its cached embedding: the new slice mask (i fastest, ni x nj). */
  prompt: {
    args: { slice: number; prompts: VoxelPrompt[]; attention: boolean };
    result: { sliceMask: Uint8Array; encodeMs: number; fusionMs: number; decodeMs: number; cached: boolean; marks: PromptMarks };
  };
  /**
   * Idle-time work for the slice on screen: when its embedding is cached, compute the decoder's
   * prompt-independent projections now, so even the first click on it runs only the rest.
   */
  prefetch: { args: { slice: number; attention: boolean }; result: { computed: boolean } };
}

/**
 * Where a prompt request spent its time in the worker, as shared-clock times (performance.timeOrigin +
 * performance.now(), ms): handling began, the first decoder run began, the last one ended, the reply was ready.
 */
export interface PromptMarks {
  startAt: number;
  decodeAt: number;
  decodedAt: number;
  doneAt: number;
}

/** A time on the clock page and worker share (their own performance.now() counts from different origins). */
export const sharedNow = (): number => performance.timeOrigin + performance.now();

export type RequestName = keyof Requests;

export interface RequestMessage<K extends RequestName = RequestName> {
  id: number;
  type: K;
  args: Requests[K]['args'];
}

export type WorkerMessage =
  | { id: number; kind: 'result'; result: unknown }
  | { id: number; kind: 'error'; message: string }
  | { id: number; kind: 'progress'; done: number; total: number; stage: string }
  | { id: -1; kind: 'notice'; message: string };
