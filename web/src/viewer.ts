import { Niivue, NVImage, SHOW_RENDER, SLICE_TYPE } from '@niivue/niivue';
import { LEAN_SLICE_SHADER } from './sliceShader.js';

export type ViewMode = 'edit' | 'multiplanar' | 'render';

/** Where a pointer lands: native voxel indices (i, j, k) of the volume, continuous. */
export type Voxel = [number, number, number];

type Mat4 = number[][];

function invert4(m: Mat4): Mat4 {
  // Gauss-Jordan on a 4x4 affine (small and exact enough for voxel<->mm).
  const a = m.map((r, i) => [...r, ...[0, 1, 2, 3].map((c) => (c === i ? 1 : 0))]);
  for (let c = 0; c < 4; c++) {
    let p = c;
    for (let r = c + 1; r < 4; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[p]![c]!)) p = r;
    [a[c], a[p]] = [a[p]!, a[c]!];
    const piv = a[c]![c]!;
    if (piv === 0) throw new Error('singular affine');
    for (let k = 0; k < 8; k++) a[c]![k]! /= piv;
    for (let r = 0; r < 4; r++) {
      if (r === c) continue;
      const f = a[r]![c]!;
      for (let k = 0; k < 8; k++) a[r]![k]! -= f * a[c]![k]!;
    }
  }
  return a.map((r) => r.slice(4));
}

function apply4(m: Mat4, v: readonly number[]): [number, number, number] {
  const out = [0, 1, 2].map((r) => m[r]![0]! * v[0]! + m[r]![1]! * v[1]! + m[r]![2]! * v[2]! + m[r]![3]!);
  return out as [number, number, number];
}

/** Where native voxels sit in niivue's drawing bitmap, which is in RAS voxel order (x fastest). */
export interface DrawingLayout {
  /** Per native axis: native index -> its term of the bitmap index (sum the three). */
  lut: [Int32Array, Int32Array, Int32Array];
  /** Sizes and strides of the RAS axes of the bitmap. */
  size: [number, number, number];
  stride: [number, number, number];
  /** The RAS axis along which the native third axis (the slicing axis) runs. */
  kAxis: number;
}

/**
 * permRAS (niivue's NVImage.permRAS): for RAS axis r, ±(native axis + 1), negative when that
 * native axis runs against r. The bitmap's RAS axes are ordered x, y, z with x fastest.
 */
export function drawingLayout(permRAS: readonly number[], dims: readonly [number, number, number]): DrawingLayout {
  const native = [0, 1, 2].map((r) => Math.abs(permRAS[r]!) - 1);
  if ([...native].sort().join() !== '0,1,2') throw new Error(`permRAS ${permRAS.join(',')} is not a signed axis permutation`);
  const size = native.map((a) => dims[a]!) as [number, number, number];
  const stride: [number, number, number] = [1, size[0], size[0] * size[1]];
  const lut = [0, 1, 2].map(() => new Int32Array(0)) as [Int32Array, Int32Array, Int32Array];
  for (let r = 0; r < 3; r++) {
    const a = native[r]!;
    const n = dims[a]!;
    const flip = permRAS[r]! < 0;
    lut[a] = Int32Array.from({ length: n }, (_, x) => (flip ? n - 1 - x : x) * stride[r]!);
  }
  return { lut, size, stride, kAxis: native.indexOf(2) };
}

/** Native slice k of `mask` (i fastest) into niivue's drawing bitmap at its RAS positions. */
function copySliceToDrawing(t: DrawingLayout, mask: Uint8Array, k: number, bitmap: Uint8Array): void {
  const [li, lj, lk] = t.lut;
  let p = k * li.length * lj.length;
  const zk = lk[k]!;
  for (let j = 0; j < lj.length; j++) {
    const base = lj[j]! + zk;
    for (let i = 0; i < li.length; i++) bitmap[base + li[i]!] = mask[p++]!;
  }
}

/**
 * niivue display of one volume with the bone mask in red (niivue's drawing layer). Voxel mapping goes through
 * niivue's own voxel-to-mm affine, so native voxel (i, j, k) here indexes the same element as the
 * file's data (niivue keeps the data in file order and only reorients its textures).
 */
export class VolumeViewer {
  readonly nv: Niivue;
  private background: NVImage | undefined;
  /** Native voxel -> index in niivue's drawing bitmap (RAS order), one table per native axis. */
  private toDrawing: DrawingLayout | undefined;
  private vox2mm: Mat4 = [];
  private mm2vox: Mat4 = [];
  private mode: ViewMode = 'edit';
  onLocation: (voxel: Voxel) => void = () => {};

  constructor(readonly canvas: HTMLCanvasElement) {
    this.nv = new Niivue({
      dragAndDropEnabled: false,
      backColor: [0.07, 0.07, 0.09, 1],
      show3Dcrosshair: true,
      isColorbar: false,
      crosshairColor: [0.2, 0.8, 1, 0.6],
      multiplanarShowRender: SHOW_RENDER.ALWAYS,
      loadingText: '',
      logLevel: 'error',
    });
    this.nv.onLocationChange = () => {
      const v = this.crosshairVoxel();
      if (v) this.onLocation(v);
    };
  }

  async attach(): Promise<void> {
    await this.nv.attachToCanvas(this.canvas);
    this.nv.setCrosshairWidth(1);
    // The viewer never loads overlay volumes (the mask is the drawing layer): see sliceShader.ts.
    this.nv.setCustomSliceShader(LEAN_SLICE_SHADER);
  }

  /**
   * Show a volume from its file bytes (niivue parses NIfTI and NRRD itself); the mask starts empty.
   * The mask is niivue's drawing layer (label 1 = red), not an overlay volume: an overlay edit makes
   * niivue rebuild the whole 3-D overlay texture (allocate, upload, re-orient every slice in a shader),
   * ~1 s of software-GL CPU per click here; the drawing is one R8 texture updated in place.
   */
  async show(bytes: Uint8Array, name: string, opacity: number): Promise<void> {
    for (const v of [...this.nv.volumes]) this.nv.removeVolume(v);
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    // NVImage.new's later parameters all have defaults (its typings list them as required).
    const bg = await (NVImage.new as unknown as (b: ArrayBuffer, n: string) => Promise<NVImage>)(buffer, name);
    this.nv.addVolume(bg);
    this.nv.createEmptyDrawing();
    this.background = bg;
    this.toDrawing = drawingLayout(bg.permRAS!, [bg.hdr!.dims[1]!, bg.hdr!.dims[2]!, bg.hdr!.dims[3]!]);
    const affine = bg.hdr!.affine;
    this.vox2mm = affine.map((r) => [...r]);
    this.mm2vox = invert4(this.vox2mm);
    this.setOpacity(opacity);
    this.setMode(this.mode);
  }

  get dims(): [number, number, number] | undefined {
    const d = this.background?.hdr?.dims;
    return d ? [d[1]!, d[2]!, d[3]!] : undefined;
  }

  /** Show a whole mask (native voxel order, i fastest). */
  setMask(mask: Uint8Array): void {
    const bitmap = this.nv.drawBitmap;
    const t = this.toDrawing;
    if (!bitmap || !t) return;
    for (let k = 0; k < t.lut[2].length; k++) copySliceToDrawing(t, mask, k, bitmap);
    this.nv.refreshDrawing(true);
  }

  /** Show slice k of `mask` (native voxel order) after only that slice changed: uploads one plane. */
  setMaskSlice(mask: Uint8Array, k: number): void {
    const bitmap = this.nv.drawBitmap;
    const t = this.toDrawing;
    if (!bitmap || !t) return;
    copySliceToDrawing(t, mask, k, bitmap);
    const zk = t.lut[2][k]!;
    const nv = this.nv as unknown as { gl: WebGL2RenderingContext; drawTexture: WebGLTexture | null; opts: { is2DSliceShader: boolean } };
    if (!nv.drawTexture || nv.opts.is2DSliceShader) {
      this.nv.refreshDrawing(true); // niivue's own path (a huge volume draws one 2-D slice texture)
      return;
    }
    // Native slice k is one plane of one RAS axis: upload only that box of the drawing texture.
    const { size, stride, kAxis } = t;
    const c = zk / stride[kAxis]!;
    const [u, v] = [0, 1, 2].filter((a) => a !== kAxis) as [number, number];
    const plane = new Uint8Array(size[u]! * size[v]!);
    let q = 0;
    for (let y = 0; y < size[v]!; y++) {
      const row = c * stride[kAxis]! + y * stride[v]!;
      for (let x = 0; x < size[u]!; x++) plane[q++] = bitmap[row + x * stride[u]!]!;
    }
    const offset = [0, 0, 0];
    const box = [...size];
    offset[kAxis] = c;
    box[kAxis] = 1;
    const gl = nv.gl;
    gl.activeTexture(gl.TEXTURE7); // niivue's drawing texture unit (TEXTURE7_DRAW)
    gl.bindTexture(gl.TEXTURE_3D, nv.drawTexture);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    gl.texSubImage3D(gl.TEXTURE_3D, 0, offset[0]!, offset[1]!, offset[2]!, box[0]!, box[1]!, box[2]!, gl.RED, gl.UNSIGNED_BYTE, plane);
    this.nv.drawScene();
  }

  /**
   * For tests: the current view drawn with the viewer's slice shader and with niivue's own, read back;
   * how many canvas bytes differ (0 expected, see sliceShader.ts) and how many were compared.
   */
  compareSliceShaders(): { differing: number; bytes: number } {
    const nv = this.nv as unknown as { gl: WebGL2RenderingContext; customSliceShader: unknown };
    const gl = nv.gl;
    const grab = () => {
      this.nv.drawScene();
      const px = new Uint8Array(gl.drawingBufferWidth * gl.drawingBufferHeight * 4);
      gl.readPixels(0, 0, gl.drawingBufferWidth, gl.drawingBufferHeight, gl.RGBA, gl.UNSIGNED_BYTE, px);
      return px;
    };
    const lean = grab();
    const own = nv.customSliceShader;
    nv.customSliceShader = null;
    const plain = grab();
    nv.customSliceShader = own;
    this.nv.drawScene();
    let differing = 0;
    for (let p = 0; p < lean.length; p++) if (lean[p] !== plain[p]) differing++;
    return { differing, bytes: lean.length };
  }

  setOpacity(opacity: number): void {
    this.nv.setDrawOpacity(opacity);
  }

  /** 'edit': the single 2-D view that shows slices of the third voxel axis (where prompts go). */
  setMode(mode: ViewMode): void {
    this.mode = mode;
    if (mode === 'multiplanar') {
      this.nv.setMultiplanarLayout(2); // 2x2 grid: three planes + the 3-D render
      this.nv.setSliceType(SLICE_TYPE.MULTIPLANAR);
    }
    else if (mode === 'render') this.nv.setSliceType(SLICE_TYPE.RENDER);
    else this.nv.setSliceType(this.editSliceType());
  }

  get viewMode(): ViewMode {
    return this.mode;
  }

  /** The niivue 2-D view whose slices are planes of constant native k. */
  private editSliceType(): SLICE_TYPE {
    if (this.vox2mm.length === 0) return SLICE_TYPE.AXIAL;
    const col = [0, 1, 2].map((r) => Math.abs(this.vox2mm[r]![2]!));
    const world = col.indexOf(Math.max(...col)); // 0: x (L-R), 1: y (P-A), 2: z (I-S)
    return world === 2 ? SLICE_TYPE.AXIAL : world === 1 ? SLICE_TYPE.CORONAL : SLICE_TYPE.SAGITTAL;
  }

  private fracToVoxel(frac: ArrayLike<number>): Voxel {
    const mm = this.background!.convertFrac2MM([frac[0]!, frac[1]!, frac[2]!] as never, true);
    return apply4(this.mm2vox, [mm[0]!, mm[1]!, mm[2]!]);
  }

  private voxelToFrac(v: Voxel): [number, number, number] {
    const mm = apply4(this.vox2mm, v);
    const f = this.background!.convertMM2Frac([mm[0], mm[1], mm[2]] as never, true);
    return [f[0]!, f[1]!, f[2]!];
  }

  crosshairVoxel(): Voxel | undefined {
    if (!this.background) return undefined;
    return this.fracToVoxel(this.nv.scene.crosshairPos);
  }

  /** The current slice index along the third voxel axis. */
  currentSlice(): number {
    const v = this.crosshairVoxel();
    const n = this.dims?.[2] ?? 1;
    return v ? Math.min(n - 1, Math.max(0, Math.round(v[2]))) : 0;
  }

  goToSlice(k: number): void {
    const v = this.crosshairVoxel();
    if (!v) return;
    this.nv.scene.crosshairPos = this.voxelToFrac([v[0], v[1], k]) as never;
    this.nv.drawScene();
    this.nv.createOnLocationChange();
  }

  /** Client (CSS pixel) position -> native voxel, when it falls on a 2-D slice tile of the volume. */
  clientToVoxel(clientX: number, clientY: number): Voxel | undefined {
    if (!this.background) return undefined;
    const r = this.canvas.getBoundingClientRect();
    const dpr = this.nv.uiData.dpr ?? 1;
    const frac = this.nv.canvasPos2frac([(clientX - r.left) * dpr, (clientY - r.top) * dpr]);
    if (!frac || frac[0]! < 0 || frac[1]! < 0 || frac[2]! < 0) return undefined;
    return this.fracToVoxel(frac);
  }

  /** Native voxel -> client (CSS pixel) position on the current view, if visible. */
  voxelToClient(v: Voxel): { x: number; y: number } | undefined {
    if (!this.background) return undefined;
    const pos = this.nv.frac2canvasPos(this.voxelToFrac(v) as never);
    if (!pos) return undefined;
    const r = this.canvas.getBoundingClientRect();
    const dpr = this.nv.uiData.dpr ?? 1;
    return { x: r.left + pos[0]! / dpr, y: r.top + pos[1]! / dpr };
  }
}
