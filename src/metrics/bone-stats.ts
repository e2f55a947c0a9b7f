import { connectedComponents26 } from './components.js';
import type { BinaryMask } from './mask.js';
import { assertValidMask } from './mask.js';
import { MetricsInputError } from './errors.js';

export interface ComponentStats {
  /** 1-based component id, in order of decreasing size. */
  id: number;
  voxels: number;
  volumeMl: number;
  /** Inclusive voxel-index bounding box. */
  bboxMin: [number, number, number];
  bboxMax: [number, number, number];
}

export interface IntensityStats {
  mean: number;
  std: number;
  min: number;
  max: number;
}

export interface BoneStats {
  voxels: number;
  voxelVolumeMm3: number;
  /** voxels x voxel volume (mm^3) / 1000. */
  volumeMl: number;
  components: ComponentStats[];
  /** Image intensity inside the mask (population std); absent without an image, null for an empty mask. */
  intensity?: IntensityStats | null;
}

/** Bone volume, 26-connected components and (optionally) image intensity statistics inside the mask. */
export function boneStats(mask: BinaryMask, image?: ArrayLike<number>): BoneStats {
  assertValidMask(mask);
  const voxelVolumeMm3 = mask.spacing[0] * mask.spacing[1] * mask.spacing[2];
  const cc = connectedComponents26(mask.data, mask.dims);
  const components: ComponentStats[] = [];
  let voxels = 0;
  for (let k = 1; k <= cc.count; k++) {
    const b = 6 * (k - 1);
    voxels += cc.sizes[k];
    components.push({
      id: k,
      voxels: cc.sizes[k],
      volumeMl: (cc.sizes[k] * voxelVolumeMm3) / 1000,
      bboxMin: [cc.boxes[b], cc.boxes[b + 1], cc.boxes[b + 2]],
      bboxMax: [cc.boxes[b + 3], cc.boxes[b + 4], cc.boxes[b + 5]],
    });
  }
  components.sort((a, b) => b.voxels - a.voxels || a.id - b.id);
  components.forEach((c, i) => (c.id = i + 1));
  const stats: BoneStats = { voxels, voxelVolumeMm3, volumeMl: (voxels * voxelVolumeMm3) / 1000, components };
  if (image !== undefined) stats.intensity = intensityInside(mask.data, image);
  return stats;
}

/** Mean / population std / range of `image` where `mask` is non-zero (two-pass for a stable variance). */
export function intensityInside(mask: Uint8Array, image: ArrayLike<number>): IntensityStats | null {
  if (image.length !== mask.length) {
    throw new MetricsInputError(`image has ${image.length} voxels but the mask has ${mask.length}`);
  }
  let n = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 0) continue;
    const v = image[i];
    n++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (n === 0) return null;
  const m = sum / n;
  let ss = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 0) continue;
    const d = image[i] - m;
    ss += d * d;
  }
  return { mean: m, std: Math.sqrt(ss / n), min, max };
}
