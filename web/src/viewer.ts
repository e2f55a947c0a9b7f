import { Niivue, NVImage, SHOW_RENDER, SLICE_TYPE } from '@niivue/niivue';

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

/**
 * niivue display of one volume with the bone mask as a red overlay. Voxel mapping goes through
 * niivue's own voxel-to-mm affine, so native voxel (i, j, k) here indexes the same element as the
 * file's data (niivue keeps the data in file order and only reorients its textures).
 */
export class VolumeViewer {
  readonly nv: Niivue;
  private background: NVImage | undefined;
  private overlay: NVImage | undefined;
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
  }

  /** Show a volume from its file bytes (niivue parses NIfTI and NRRD itself); the mask starts empty. */
  async show(bytes: Uint8Array, name: string, opacity: number): Promise<void> {
    for (const v of [...this.nv.volumes]) this.nv.removeVolume(v);
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    // NVImage.new's later parameters all have defaults (its typings list them as required).
    const bg = await (NVImage.new as unknown as (b: ArrayBuffer, n: string) => Promise<NVImage>)(buffer, name);
    this.nv.addVolume(bg);
    const overlay = bg.clone();
    overlay.zeroImage();
    overlay.name = 'bone mask';
    overlay.cal_min = 0.5;
    overlay.cal_max = 1;
    this.nv.addVolume(overlay);
    this.nv.setColormap(overlay.id, 'red');
    this.background = bg;
    this.overlay = overlay;
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

  setMask(mask: Uint8Array): void {
    const o = this.overlay;
    if (!o) return;
    (o.img as unknown as { set(a: ArrayLike<number>): void }).set(mask);
    // Only the overlay layer changed: re-upload it, not the background (updateGLVolume redoes every layer).
    this.nv.refreshLayers(o, 1);
    this.nv.drawScene();
  }

  setOpacity(opacity: number): void {
    if (this.nv.volumes.length > 1) this.nv.setOpacity(1, opacity);
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
