import { PreprocessError, VoxelArray, VoxelGrid, checkGrid, roundHalfEven } from './types.js';
import { nearestIndices } from './resize.js';
import { VNET_SIZE } from './vnet.js';

const f32 = Math.fround;


/**
 * torch F.interpolate(mode='bilinear', align_corners=False, antialias=False) of one float32 (H, W) plane
 * on CPU, float32 arithmetic: source index max((o + 0.5) * in/out - 0.5, 0), rows outer, columns inner.
 */
export function resizeBilinearTorch(src: Float32Array, h: number, w: number, outH: number, outW: number): Float32Array {
  if (src.length !== h * w) throw new PreprocessError(`resizeBilinearTorch: image has ${src.length} pixels, expected ${h}x${w}`);
  const rows = torchLinearTaps(h, outH);
  const cols = torchLinearTaps(w, outW);
  const out = new Float32Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    const r0 = rows.i0[y]! * w;
    const r1 = rows.i1[y]! * w;
    const hl0 = rows.l0[y]!;
    const hl1 = rows.l1[y]!;
    for (let x = 0; x < outW; x++) {
      const c0 = cols.i0[x]!;
      const c1 = cols.i1[x]!;
      const wl0 = cols.l0[x]!;
      const wl1 = cols.l1[x]!;
      const top = f32(f32(src[r0 + c0]! * wl0) + f32(src[r0 + c1]! * wl1));
      const bottom = f32(f32(src[r1 + c0]! * wl0) + f32(src[r1 + c1]! * wl1));
      out[y * outW + x] = f32(top * hl0) + f32(bottom * hl1);
    }
  }
  return out;
}

function torchLinearTaps(n: number, size: number): { i0: Int32Array; i1: Int32Array; l0: Float32Array; l1: Float32Array } {
  const i0 = new Int32Array(size);
  const i1 = new Int32Array(size);
  const l0 = new Float32Array(size);
  const l1 = new Float32Array(size);
  const scale = f32(n / size);
  for (let o = 0; o < size; o++) {
    if (n === size) {
      i0[o] = o;
      i1[o] = o;
      l0[o] = 1;
      l1[o] = 0;
      continue;
    }
    const real = Math.max(f32(f32(scale * f32(o + 0.5)) - 0.5), 0);
    const base = Math.trunc(real);
    i0[o] = base;
    i1[o] = base < n - 1 ? base + 1 : base;
    const lambda = Math.min(Math.max(f32(real - base), 0), 1);
    l1[o] = lambda;
    l0[o] = f32(1 - lambda);
  }
  return { i0, i1, l0, l1 };
}

/**
 * training.target_recipe: SAM training target (256, 256) float32 0/1 from a label slice (rows = I, cols = J):
 * Pillow NEAREST to 1024x1024, then torchvision Resize((256, 256)) on the long tensor (float32 bilinear,
 * round half to even).
 */
export function trainTarget256(labelSlice: ArrayLike<number>, rowsI: number, colsJ: number, encoderSize = 1024, outSize = 256): Float32Array {
  if (labelSlice.length !== rowsI * colsJ) throw new PreprocessError(`trainTarget256: slice has ${labelSlice.length} pixels, expected ${rowsI}x${colsJ}`);
  const u8 = new Uint8Array(labelSlice.length);
  // PIL "L" holds bytes: the labels pass through a uint8 conversion first.
  for (let p = 0; p < u8.length; p++) u8[p] = labelSlice[p]!;
  // Only the NEAREST-resized pixels the bilinear taps read are formed (<= 4 per output pixel instead of
  // the whole encoderSize^2 image; once per training slice per iteration). A -1 source index is a pixel
  // Pillow leaves at 0.
  const rows = torchLinearTaps(encoderSize, outSize);
  const cols = torchLinearTaps(encoderSize, outSize);
  const yi = nearestIndices(rowsI, encoderSize);
  const xi = nearestIndices(colsJ, encoderSize);
  const srcCol = (c: number) => xi[c]!;
  const c0 = Int32Array.from(cols.i0, srcCol);
  const c1 = Int32Array.from(cols.i1, srcCol);
  const out = new Float32Array(outSize * outSize);
  const at = (row: number, col: number) => (row < 0 || col < 0 ? 0 : u8[row * colsJ + col]!);
  for (let y = 0; y < outSize; y++) {
    const r0 = yi[rows.i0[y]!]!;
    const r1 = yi[rows.i1[y]!]!;
    const hl0 = rows.l0[y]!;
    const hl1 = rows.l1[y]!;
    for (let x = 0; x < outSize; x++) {
      const wl0 = cols.l0[x]!;
      const wl1 = cols.l1[x]!;
      // resizeBilinearTorch's arithmetic on those pixels.
      const top = f32(f32(at(r0, c0[x]!) * wl0) + f32(at(r0, c1[x]!) * wl1));
      const bottom = f32(f32(at(r1, c0[x]!) * wl0) + f32(at(r1, c1[x]!) * wl1));
      out[y * outSize + x] = roundHalfEven(f32(f32(top * hl0) + f32(bottom * hl1)));
    }
  }
  return out;
}

/** A (rows = I, cols = J) image of slice k of a volume stored I fastest. */
export function sliceOf<T extends VoxelArray>(grid: VoxelGrid<T>, sliceIndex: number): T {
  checkGrid(grid, 'sliceOf');
  const [ni, nj, nk] = grid.dims;
  if (!Number.isInteger(sliceIndex) || sliceIndex < 0 || sliceIndex >= nk) throw new PreprocessError(`sliceOf: slice index ${sliceIndex} is outside 0..${nk - 1}`);
  const out = new (grid.data.constructor as new (n: number) => T)(ni * nj);
  const base = sliceIndex * ni * nj;
  for (let c = 0; c < nj; c++) for (let r = 0; r < ni; r++) out[r * nj + c] = grid.data[base + c * ni + r]!;
  return out;
}

/**
 * VNet training target (64^3, (I, J, K) C order, float32 0/1) from a label volume: torch 'nearest-exact'
 * per axis, source index min(floor((o + 0.5) * n/64), n - 1) with float32 scale.
 */
export function vnetTarget64(labels: VoxelGrid): Float32Array {
  checkGrid(labels, 'vnetTarget64');
  const [ni, nj, nk] = labels.dims;
  const size = VNET_SIZE;
  const idx = (n: number): Int32Array => {
    const scale = f32(n / size);
    const out = new Int32Array(size);
    for (let o = 0; o < size; o++) out[o] = Math.min(Math.floor(f32((o + 0.5) * scale)), n - 1);
    return out;
  };
  const ii = idx(ni);
  const jj = idx(nj);
  const kk = idx(nk);
  const out = new Float32Array(size * size * size);
  for (let a = 0; a < size; a++) {
    for (let b = 0; b < size; b++) {
      const row = ii[a]! + ni * jj[b]!;
      const dst = (a * size + b) * size;
      for (let c = 0; c < size; c++) out[dst + c] = labels.data[row + ni * nj * kk[c]!]!;
    }
  }
  return out;
}
