import { formatMm } from './geometry-rules.js';
import type { Axis } from './permute.js';
import type { Vec3 } from './types.js';

/**
 * Which voxel axis to slice along. MRI is acquired as thin in-plane images stacked at a larger spacing, and the model
 * was trained on such in-plane slices; slicing across the acquisition plane gives blurred, stretched images and poor
 * masks (upstream users report exactly that for volumes prepared another way). The in-plane slicing axis is the one
 * whose spacing clearly exceeds the other two: at least ANISOTROPY_RATIO times the next largest.
 */
export const ANISOTROPY_RATIO = 1.5;

/** The axis of clearly largest spacing (the stacking direction of an anisotropic volume), or undefined. */
export function inPlaneSlicingAxis(spacing: Readonly<Vec3>): Axis | undefined {
  const order = ([0, 1, 2] as Axis[]).sort((a, b) => spacing[b] - spacing[a]);
  const [widest, next] = order as [Axis, Axis];
  return spacing[widest] >= ANISOTROPY_RATIO * spacing[next] ? widest : undefined;
}

export type SlicingAxisChoice = Axis | 'auto';

export interface SlicingAxisAdvice {
  axis: Axis;
  /** Set when `axis` slices across the acquisition plane of an anisotropic volume; names the axis that would not. */
  warning?: string;
}

/** Resolve --axis (0, 1, 2 or 'auto'; auto = the in-plane axis, else the official third axis) and judge the choice. */
export function adviseSlicingAxis(choice: SlicingAxisChoice, spacing: Readonly<Vec3>): SlicingAxisAdvice {
  const inPlane = inPlaneSlicingAxis(spacing);
  const axis: Axis = choice === 'auto' ? (inPlane ?? 2) : choice;
  if (inPlane === undefined || inPlane === axis) return { axis };
  const sp = spacing.map(formatMm).join(' x ');
  return {
    axis,
    warning:
      `slicing along axis ${axis} cuts across the acquisition plane: the largest spacing (${formatMm(spacing[inPlane])} mm) is ` +
      `on axis ${inPlane} (spacing ${sp} mm), so the model sees stretched slices; --axis ${inPlane} (or --axis auto) slices in-plane`,
  };
}
