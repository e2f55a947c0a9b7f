import {
  attentionMapForSlice,
  encoderInputFromSlice,
  maskToSliceGrid,
  normaliseVolume,
  percentileBounds,
  resizeBilinearPillow,
  sigmoid,
  sliceToUint8,
  vnetInputFromVolume,
} from '../pipeline/index.js';

const REPEATS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median wall time in ms of `fn` over REPEATS runs after one warm-up. */
function time(fn: () => unknown, repeats = REPEATS): number {
  fn();
  const ms: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

/** A deterministic MRI-like uint16 volume: smooth blobs plus noise, I fastest. */
function syntheticVolume(ni: number, nj: number, nk: number): Uint16Array {
  const data = new Uint16Array(ni * nj * nk);
  let seed = 12345;
  for (let k = 0; k < nk; k++) {
    for (let j = 0; j < nj; j++) {
      for (let i = 0; i < ni; i++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        const blob = 300 * Math.max(0, Math.sin((i / ni) * 7) * Math.cos((j / nj) * 5) * Math.sin(((k + 1) / nk) * 3));
        data[i + ni * (j + nj * k)] = Math.round(blob + (seed >>> 24) / 8);
      }
    }
  }
  return data;
}

function fmt(ms: number): string {
  return `${ms.toFixed(2).padStart(9)} ms`;
}

/** Per-slice (steps 4-9, 11, 13) and whole-volume (steps 2, 3, 10) preprocessing times on synthetic volumes. */
export async function run(): Promise<void> {
  console.log('preprocess: official SegmentAnyBone pre/post-processing (single thread, median of 5)');
  for (const dims of [[272, 204, 74], [512, 512, 120]] as [number, number, number][]) {
    const [ni, nj, nk] = dims;
    const data = syntheticVolume(ni, nj, nk);
    const grid = { data, dims };
    console.log(`volume ${ni}x${nj}x${nk} uint16 (${((ni * nj * nk) / 1e6).toFixed(1)} M voxels)`);
    const bounds = percentileBounds(data);
    console.log(`  percentile bounds (histogram)       ${fmt(time(() => percentileBounds(data)))}`);
    const asFloat = Float32Array.from(data);
    console.log(`  percentile bounds (float quickselect)${fmt(time(() => percentileBounds(asFloat), 3))}`);
    const sortMs = time(() => Float64Array.from(data).sort(), 1);
    console.log(`  reference: full Float64Array sort   ${fmt(sortMs)}`);
    const vol = normaliseVolume(grid, bounds);
    console.log(`  normalise (clamp + scale)           ${fmt(time(() => normaliseVolume(grid, bounds)))}`);
    console.log(`  VNet input (64^3 trilinear)         ${fmt(time(() => vnetInputFromVolume(vol, dims)))}`);

    const k = Math.floor(nk / 2);
    const u8 = sliceToUint8(vol, dims, k);
    const big = resizeBilinearPillow(u8, ni, nj, 1024, 1024);
    const tSlice = time(() => sliceToUint8(vol, dims, k));
    const tResize = time(() => resizeBilinearPillow(u8, ni, nj, 1024, 1024));
    const tEnc = time(() => encoderInputFromSlice(big));
    console.log(`  per slice: slice -> uint8           ${fmt(tSlice)}`);
    console.log(`  per slice: Pillow bilinear 1024^2   ${fmt(tResize)}`);
    console.log(`  per slice: quantile/gamma/ImageNet  ${fmt(tEnc)}`);
    console.log(`  per slice: steps 4-9 total          ${fmt(tSlice + tResize + tEnc)}  (x${nk} slices = ${((tSlice + tResize + tEnc) * nk / 1000).toFixed(2)} s)`);
    const logits = new Float32Array(64 ** 3).map((_, i) => Math.sin(i) * 4);
    const sig = sigmoid(logits);
    console.log(`  sigmoid 64^3 (torch-exact exp)      ${fmt(time(() => sigmoid(logits)))}`);
    console.log(`  per slice: attention map            ${fmt(time(() => attentionMapForSlice(sig, k, nk)))}`);
    const mask = new Uint8Array(256 * 256).map((_, i) => (i * 7919) % 3 === 0 ? 1 : 0);
    console.log(`  per slice: mask 256^2 -> slice grid ${fmt(time(() => maskToSliceGrid(mask, 256, 256, ni, nj)))}`);
  }
}
