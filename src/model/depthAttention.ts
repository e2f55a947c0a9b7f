/**
 * Depth attention: from the VNet's 64^3 sigmoid volume to the 64x64 map (I, J) that gates the image
 * embedding of one original slice (recipe step 11). The bit-exact float32 arithmetic lives in
 * pipeline/attention.ts; this module re-exports it for the model and adds the per-volume form: the VNet
 * runs once per volume and every slice's map is cut from that one sigmoid volume.
 */
import { attentionMapForSlice, attentionWindow } from '../pipeline/attention.js';

export {
  attentionMapForSlice,
  attentionPreRescale,
  attentionWindow,
  probRescale,
  sigmoid,
} from '../pipeline/attention.js';

/** Side of the square attention map (the VNet grid and the SAM embedding are both 64 wide). */
export const ATTENTION_SIZE = 64;
const MAP_VALUES = ATTENTION_SIZE * ATTENTION_SIZE;

/**
 * The attention maps of all `numSlices` slices of a volume, slice s at [s*4096, (s+1)*4096), each (I, J)
 * row-major, identical to attentionMapForSlice(sigmoid64, s, numSlices). Slices that map to the same
 * 16-slice window share one computation.
 */
export function attentionMapsForAllSlices(sigmoid64: Float32Array, numSlices: number): Float32Array {
  if (!Number.isInteger(numSlices) || numSlices <= 0) {
    throw new RangeError(`attentionMapsForAllSlices: numSlices must be a positive integer, got ${numSlices}`);
  }
  const out = new Float32Array(numSlices * MAP_VALUES);
  const byWindow = new Map<string, Float32Array>();
  for (let s = 0; s < numSlices; s++) {
    const { start, end } = attentionWindow(s, numSlices);
    const key = `${start}:${end}`;
    let map = byWindow.get(key);
    if (!map) {
      map = attentionMapForSlice(sigmoid64, s, numSlices);
      byWindow.set(key, map);
    }
    out.set(map, s * MAP_VALUES);
  }
  return out;
}

/** Slice s of the result of attentionMapsForAllSlices, as a view (no copy). */
export function sliceAttentionMap(maps: Float32Array, sliceIndex: number): Float32Array {
  const n = maps.length / MAP_VALUES;
  if (!Number.isInteger(sliceIndex) || sliceIndex < 0 || sliceIndex >= n) {
    throw new RangeError(`sliceAttentionMap: slice ${sliceIndex} is outside 0..${n - 1}`);
  }
  return maps.subarray(sliceIndex * MAP_VALUES, (sliceIndex + 1) * MAP_VALUES);
}
