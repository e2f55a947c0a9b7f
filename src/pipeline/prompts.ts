import type { Axis } from '../volume/permute.js';

export class SegmentationError extends Error {
  override name = 'SegmentationError';
}

/**
 * A prompt in voxel coordinates of the input volume (what a user reads off a viewer; fractional
 * values allowed). A box spans two in-plane corners on one slice of the slicing axis.
 */
export type VoxelPrompt =
  | { kind: 'point'; ijk: [number, number, number]; label: 0 | 1 }
  | { kind: 'box'; corner0: [number, number, number]; corner1: [number, number, number] };

/** Prompts of one decoder call on one slice, in slice pixel coordinates (row, col). */
export interface SlicePromptGroup {
  points: [number, number, 0 | 1][];
  box?: [number, number, number, number]; // r0, c0, r1, c1
}

/** SAM-frame prompt: x = column, y = row, in the 1024x1024 encoder input. */
export interface FramePrompt {
  points?: [number, number, number][];
  box?: [number, number, number, number];
}

/**
 * Maps slice pixel coordinates to the 1024 frame with the image's own transform: the resize maps
 * pixel centres (c + 0.5) * scale - 0.5 (half-pixel rule), so a prompt on a voxel lands on the same
 * anatomy the encoder sees there.
 */
export function toEncoderFrame(group: SlicePromptGroup, rows: number, cols: number, size = 1024): FramePrompt {
  const x = (c: number) => (c + 0.5) * (size / cols) - 0.5;
  const y = (r: number) => (r + 0.5) * (size / rows) - 0.5;
  const out: FramePrompt = {};
  if (group.points.length) out.points = group.points.map(([r, c, l]) => [x(c), y(r), l]);
  if (group.box) {
    const [r0, c0, r1, c1] = group.box;
    out.box = [x(Math.min(c0, c1)), y(Math.min(r0, r1)), x(Math.max(c0, c1)), y(Math.max(r0, r1))];
  }
  return out;
}

/** Inverse of toEncoderFrame for one coordinate pair (frame x, y -> slice row, col). */
export function fromEncoderFrame(xy: [number, number], rows: number, cols: number, size = 1024): [number, number] {
  return [(xy[1] + 0.5) * (rows / size) - 0.5, (xy[0] + 0.5) * (cols / size) - 0.5];
}

/**
 * Groups prompts by slice (along the slicing axis, after the axes were reordered by `order`) into
 * decoder calls: one call per box, carrying the points that fall inside it; the remaining points
 * form one more call. Each call segments the regions it prompts; the slice mask is their union.
 */
export function promptsBySlice(
  prompts: readonly VoxelPrompt[],
  dims: readonly [number, number, number],
  order: readonly [Axis, Axis, Axis],
): Map<number, SlicePromptGroup[]> {
  const toPlane = (ijk: readonly number[], what: string): [number, number, number] => {
    ijk.forEach((v, a) => {
      if (!Number.isFinite(v) || v < -0.5 || v > dims[a]! - 0.5) {
        throw new SegmentationError(
          `${what} (${ijk.join(', ')}) is outside the volume: voxel axis ${a} must be within 0..${dims[a]! - 1}`,
        );
      }
    });
    return [ijk[order[0]]!, ijk[order[1]]!, ijk[order[2]]!];
  };
  const perSlice = new Map<number, { points: [number, number, 0 | 1][]; boxes: [number, number, number, number][] }>();
  const entry = (k: number) => {
    let e = perSlice.get(k);
    if (!e) perSlice.set(k, (e = { points: [], boxes: [] }));
    return e;
  };
  const sliceIndex = (v: number, what: string) => {
    const k = Math.round(v);
    if (Math.abs(v - k) > 1e-6) throw new SegmentationError(`${what}: the slice coordinate ${v} must be a whole slice index`);
    return k;
  };
  for (const p of prompts) {
    if (p.kind === 'point') {
      const [r, c, k] = toPlane(p.ijk, 'point');
      entry(sliceIndex(k, 'point')).points.push([r, c, p.label]);
    } else {
      const a = toPlane(p.corner0, 'box corner');
      const b = toPlane(p.corner1, 'box corner');
      const k = sliceIndex(a[2], 'box');
      if (sliceIndex(b[2], 'box') !== k) throw new SegmentationError('a box must lie on one slice of the slicing axis');
      entry(k).boxes.push([a[0], a[1], b[0], b[1]]);
    }
  }
  const out = new Map<number, SlicePromptGroup[]>();
  for (const [k, { points, boxes }] of perSlice) {
    const groups: SlicePromptGroup[] = [];
    const used = new Set<number>();
    for (const box of boxes) {
      const [r0, r1] = [Math.min(box[0], box[2]), Math.max(box[0], box[2])];
      const [c0, c1] = [Math.min(box[1], box[3]), Math.max(box[1], box[3])];
      const inside = points.filter((pt, i) => {
        const hit = pt[0] >= r0 && pt[0] <= r1 && pt[1] >= c0 && pt[1] <= c1 && !used.has(i);
        if (hit) used.add(i);
        return hit;
      });
      groups.push({ points: inside, box });
    }
    const rest = points.filter((_, i) => !used.has(i));
    if (rest.length) groups.push({ points: rest });
    out.set(k, groups);
  }
  return out;
}
