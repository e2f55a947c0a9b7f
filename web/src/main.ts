import { gzipSync } from 'fflate';
import { encodeNifti } from '../../src/io/nifti/write.js';
import { decodeNifti } from '../../src/io/nifti/read.js';
import { decodeNrrd } from '../../src/io/nrrd/read.js';
import type { VoxelPrompt } from '../../src/pipeline/prompts.js';
import type { Volume } from '../../src/volume/types.js';
import { createMaskLike } from '../../src/volume/volume.js';
import { EditHistory, type SliceEdit } from './history.js';
import type { DeviceChoice, PromptMarks } from './protocol.js';
import { boneVolumeMl, readSlice, sliceSize, writeSlice } from './sliceMasks.js';
import { VolumeViewer, type ViewMode, type Voxel } from './viewer.js';
import { forgetWeights, loadAllWeights, saveWeights, type WeightsRole } from './weightsStore.js';
import { ModelWorker } from './workerClient.js';
import { droppedFiles, openVolumeFiles, picked, type PickedFile } from './volumeFiles.js';

/** The page: wires files, the model worker, the niivue view and the correction tools together. */

const $ = <T extends HTMLElement>(id: string) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from index.html`);
  return el as T;
};

const ui = {
  volumeFile: $<HTMLInputElement>('volume-file'),
  dicomFolder: $<HTMLInputElement>('dicom-folder'),
  weightsFile: $<HTMLInputElement>('weights-file'),
  maskFile: $<HTMLInputElement>('mask-file'),
  volumeInfo: $('volume-info'),
  weightsInfo: $('weights-info'),
  forgetWeights: $<HTMLButtonElement>('forget-weights'),
  first: $<HTMLInputElement>('slice-first'),
  last: $<HTMLInputElement>('slice-last'),
  attention: $<HTMLInputElement>('attention'),
  segment: $<HTMLButtonElement>('segment'),
  progress: $<HTMLProgressElement>('progress'),
  progressText: $('progress-text'),
  slice: $<HTMLInputElement>('slice'),
  promptMode: $<HTMLInputElement>('prompt-mode'),
  undo: $<HTMLButtonElement>('undo'),
  redo: $<HTMLButtonElement>('redo'),
  clearSlice: $<HTMLButtonElement>('clear-slice'),
  prompts: $('prompts'),
  clickTime: $('click-time'),
  opacity: $<HTMLInputElement>('opacity'),
  boneVolume: $('bone-volume'),
  export: $<HTMLButtonElement>('export'),
  status: $('status'),
  runtime: $('runtime'),
  canvas: $<HTMLCanvasElement>('gl'),
  wrap: $('canvas-wrap'),
  rubber: $('rubber'),
  markers: $('markers'),
  drop: $('drop-hint'),
};

interface LoadedVolume {
  volume: Volume;
  name: string;
  mask: Uint8Array;
}

const state = {
  volume: undefined as LoadedVolume | undefined,
  weights: { sam: false, vnet: false, names: [] as string[], cached: false },
  busy: false,
  segmented: undefined as { start: number; end: number; attention: boolean; ms: number } | undefined,
  prompts: new Map<number, VoxelPrompt[]>(),
  lastPrompt: undefined as
    | { slice: number; prompt: VoxelPrompt; clickToMaskMs: number; decodeMs: number; cached: boolean; phases: ClickPhases }
    | undefined,
  runtime: undefined as { device: string; threads: number; isolated: boolean } | undefined,
  error: undefined as string | undefined,
  exports: 0,
  /** sha256 of the voxels of a volume read from DICOM (the end-to-end test compares it with Node's read). */
  volumeDigest: undefined as string | undefined,
};

const history = new EditHistory();
const viewer = new VolumeViewer(ui.canvas);
const worker = new ModelWorker();
worker.onNotice = (m) => setStatus(m);

function setStatus(text: string, kind: 'info' | 'error' = 'info'): void {
  ui.status.textContent = text;
  ui.status.dataset['kind'] = kind;
  if (kind === 'error') state.error = text;
}

async function guarded(what: string, fn: () => Promise<void>): Promise<void> {
  if (state.busy) return;
  state.busy = true;
  refresh();
  try {
    await fn();
  } catch (err) {
    setStatus(`${what}: ${err instanceof Error ? err.message : String(err)}`, 'error');
  } finally {
    state.busy = false;
    refresh();
  }
}

function refresh(): void {
  const vol = state.volume;
  const ready = vol !== undefined && state.weights.sam && !state.busy;
  ui.segment.disabled = !ready;
  ui.attention.disabled = !state.weights.vnet;
  if (!state.weights.vnet) ui.attention.checked = false;
  ui.undo.disabled = state.busy || !history.canUndo;
  ui.redo.disabled = state.busy || !history.canRedo;
  ui.clearSlice.disabled = state.busy || !vol;
  ui.export.disabled = state.busy || !vol;
  ui.forgetWeights.disabled = !state.weights.cached;
  ui.weightsInfo.textContent = state.weights.names.length
    ? `${state.weights.names.join(', ')}${state.weights.cached ? ' (cached in this browser)' : ''}` +
      (state.weights.sam ? '' : ' — bone_sam.pth still needed') +
      (state.weights.sam && !state.weights.vnet ? ' — no atten.pth: 2D-only' : '')
    : 'none yet: choose bone_sam.pth and atten.pth (or .safetensors from sab convert)';
  if (vol) {
    const ml = boneVolumeMl(vol.mask, vol.volume.spacing);
    ui.boneVolume.textContent = `${ml.toFixed(2)} mL`;
    ui.boneVolume.dataset['ml'] = String(ml);
  }
  renderPrompts();
}

// ---- files -------------------------------------------------------------------------------------

const isWeights = (name: string) => /\.(pth|pt|safetensors)$/i.test(name);

async function readFile(f: File): Promise<Uint8Array> {
  return new Uint8Array(await f.arrayBuffer());
}

/** sha256 of a volume's voxel bytes (shown in the test hook's state, to compare a DICOM read with Node's). */
async function sha256Hex(data: ArrayBufferView): Promise<string> {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  const h = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return [...h].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function openVolume(files: PickedFile[]): Promise<void> {
  setStatus(`reading ${files.length === 1 ? files[0]!.path : `${files.length} files`}…`);
  const { volume, name, display } = await openVolumeFiles(files);
  if (volume.source?.format === 'dicom') state.volumeDigest = await sha256Hex(volume.data);
  else state.volumeDigest = undefined;
  await viewer.show(display.bytes, display.name, Number(ui.opacity.value));
  const shown = viewer.dims;
  if (!shown || shown.some((d, a) => d !== volume.dims[a])) {
    throw new Error(`${name}: the display reads dims ${shown?.join('x')} but the volume has ${volume.dims.join('x')}`);
  }
  const mask = new Uint8Array(volume.data.length);
  state.volume = { volume, name, mask };
  state.prompts.clear();
  state.segmented = undefined;
  state.lastPrompt = undefined;
  history.clear();
  const copy = volume.data.slice(); // the worker gets its own copy (transferred, not cloned)
  await worker.call('volume', { data: copy, dims: [...volume.dims] }, { transfer: [copy.buffer] });
  const nk = volume.dims[2];
  ui.first.max = ui.last.max = ui.slice.max = String(nk - 1);
  ui.first.value = '0';
  ui.last.value = String(nk - 1);
  viewer.goToSlice(Math.floor(nk / 2));
  viewer.setMask(mask);
  ui.volumeInfo.textContent = `${name}: ${volume.dims.join('×')} ${volume.dtype}, ${volume.spacing.map((s) => +s.toFixed(3)).join('×')} mm`;
  setStatus(`opened ${name}`);
}

/** An existing mask (e.g. from `sab segment`) on the same grid, to review and correct. */
async function openMask(file: File): Promise<void> {
  const vol = state.volume;
  if (!vol) throw new Error('open the volume before its mask');
  const bytes = await readFile(file);
  const m = file.name.toLowerCase().endsWith('.nrrd') ? decodeNrrd(bytes, file.name) : decodeNifti(bytes, file.name);
  if (m.dims.some((d, a) => d !== vol.volume.dims[a])) {
    throw new Error(`${file.name}: mask dims ${m.dims.join('x')} differ from the volume's ${vol.volume.dims.join('x')}`);
  }
  for (let p = 0; p < vol.mask.length; p++) vol.mask[p] = m.data[p] ? 1 : 0;
  state.prompts.clear();
  history.clear();
  viewer.setMask(vol.mask);
  setStatus(`mask ${file.name} opened`);
}

async function openWeights(files: File[]): Promise<void> {
  setStatus(`reading ${files.map((f) => f.name).join(', ')}…`);
  const loaded = await Promise.all(files.map(async (f) => ({ name: f.name, bytes: await readFile(f) })));
  const copies = loaded.map((f) => ({ name: f.name, bytes: f.bytes.slice() })); // originals stay here for the cache
  const res = await worker.call('weights', { files: copies }, { transfer: copies.map((c) => c.bytes.buffer) });
  state.weights.sam = res.sam;
  state.weights.vnet = res.vnet;
  if (res.vnet) ui.attention.checked = true;
  const byName = new Map(loaded.map((f) => [f.name, f.bytes]));
  let cached = true;
  for (const { name, role } of res.files) {
    try {
      await saveWeights({ role, name, bytes: byName.get(name)! });
    } catch {
      cached = false; // storage full or disabled: the weights still work for this session
    }
  }
  const names = new Map<WeightsRole, string>();
  for (const f of res.files) names.set(f.role, f.name);
  state.weights.names = mergeNames(names);
  state.weights.cached = cached;
  setStatus(`weights loaded: ${res.files.map((f) => f.name).join(', ')}`);
}

const currentNames = new Map<WeightsRole, string>();
function mergeNames(n: Map<WeightsRole, string>): string[] {
  for (const [k, v] of n) currentNames.set(k, v);
  return [...currentNames.values()];
}

async function loadCachedWeights(): Promise<void> {
  const stored = await loadAllWeights();
  if (stored.length === 0) return;
  setStatus('loading cached weights…');
  const res = await worker.call('weights', { files: stored.map((s) => ({ name: s.name, bytes: s.bytes })) });
  state.weights.sam = res.sam;
  state.weights.vnet = res.vnet;
  ui.attention.checked = res.vnet;
  state.weights.names = mergeNames(new Map(stored.map((s) => [s.role, s.name])));
  state.weights.cached = true;
  setStatus('weights loaded from the browser cache');
}

async function openFiles(files: PickedFile[]): Promise<void> {
  const weights = files.filter((f) => isWeights(f.path)).map((f) => f.file);
  const volumeFiles = files.filter((f) => !isWeights(f.path));
  if (weights.length) await openWeights(weights);
  if (volumeFiles.length) await openVolume(volumeFiles);
}

for (const input of [ui.volumeFile, ui.dicomFolder]) {
  input.addEventListener('change', () => {
    const fs = picked(input.files ?? []);
    if (fs.length) void guarded('open volume', () => openVolume(fs));
  });
}
ui.maskFile.addEventListener('change', () => {
  const f = ui.maskFile.files?.[0];
  if (f) void guarded('open mask', () => openMask(f));
});
ui.weightsFile.addEventListener('change', () => {
  const fs = [...(ui.weightsFile.files ?? [])];
  if (fs.length) void guarded('load weights', () => openWeights(fs));
});
ui.forgetWeights.addEventListener('click', () =>
  void guarded('forget weights', async () => {
    await forgetWeights();
    state.weights.cached = false;
    setStatus('cached weights removed from this browser (the loaded ones stay until reload)');
  }),
);

window.addEventListener('dragover', (e) => {
  e.preventDefault();
  ui.drop.hidden = false;
});
window.addEventListener('dragleave', (e) => {
  if (e.relatedTarget === null) ui.drop.hidden = true;
});
window.addEventListener('drop', (e) => {
  e.preventDefault();
  ui.drop.hidden = true;
  const items = e.dataTransfer?.items;
  if (items?.length) void guarded('open dropped files', async () => openFiles(await droppedFiles(items)));
});

// ---- automatic segmentation ----------------------------------------------------------------------

ui.segment.addEventListener('click', () =>
  void guarded('segment', async () => {
    const vol = state.volume!;
    const nk = vol.volume.dims[2];
    const first = Math.max(0, Math.min(nk - 1, Math.round(Number(ui.first.value))));
    const last = Math.max(first, Math.min(nk - 1, Math.round(Number(ui.last.value))));
    const attention = ui.attention.checked;
    ui.progress.value = 0;
    ui.progress.max = last - first + 1;
    ui.progressText.textContent = `0 / ${last - first + 1}`;
    setStatus(`segmenting slices ${first}–${last}${attention ? ' with depth attention' : ' (2D-only)'}…`);
    const t0 = performance.now();
    const res = await worker.call(
      'segment',
      { start: first, end: last + 1, attention },
      {
        onProgress: (done, total) => {
          ui.progress.value = done;
          ui.progressText.textContent = `${done} / ${total}`;
        },
      },
    );
    const dims = vol.volume.dims;
    for (let k = res.start; k < res.end; k++) {
      writeSlice(vol.mask, dims, k, readSlice(res.mask, dims, k));
      state.prompts.delete(k);
    }
    history.clear(); // a new automatic result starts a new edit history
    viewer.setMask(vol.mask);
    const ms = performance.now() - t0;
    state.segmented = { start: res.start, end: res.end, attention: res.attention, ms };
    // The slice on screen may have been segmented just now: prepare its clicks (and open the click
    // decoder) while the user looks, instead of on the first click.
    locationSlice = -1;
    prefetchSlice(viewer.currentSlice());
    const n = res.end - res.start;
    setStatus(
      `segmented ${n} slice${n === 1 ? '' : 's'} in ${(ms / 1000).toFixed(1)} s ` +
        `(encoder ${Math.round(res.encoderMs / n)} ms/slice${res.attention ? `, VNet ${Math.round(res.vnetMs)} ms` : ', 2D-only'})`,
    );
  }),
);

// ---- interactive correction ------------------------------------------------------------------------

function promptsOf(k: number): VoxelPrompt[] {
  return state.prompts.get(k) ?? [];
}

function applySlice(k: number, mask: Uint8Array, prompts: VoxelPrompt[]): void {
  const vol = state.volume!;
  writeSlice(vol.mask, vol.volume.dims, k, mask);
  if (prompts.length) state.prompts.set(k, prompts);
  else state.prompts.delete(k);
  viewer.setMaskSlice(vol.mask, k);
}

function recordEdit(k: number, mask: Uint8Array, prompts: VoxelPrompt[]): void {
  const vol = state.volume!;
  history.push({
    slice: k,
    before: { mask: readSlice(vol.mask, vol.volume.dims, k), prompts: promptsOf(k) },
    after: { mask, prompts },
  });
  applySlice(k, mask, prompts);
}

/** Where a click's time went (ms), in order: they sum to clickToMaskMs. */
export interface ClickPhases {
  /** Press to the request posted (a point is requested at the press, a box at the release). */
  input: number;
  /** Posted to the worker's handler starting (queue, message delivery). */
  toWorker: number;
  /** Cache look-ups and prompt encoding before the first decoder run (an encode on an unsegmented slice). */
  prep: number;
  /** ONNX Runtime decoder run(s), inputs in and logits out. */
  decoder: number;
  /** Logits to the slice mask (threshold, nearest resize, transposition). */
  post: number;
  /** The reply's way to the page (and, for a point, until the button is up). */
  back: number;
  /** History, mask volume and drawing-layer update (texture upload queued, scene drawn). */
  apply: number;
  /** Until the second frame callback after it: the frame showing the mask went out. */
  frames: number;
}

function clickPhases(t0: number, postAt: number, m: PromptMarks, receivedAt: number, appliedAt: number, shownAt: number): ClickPhases {
  const shift = performance.timeOrigin; // page clock -> shared clock
  return {
    input: postAt - t0,
    toWorker: m.startAt - (postAt + shift),
    prep: m.decodeAt - m.startAt,
    decoder: m.decodedAt - m.decodeAt,
    post: m.doneAt - m.decodedAt,
    back: receivedAt + shift - m.doneAt,
    apply: appliedAt - receivedAt,
    frames: shownAt - appliedAt,
  };
}

function requestPrompt(k: number, prompt: VoxelPrompt) {
  return worker.call('prompt', { slice: k, prompts: [...promptsOf(k), prompt], attention: ui.attention.checked });
}

/** `early`: the same request, already posted at the press (a point prompt). */
async function addPrompt(k: number, prompt: VoxelPrompt, t0: number, early?: { reply: Promise<PromptReply>; postAt: number }): Promise<void> {
  const prompts = [...promptsOf(k), prompt];
  const postAt = early?.postAt ?? performance.now();
  const res = await (early?.reply ?? requestPrompt(k, prompt));
  const receivedAt = performance.now();
  recordEdit(k, res.sliceMask, prompts);
  const appliedAt = performance.now();
  // On screen: the frame drawn with the new mask has been handed on and the next one has begun (two
  // frame callbacks; one only says the next frame is about to be drawn, with the GPU work still queued).
  await new Promise(requestAnimationFrame);
  await new Promise(requestAnimationFrame);
  const shownAt = performance.now();
  const clickToMaskMs = shownAt - t0;
  const phases = clickPhases(t0, postAt, res.marks, receivedAt, appliedAt, shownAt);
  state.lastPrompt = { slice: k, prompt, clickToMaskMs, decodeMs: res.decodeMs, cached: res.cached, phases };
  ui.clickTime.textContent =
    `click → mask ${Math.round(clickToMaskMs)} ms (decoder ${Math.round(res.decodeMs)} ms` +
    (res.cached ? '' : `, first prompt on this slice: encoder ${Math.round(res.encodeMs)} ms`) +
    (res.fusionMs ? `, fusion ${Math.round(res.fusionMs)} ms` : '') +
    ')';
  ui.clickTime.dataset['ms'] = String(clickToMaskMs);
  setStatus(`slice ${k}: ${prompts.length} prompt${prompts.length === 1 ? '' : 's'}`);
}

function revert(edit: SliceEdit | undefined, side: 'before' | 'after'): void {
  if (!edit) return;
  applySlice(edit.slice, edit[side].mask.slice(), edit[side].prompts);
  viewer.goToSlice(edit.slice);
  refresh();
}

ui.undo.addEventListener('click', () => revert(history.undo(), 'before'));
ui.redo.addEventListener('click', () => revert(history.redo(), 'after'));
ui.clearSlice.addEventListener('click', () => {
  const vol = state.volume;
  if (!vol) return;
  recordEdit(viewer.currentSlice(), new Uint8Array(sliceSize(vol.volume.dims)), []);
  refresh();
});

// Pointer on the slice view: click = point (left positive; right or shift negative), drag = box.
type PromptReply = Awaited<ReturnType<typeof requestPrompt>>;
/** A press on the slice; `early`: its point prompt, already requested (see the mousedown handler). */
let press: { x: number; y: number; voxel: Voxel; t: number; negative: boolean; early?: { reply: Promise<PromptReply>; postAt: number } } | undefined;
const DRAG_PX = 5;

function pointPrompt(p: { voxel: Voxel; negative: boolean }): VoxelPrompt {
  return { kind: 'point', ijk: [Math.round(p.voxel[0]), Math.round(p.voxel[1]), Math.round(p.voxel[2])], label: p.negative ? 0 : 1 };
}

function promptModeActive(): boolean {
  return ui.promptMode.checked && viewer.viewMode === 'edit' && state.volume !== undefined;
}

function rubberBand(x0: number, y0: number, x1: number, y1: number): void {
  const r = ui.wrap.getBoundingClientRect();
  Object.assign(ui.rubber.style, {
    left: `${Math.min(x0, x1) - r.left}px`,
    top: `${Math.min(y0, y1) - r.top}px`,
    width: `${Math.abs(x1 - x0)}px`,
    height: `${Math.abs(y1 - y0)}px`,
  });
  ui.rubber.hidden = false;
}

for (const type of ['mousedown', 'mousemove', 'mouseup', 'contextmenu', 'dblclick'] as const) {
  ui.wrap.addEventListener(
    type,
    (e: MouseEvent) => {
      if (!promptModeActive()) return;
      // Capture phase on the wrapper: niivue's own canvas handlers never see prompt clicks.
      e.stopPropagation();
      e.preventDefault();
      if (type === 'mousedown') {
        const voxel = viewer.clientToVoxel(e.clientX, e.clientY);
        press = voxel && { x: e.clientX, y: e.clientY, voxel, t: performance.now(), negative: e.button === 2 || e.shiftKey };
        // Most presses are clicks: decode their point while the button is down (a press lasts ~0.1 s, about
        // a decode). A drag discards it; nothing is applied before the button comes up.
        if (press && state.weights.sam && !state.busy) {
          const reply = requestPrompt(Math.round(press.voxel[2]), pointPrompt(press));
          reply.catch(() => undefined); // a failure is reported when (and if) the click uses it
          press.early = { reply, postAt: performance.now() };
        }
      } else if (type === 'mousemove' && press) {
        if (Math.hypot(e.clientX - press.x, e.clientY - press.y) > DRAG_PX) rubberBand(press.x, press.y, e.clientX, e.clientY);
      } else if (type === 'mouseup' && press) {
        const p = press;
        press = undefined;
        ui.rubber.hidden = true;
        const k = Math.round(p.voxel[2]);
        const dragged = Math.hypot(e.clientX - p.x, e.clientY - p.y) > DRAG_PX;
        let prompt: VoxelPrompt;
        if (dragged) {
          const end = viewer.clientToVoxel(e.clientX, e.clientY);
          if (!end) return;
          prompt = {
            kind: 'box',
            corner0: [Math.round(p.voxel[0]), Math.round(p.voxel[1]), k],
            corner1: [Math.round(end[0]), Math.round(end[1]), k],
          };
        } else {
          prompt = pointPrompt(p);
        }
        if (!state.weights.sam) {
          setStatus('load the weights (bone_sam.pth) before adding prompts', 'error');
          return;
        }
        void guarded('prompt', () => addPrompt(k, prompt, p.t, dragged ? undefined : p.early));
      }
    },
    { capture: true },
  );
}

function renderPrompts(): void {
  const vol = state.volume;
  const k = vol ? viewer.currentSlice() : 0;
  const list = promptsOf(k);
  ui.prompts.textContent = list.length
    ? list
        .map((p) =>
          p.kind === 'point'
            ? `${p.label ? '+' : '−'} point (${p.ijk.join(', ')})`
            : `□ box (${p.corner0[0]}, ${p.corner0[1]}) – (${p.corner1[0]}, ${p.corner1[1]})`,
        )
        .join('\n')
    : 'no prompts on this slice';
  ui.markers.replaceChildren();
  if (!vol || viewer.viewMode !== 'edit') return;
  const wrap = ui.wrap.getBoundingClientRect();
  for (const p of list) {
    if (p.kind === 'point') {
      const c = viewer.voxelToClient(p.ijk);
      if (!c) continue;
      const dot = document.createElement('div');
      dot.className = `marker ${p.label ? 'positive' : 'negative'}`;
      dot.style.left = `${c.x - wrap.left}px`;
      dot.style.top = `${c.y - wrap.top}px`;
      ui.markers.append(dot);
    } else {
      const a = viewer.voxelToClient(p.corner0);
      const b = viewer.voxelToClient(p.corner1);
      if (!a || !b) continue;
      const box = document.createElement('div');
      box.className = 'marker-box';
      Object.assign(box.style, {
        left: `${Math.min(a.x, b.x) - wrap.left}px`,
        top: `${Math.min(a.y, b.y) - wrap.top}px`,
        width: `${Math.abs(b.x - a.x)}px`,
        height: `${Math.abs(b.y - a.y)}px`,
      });
      ui.markers.append(box);
    }
  }
}

// ---- view ------------------------------------------------------------------------------------------

// A new slice on screen: let the worker precompute the decoder's prompt-independent part for it (only
// when its embedding is cached), so the first click there is as fast as the next ones.
let locationSlice = -1;
function prefetchSlice(k: number): void {
  if (k === locationSlice) return;
  locationSlice = k;
  if (!state.weights.sam) return;
  // Queued behind any running request; a failure would surface on the next click, so none is shown here.
  void worker.call('prefetch', { slice: k, attention: ui.attention.checked }).catch(() => undefined);
}

viewer.onLocation = (v) => {
  const k = Math.round(v[2]);
  if (document.activeElement !== ui.slice) ui.slice.value = String(k);
  prefetchSlice(k);
  renderPrompts();
};
ui.slice.addEventListener('change', () => {
  const nk = state.volume?.volume.dims[2] ?? 1;
  viewer.goToSlice(Math.max(0, Math.min(nk - 1, Math.round(Number(ui.slice.value)))));
  renderPrompts();
});
ui.opacity.addEventListener('input', () => viewer.setOpacity(Number(ui.opacity.value)));
for (const mode of ['edit', 'multiplanar', 'render'] as ViewMode[]) {
  $<HTMLInputElement>(`view-${mode}`).addEventListener('change', () => {
    viewer.setMode(mode);
    renderPrompts();
  });
}
window.addEventListener('resize', () => renderPrompts());

// ---- export ----------------------------------------------------------------------------------------

ui.export.addEventListener('click', () => {
  const vol = state.volume;
  if (!vol) return;
  const out = createMaskLike(vol.volume);
  out.data = vol.mask.slice();
  const [head, body] = encodeNifti(out);
  const raw = new Uint8Array(head!.length + body!.length);
  raw.set(head!, 0);
  raw.set(body!, head!.length);
  const gz = gzipSync(raw, { level: 6 });
  const base = vol.name.replace(/(\.nii\.gz|\.nii|\.nrrd)$/i, '');
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([gz as Uint8Array<ArrayBuffer>], { type: 'application/gzip' }));
  a.download = `${base}_bone.nii.gz`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  state.exports++;
  setStatus(`exported ${a.download} (${boneVolumeMl(vol.mask, vol.volume.spacing).toFixed(2)} mL of bone)`);
});

// ---- start -----------------------------------------------------------------------------------------

/** For tests and benchmarks driving the page: read-only state and the voxel -> screen mapping. */
declare global {
  interface Window {
    sabViewer: {
      state: () => unknown;
      voxelToClient: (i: number, j: number, k: number) => { x: number; y: number } | undefined;
      compareSliceShaders: () => { differing: number; bytes: number };
    };
  }
}
window.sabViewer = {
  state: () => ({
    volume: state.volume
      ? {
        name: state.volume.name, dims: state.volume.volume.dims, dtype: state.volume.volume.dtype,
        affine: [...state.volume.volume.affine], format: state.volume.volume.source?.format ?? null, sha256: state.volumeDigest ?? null,
      }
      : null,
    weights: { ...state.weights },
    busy: state.busy,
    segmented: state.segmented ?? null,
    lastPrompt: state.lastPrompt ?? null,
    runtime: state.runtime ?? null,
    error: state.error ?? null,
    slice: state.volume ? viewer.currentSlice() : null,
    exports: state.exports,
  }),
  voxelToClient: (i, j, k) => viewer.voxelToClient([i, j, k]),
  compareSliceShaders: () => viewer.compareSliceShaders(),
};

async function start(): Promise<void> {
  await viewer.attach();
  const params = new URLSearchParams(location.search);
  const device = (params.get('device') ?? 'auto') as DeviceChoice;
  const wasmPaths = new URL('ort/', document.baseURI).href;
  await guarded('start', async () => {
    state.runtime = await worker.call('init', { device, wasmPaths });
    ui.runtime.textContent =
      `${state.runtime.device.toUpperCase()}` +
      (state.runtime.device === 'wasm' ? `, ${state.runtime.threads} thread${state.runtime.threads === 1 ? '' : 's'}` : '') +
      (state.runtime.isolated ? '' : ' (not cross-origin isolated: serve with `sab serve`)');
    await loadCachedWeights();
    if (!state.error) setStatus('ready: open a volume (drop it here) and the weights');
  });
  document.body.dataset['ready'] = 'true';
}

void start();
