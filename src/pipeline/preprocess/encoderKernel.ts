import { encoderChannelTables } from './encoder.js';
import { WASM_BASE64 } from './encoderKernelWasm.js';
import { bilinearTaps, type FixedPointTaps } from './resize.js';
import { PreprocessError } from './types.js';

interface KernelExports {
  memory: WebAssembly.Memory;
  horizontal(src: number, h: number, w: number, outW: number, start: number, count: number, wt: number, ksize: number, dst: number, x0: number): void;
  horizontal3(src: number, h: number, w: number, outW: number, first: number, masks: number, wt: number, dst: number): void;
  vertical(src: number, w: number, outH: number, start: number, count: number, wt: number, ksize: number, dst: number): void;
  histogram(img: number, n: number, hist: number): void;
  channels(img: number, n: number, lut: number, out: number): void;
  toUint8(vol: number, ni: number, nj: number, dst: number): void;
}

const PAGE = 65536;
const align16 = (bytes: number) => (bytes + 15) & ~15;

let compiled: WebAssembly.Module | null | undefined;
/** The compiled kernel, once per process; null where the engine has no WebAssembly SIMD. */
function kernelModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(Uint8Array.from(atob(WASM_BASE64), (c) => c.charCodeAt(0)));
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

interface PlacedTaps {
  start: number;
  count: number;
  wt: number;
  ksize: number;
}

/** horizontal3's tables: per block of 16 outputs its first input index and 3 x 16 swizzle indices; tap-major weights. */
interface PlacedBlocks {
  first: number;
  masks: number;
  wt: number;
  /** Outputs covered by whole blocks; the rest go through the scalar pass. */
  covered: number;
}

/**
 * Three-tap blocks of 16 outputs whose taps lie within 16 input bytes (every upscaling by more than ~1.15x),
 * or null where some block's taps spread wider.
 */
function swizzleBlocks(taps: FixedPointTaps): { first: Int32Array; masks: Uint8Array; wt: Int32Array } | null {
  const outW = taps.start.length;
  const blocks = outW >> 4;
  if (taps.ksize !== 3 || blocks === 0) return null;
  const first = new Int32Array(blocks);
  const masks = new Uint8Array(48 * blocks);
  for (let b = 0; b < blocks; b++) {
    first[b] = taps.start[16 * b]!;
    for (let t = 0; t < 3; t++) {
      for (let j = 0; j < 16; j++) {
        const lane = taps.start[16 * b + j]! + t - first[b]!;
        if (lane < 0 || lane > 15) return null;
        masks[48 * b + 16 * t + j] = lane;
      }
    }
  }
  const wt = new Int32Array(3 * outW);
  for (let x = 0; x < outW; x++) for (let t = 0; t < 3; t++) wt[t * outW + x] = taps.weights[3 * x + t]!;
  return { first, masks, wt };
}

/**
 * Encoder inputs of slices of one geometry (h x w -> outH x outW), written by a WebAssembly kernel
 * (encoderKernel.wat) into `slots` three-channel float32 images in its own memory: the same bytes as
 * sliceToUint8 + resizeBilinearPillow + writeEncoderInput (test/pipeline/encoderKernel.test.ts), in under a
 * third of their time: the Pillow taps are computed once per geometry, no buffer is allocated per slice,
 * both resize passes are 16-lane SIMD (upscaling) and the other loops have no bounds checks. `inputs` is handed to
 * ONNX Runtime as is (no copy).
 */
export class EncoderInputKernel {
  /** slots x (3, outH, outW) float32, a view of the kernel's memory (valid for the kernel's lifetime). */
  readonly inputs: Float32Array;

  private constructor(
    private readonly ex: KernelExports,
    private readonly geometry: { h: number; w: number; outH: number; outW: number },
    private readonly at: {
      vol: number; src: number; mid: number; img: number; hist: number; lut: number; out: number;
      hTaps: PlacedTaps | null; hBlocks: PlacedBlocks | null; vTaps: PlacedTaps | null;
    },
    readonly slots: number,
  ) {
    const { outH, outW } = geometry;
    this.inputs = new Float32Array(ex.memory.buffer, at.out, slots * 3 * outH * outW);
  }

  /** A kernel for `slots` slices of h x w, or null where WebAssembly SIMD (or the memory) is not available. */
  static create(h: number, w: number, outH: number, outW: number, slots: number): EncoderInputKernel | null {
    for (const n of [h, w, outH, outW, slots]) {
      if (!Number.isInteger(n) || n <= 0) throw new PreprocessError(`EncoderInputKernel: sizes must be positive integers, got ${h}x${w} -> ${outH}x${outW} x${slots}`);
    }
    const mod = kernelModule();
    if (!mod) return null;
    let top = 0;
    const take = (bytes: number) => {
      const offset = top;
      top = align16(top + bytes);
      return offset;
    };
    const tapsFor = (taps: FixedPointTaps | null) =>
      taps ? { taps, at: { start: take(4 * taps.start.length), count: take(4 * taps.count.length), wt: take(4 * taps.weights.length), ksize: taps.ksize } } : null;
    // Pillow skips a pass whose size does not change; so does the kernel (the next pass reads the previous image).
    const h1 = tapsFor(outW !== w ? bilinearTaps(w, outW) : null);
    const v1 = tapsFor(outH !== h ? bilinearTaps(h, outH) : null);
    const blocks = h1 ? swizzleBlocks(h1.taps) : null;
    const hBlocks = blocks
      ? { first: take(4 * blocks.first.length), masks: take(blocks.masks.length), wt: take(4 * blocks.wt.length), covered: 16 * blocks.first.length }
      : null;
    const vol = take(4 * h * w);
    // src is followed by another region: the horizontal passes' zero-weight reads past its last row land there.
    const src = take(h * w);
    const mid = h1 ? take(h * outW) : src;
    const img = v1 ? take(outH * outW) : mid;
    const hist = take(4096);
    const lut = take(3 * 1024);
    const out = take(slots * 3 * outH * outW * 4);
    let ex: KernelExports;
    try {
      ex = new WebAssembly.Instance(mod).exports as unknown as KernelExports;
      const need = Math.ceil(top / PAGE) - ex.memory.buffer.byteLength / PAGE;
      if (need > 0) ex.memory.grow(need);
    } catch {
      return null;
    }
    for (const t of [h1, v1]) {
      if (!t) continue;
      new Int32Array(ex.memory.buffer, t.at.start, t.taps.start.length).set(t.taps.start);
      new Int32Array(ex.memory.buffer, t.at.count, t.taps.count.length).set(t.taps.count);
      new Int32Array(ex.memory.buffer, t.at.wt, t.taps.weights.length).set(t.taps.weights);
    }
    if (blocks && hBlocks) {
      new Int32Array(ex.memory.buffer, hBlocks.first, blocks.first.length).set(blocks.first);
      new Uint8Array(ex.memory.buffer, hBlocks.masks, blocks.masks.length).set(blocks.masks);
      new Int32Array(ex.memory.buffer, hBlocks.wt, blocks.wt.length).set(blocks.wt);
    }
    return new EncoderInputKernel(ex, { h, w, outH, outW }, { vol, src, mid, img, hist, lut, out, hTaps: h1?.at ?? null, hBlocks, vTaps: v1?.at ?? null }, slots);
  }

  /** Resizes one h x w uint8 slice and writes its encoder input into slot `slot` of `inputs`. */
  write(slice: Uint8Array, slot: number): void {
    const { h, w } = this.geometry;
    if (slice.length !== h * w) throw new PreprocessError(`EncoderInputKernel: image has ${slice.length} pixels, expected ${h}x${w} = ${h * w}`);
    this.checkSlot(slot);
    new Uint8Array(this.ex.memory.buffer, this.at.src, h * w).set(slice);
    this.resizeAndWrite(slot);
  }

  /**
   * sliceToUint8(volume, dims, k) (recipe step 4, the kernel's float32 arithmetic is the same) followed by
   * write: the encoder input of slice k of a normalised (h, w, depth) volume, I fastest.
   */
  writeVolumeSlice(volume: Float32Array, dims: readonly [number, number, number], k: number, slot: number): void {
    const { h, w } = this.geometry;
    const [ni, nj, nk] = dims;
    if (ni !== h || nj !== w || volume.length !== ni * nj * nk) {
      throw new PreprocessError(`EncoderInputKernel: a ${dims.join('x')} volume of ${volume.length} values does not hold ${h}x${w} slices`);
    }
    if (!Number.isInteger(k) || k < 0 || k >= nk) throw new PreprocessError(`EncoderInputKernel: slice index ${k} is outside 0..${nk - 1}`);
    this.checkSlot(slot);
    new Float32Array(this.ex.memory.buffer, this.at.vol, h * w).set(volume.subarray(k * h * w, (k + 1) * h * w));
    this.ex.toUint8(this.at.vol, h, w, this.at.src);
    this.resizeAndWrite(slot);
  }

  private checkSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.slots) throw new PreprocessError(`EncoderInputKernel: slot ${slot} is outside 0..${this.slots - 1}`);
  }

  /** The uint8 slice at `src` resized, its histogram, channel tables and the three channels into the slot. */
  private resizeAndWrite(slot: number): void {
    const { h, w, outH, outW } = this.geometry;
    const { ex, at } = this;
    const buf = ex.memory.buffer;
    if (at.hTaps) {
      const t = at.hTaps;
      let x0 = 0;
      if (at.hBlocks) {
        ex.horizontal3(at.src, h, w, outW, at.hBlocks.first, at.hBlocks.masks, at.hBlocks.wt, at.mid);
        x0 = at.hBlocks.covered;
      }
      if (x0 < outW) ex.horizontal(at.src, h, w, outW, t.start, t.count, t.wt, t.ksize, at.mid, x0);
    }
    if (at.vTaps) ex.vertical(at.mid, outW, outH, at.vTaps.start, at.vTaps.count, at.vTaps.wt, at.vTaps.ksize, at.img);
    const n = outH * outW;
    ex.histogram(at.img, n, at.hist);
    const parts = new Uint32Array(buf, at.hist, 1024);
    const hist = new Uint32Array(256);
    for (let v = 0; v < 256; v++) hist[v] = parts[v]! + parts[256 + v]! + parts[512 + v]! + parts[768 + v]!;
    const luts = new Float32Array(buf, at.lut, 768);
    encoderChannelTables(hist).forEach((table, c) => luts.set(table, 256 * c));
    ex.channels(at.img, n, at.lut, at.out + slot * 3 * n * 4);
  }
}
