import pngjs from 'pngjs';
import { MetricsInputError } from './errors.js';
import type { Vec3 } from './mask.js';
import { percentileSorted } from './percentile.js';

const { PNG } = pngjs;

export type Rgb = [number, number, number];

export interface PreviewOptions {
  /** Number of slices in the montage (default 9). */
  slices?: number;
  /** Outline colour (default [255, 48, 48], red as in the paper's figures). */
  color?: Rgb;
  /** Draw the mask outline (default true). */
  outline?: boolean;
  /** Also blend the mask interior with `color` at this opacity in (0, 1]; 0/undefined = no fill. */
  fillAlpha?: number;
  /** Pixels of black between tiles (default 2). */
  gap?: number;
}

/** An RGBA raster, 4 bytes per pixel, rows top to bottom. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
  /** Slice indices (third axis) shown, in tile order (left to right, top to bottom). */
  slices: number[];
  /** Tile geometry of a montage (tile i at column i % cols, row floor(i / cols)), for labelling. */
  tiles?: { width: number; height: number; cols: number; gap: number };
}

/** 1st and 99th percentile of the intensities (on at most ~2M evenly strided samples), for grey windowing. */
export function percentileWindow(values: ArrayLike<number>): [number, number] {
  const stride = Math.max(1, Math.floor(values.length / 2_000_000));
  const sample = new Float64Array(Math.ceil(values.length / stride));
  let n = 0;
  for (let i = 0; i < values.length; i += stride) {
    const v = values[i];
    if (Number.isFinite(v)) sample[n++] = v;
  }
  const sorted = sample.subarray(0, n).sort();
  if (n === 0) return [0, 1];
  return [percentileSorted(sorted, 1), percentileSorted(sorted, 99)];
}

/**
 * Indices of `count` evenly spaced slices (tile centres of equal bins) over [first, last].
 * With a non-empty mask the range is the mask's extent along the third axis, otherwise the whole volume.
 */
export function previewSlices(dims: Vec3, count: number, mask?: Uint8Array): number[] {
  const Z = dims[2];
  const plane = dims[0] * dims[1];
  let first = 0;
  let last = Z - 1;
  if (mask) {
    let lo = -1;
    let hi = -1;
    for (let z = 0; z < Z; z++) {
      const s = mask.subarray(z * plane, (z + 1) * plane);
      if (s.some((v) => v !== 0)) {
        if (lo < 0) lo = z;
        hi = z;
      }
    }
    if (lo >= 0) {
      first = lo;
      last = hi;
    }
  }
  const span = last - first + 1;
  const n = Math.min(count, span);
  return Array.from({ length: n }, (_, k) => first + Math.floor(((k + 0.5) * span) / n));
}

/**
 * Montage of evenly spaced axial slices (third axis): grey image windowed to its 1st–99th percentile, the
 * mask outline (mask pixels with a 4-neighbour background or on the slice edge) drawn in `color`, and an
 * optional alpha-blended fill. Tiles show x to the right and y downwards, one pixel per voxel.
 */
export function renderMontage(image: ArrayLike<number>, dims: Vec3, mask: Uint8Array | null, options: PreviewOptions = {}): RgbaImage {
  const [X, Y, Z] = dims;
  if (image.length !== X * Y * Z) throw new MetricsInputError(`preview: image has ${image.length} voxels, dims need ${X * Y * Z}`);
  if (mask && mask.length !== image.length) throw new MetricsInputError(`preview: mask has ${mask.length} voxels but the image has ${image.length}`);
  const count = options.slices ?? 9;
  if (!Number.isInteger(count) || count < 1) throw new MetricsInputError(`preview: slice count must be a positive integer, got ${count}`);
  const color = options.color ?? [255, 48, 48];
  const alpha = options.fillAlpha ?? 0;
  if (!(alpha >= 0 && alpha <= 1)) throw new MetricsInputError(`preview: fill alpha must be in [0, 1], got ${alpha}`);
  const drawOutline = options.outline ?? true;
  const gap = options.gap ?? 2;
  const slices = previewSlices(dims, count, mask ?? undefined);
  const cols = Math.ceil(Math.sqrt(slices.length));
  const rows = Math.ceil(slices.length / cols);
  const width = cols * X + (cols - 1) * gap;
  const height = rows * Y + (rows - 1) * gap;
  const data = new Uint8Array(width * height * 4);
  for (let i = 3; i < data.length; i += 4) data[i] = 255;
  const [lo, hi] = percentileWindow(image);
  const scale = hi > lo ? 255 / (hi - lo) : 0;
  const plane = X * Y;
  slices.forEach((z, tile) => {
    const ox = (tile % cols) * (X + gap);
    const oy = Math.floor(tile / cols) * (Y + gap);
    const base = z * plane;
    for (let y = 0; y < Y; y++) {
      for (let x = 0; x < X; x++) {
        const i = base + x + X * y;
        const g = Math.max(0, Math.min(255, Math.round((image[i] - lo) * scale)));
        let r = g, gg = g, b = g;
        if (mask && mask[i] !== 0) {
          const edge =
            x === 0 || y === 0 || x === X - 1 || y === Y - 1 ||
            mask[i - 1] === 0 || mask[i + 1] === 0 || mask[i - X] === 0 || mask[i + X] === 0;
          if (drawOutline && edge) {
            [r, gg, b] = color;
          } else if (alpha > 0) {
            r = Math.round(g * (1 - alpha) + color[0] * alpha);
            gg = Math.round(g * (1 - alpha) + color[1] * alpha);
            b = Math.round(g * (1 - alpha) + color[2] * alpha);
          }
        }
        const o = 4 * (ox + x + width * (oy + y));
        data[o] = r;
        data[o + 1] = gg;
        data[o + 2] = b;
      }
    }
  });
  return { width, height, data, slices, tiles: { width: X, height: Y, cols, gap } };
}

/** PNG bytes of an RGBA raster (pngjs). */
export function encodePng(img: RgbaImage): Uint8Array {
  const png = new PNG({ width: img.width, height: img.height });
  png.data = Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  return new Uint8Array(PNG.sync.write(png));
}
