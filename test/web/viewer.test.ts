import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHROMIUM_PATH,
  chromiumAvailable,
  clickVoxel,
  exportMask,
  goToSlice,
  loadInputs,
  openViewer,
  openVolume,
  segmentSlices,
  type ViewerSession,
  type ViewerState,
} from '../../src/bench/webDriver.js';
import { readVolume } from '../../src/io/dispatch.js';
import { resizeNearestPillow } from '../../src/pipeline/preprocess/index.js';
import type { Volume } from '../../src/volume/types.js';
import { GOLDEN_DIR, REPO, WRIST, countDiff, goldenF32, goldenU8, sab, scratch, sliceRowsI } from '../cli/helpers.js';
import { encodeSeries, haveProgram, writeDicomSeries, writeEnhancedMr, wristSlab } from '../io/dicom-tools.js';

// End-to-end in real headless Chromium: `sab serve` -> open the wrist MRI and the golden checkpoints
// through the file inputs -> "Segment volume" on slices 36..38 -> one click on slice 38 -> export.
// The exported slices must equal what `sab segment` writes for them (slice 37 also equals the
// official golden mask). Masks may differ only where the bone logit is within 1e-3 of 0 (the
// project's parity rule): WASM and native kernels sum in different orders.

const IN_CI = Boolean(process.env['CI']);
const HAVE_CHROMIUM = chromiumAvailable();
if (!HAVE_CHROMIUM && !IN_CI) {
  console.warn(`test/web skipped: no Chromium at ${CHROMIUM_PATH} (install it with .ci/install.d/chromium, or set SAB_CHROMIUM)`);
}

const FIRST = 36;
const LAST = 38;
const GOLDEN_SLICE = 37;
const CLICK_SLICE = 38;
const CLICK: [number, number, number] = [150, 110, CLICK_SLICE];
const [NI, NJ] = [272, 204];
const ARTIFACTS = path.join(REPO, 'test-artifacts');
const SCREENSHOT = path.join(ARTIFACTS, 'viewer.png');

/** Newest modification time under the given paths (files and folders, recursively). */
function newest(paths: string[]): number {
  let t = 0;
  for (const p of paths) {
    if (!existsSync(p)) continue;
    const st = statSync(p);
    if (st.isDirectory()) {
      const kids = readdirSync(p).filter((n) => n !== 'dist' && n !== 'node_modules');
      t = Math.max(t, newest(kids.map((n) => path.join(p, n))));
    } else t = Math.max(t, st.mtimeMs);
  }
  return t;
}

/** `npm ci` / `npm run build` build web/dist; rebuild here only when the viewer sources are newer. */
async function ensureViewerBuilt(): Promise<void> {
  const index = path.join(REPO, 'web/dist/index.html');
  if (existsSync(index) && statSync(index).mtimeMs >= newest([path.join(REPO, 'web'), path.join(REPO, 'src')])) return;
  await new Promise<void>((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'build:web'], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`npm run build:web failed:\n${err}`))));
  });
}

/** Bone probabilities within 2.5e-4 of 0.5 <=> the bone logit within 1e-3 of 0 (where masks may flip). */
function uncertainFromProbabilities(p: ArrayLike<number>): Uint8Array {
  return Uint8Array.from(p as ArrayLike<number>, (v) => (Math.abs(v - 0.5) <= 2.5e-4 ? 1 : 0));
}

function mismatchesOutside(a: Uint8Array, b: Uint8Array, uncertain: Uint8Array): number {
  let n = 0;
  for (let p = 0; p < a.length; p++) if (a[p] !== b[p] && !uncertain[p]) n++;
  return n;
}

function ones(a: Uint8Array): number {
  let n = 0;
  for (const v of a) n += v;
  return n;
}

describe.skipIf(!HAVE_CHROMIUM && !IN_CI)('browser viewer in headless Chromium', () => {
  const dir = scratch('web');
  let session: ViewerSession | undefined;
  let afterAuto: Volume;
  let afterClick: Volume;
  let refAuto: { mask: Volume; probs: Volume };
  let refPoint: { mask: Volume; probs: Volume };
  let clicked: ViewerState;
  let autoMl: number;
  let undoMl: number;
  let redoMl: number;
  let clickMl: number;
  let reloaded: ViewerState;
  let shaders: { view: string; differing: number; bytes: number }[];

  beforeAll(async () => {
    if (!HAVE_CHROMIUM) throw new Error(`CI needs Chromium at ${CHROMIUM_PATH}: .ci/run installs it with .ci/install.d/chromium`);
    await ensureViewerBuilt();

    // What `sab segment` writes for the same slices (the reference the viewer must reproduce).
    const ref = async (name: string, args: string[]) => {
      const out = path.join(dir, `${name}.nii.gz`);
      const probs = path.join(dir, `${name}_p.nii.gz`);
      const r = await sab(['segment', WRIST, '-o', out, '--weights', GOLDEN_DIR, '--probabilities', probs, ...args]);
      if (r.code !== 0) throw new Error(`sab segment ${args.join(' ')}: ${r.stderr}`);
      return { mask: readVolume(out), probs: readVolume(probs) };
    };
    refAuto = await ref('auto', ['--slices', `${FIRST}:${LAST + 1}`]);
    refPoint = await ref('point', ['--slices', `${CLICK_SLICE}:${CLICK_SLICE + 1}`, '--prompted-only', '--point', `${CLICK.join(',')},1`]);

    const s = (session = await openViewer({ viewport: { width: 1280, height: 860 } }));
    await loadInputs(s, WRIST, [path.join(GOLDEN_DIR, 'bone_sam.pth'), path.join(GOLDEN_DIR, 'atten.pth')]);
    await segmentSlices(s, FIRST, LAST);
    await exportMask(s, path.join(dir, 'viewer_auto.nii.gz'));
    afterAuto = readVolume(path.join(dir, 'viewer_auto.nii.gz'));
    autoMl = Number(await s.page.getAttribute('#bone-volume', 'data-ml'));

    await goToSlice(s, CLICK_SLICE);
    clicked = await clickVoxel(s, CLICK);
    clickMl = Number(await s.page.getAttribute('#bone-volume', 'data-ml'));
    shaders = [];
    for (const view of ['multiplanar', 'edit']) {
      await s.page.check(`#view-${view}`);
      shaders.push({ view, ...(await s.page.evaluate(() => window.sabViewer.compareSliceShaders())) });
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    await s.page.screenshot({ path: SCREENSHOT });
    await exportMask(s, path.join(dir, 'viewer_click.nii.gz'));
    afterClick = readVolume(path.join(dir, 'viewer_click.nii.gz'));

    await s.page.click('#undo');
    undoMl = Number(await s.page.getAttribute('#bone-volume', 'data-ml'));
    await s.page.click('#redo');
    redoMl = Number(await s.page.getAttribute('#bone-volume', 'data-ml'));

    // The weights were cached in IndexedDB: a reload has them without choosing files again.
    await s.page.reload();
    await s.page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
    reloaded = await s.state();
  }, 1_500_000);

  afterAll(async () => {
    await session?.close();
  });

  it('exports a NIfTI mask with the input geometry', () => {
    const input = readVolume(WRIST);
    for (const v of [afterAuto, afterClick]) {
      expect(v.dims).toEqual(input.dims);
      expect(v.dtype).toBe('uint8');
      for (let q = 0; q < 16; q++) expect(v.affine[q]).toBeCloseTo(input.affine[q]!, 9);
    }
    // Slices outside the segmented range stay empty.
    expect(ones(sliceRowsI(afterAuto.data, afterAuto.dims, 10))).toBe(0);
    expect(ones(sliceRowsI(afterAuto.data, afterAuto.dims, LAST + 1))).toBe(0);
  });

  it(`automatic slice ${GOLDEN_SLICE} equals the official golden mask`, () => {
    const got = sliceRowsI(afterAuto.data, afterAuto.dims, GOLDEN_SLICE);
    const golden = goldenU8('auto_mask_original_size_batchstats');
    const logits = goldenF32('auto_lowres_logits_batchstats').subarray(256 * 256, 2 * 256 * 256);
    const uncertain = resizeNearestPillow(Uint8Array.from(logits, (z) => (Math.abs(z) < 1e-3 ? 1 : 0)), 256, 256, NI, NJ);
    console.log(`viewer slice ${GOLDEN_SLICE} vs golden: ${countDiff(got, golden)} differing voxels of ${got.length}`);
    expect(ones(golden)).toBeGreaterThan(100);
    expect(mismatchesOutside(got, golden, uncertain)).toBe(0);
  });

  it(`automatic slices ${FIRST}..${LAST} equal \`sab segment --slices ${FIRST}:${LAST + 1}\``, () => {
    for (let k = FIRST; k <= LAST; k++) {
      const got = sliceRowsI(afterAuto.data, afterAuto.dims, k);
      const want = sliceRowsI(refAuto.mask.data, refAuto.mask.dims, k);
      const uncertain = uncertainFromProbabilities(sliceRowsI(refAuto.probs.data, refAuto.probs.dims, k));
      console.log(`viewer slice ${k} vs sab segment: ${countDiff(got, want)} differing voxels`);
      expect(mismatchesOutside(got, want, uncertain)).toBe(0);
    }
  });

  it(`a click on slice ${CLICK_SLICE} gives the mask of \`sab segment --point ${CLICK.join(',')},1\`; other slices keep theirs`, () => {
    expect(clicked.lastPrompt?.prompt).toEqual({ kind: 'point', ijk: CLICK, label: 1 });
    expect(clicked.lastPrompt?.cached).toBe(true); // decoder only: the embedding came from the automatic pass
    const got = sliceRowsI(afterClick.data, afterClick.dims, CLICK_SLICE);
    const want = sliceRowsI(refPoint.mask.data, refPoint.mask.dims, CLICK_SLICE);
    const uncertain = uncertainFromProbabilities(sliceRowsI(refPoint.probs.data, refPoint.probs.dims, CLICK_SLICE));
    console.log(`clicked slice vs sab segment --point: ${countDiff(got, want)} differing voxels; click -> mask ${clicked.lastPrompt?.clickToMaskMs.toFixed(0)} ms`);
    expect(mismatchesOutside(got, want, uncertain)).toBe(0);
    // The click changed the slice (prompt mode segments only the prompted bone).
    expect(countDiff(got, sliceRowsI(afterAuto.data, afterAuto.dims, CLICK_SLICE))).toBeGreaterThan(0);
    for (let k = FIRST; k < CLICK_SLICE; k++) {
      expect(countDiff(sliceRowsI(afterClick.data, afterClick.dims, k), sliceRowsI(afterAuto.data, afterAuto.dims, k))).toBe(0);
    }
  });

  it('bone volume (mL) follows the edits; undo and redo restore them', () => {
    let n = 0;
    for (const v of afterAuto.data) n += v;
    expect(autoMl).toBeCloseTo(n / 1000, 6); // 1 mm isotropic voxels
    expect(clickMl).not.toBeCloseTo(autoMl, 6);
    expect(undoMl).toBeCloseTo(autoMl, 9);
    expect(redoMl).toBeCloseTo(clickMl, 9);
  });

  it("draws the same pixels with its lean slice shader as with niivue's own (slice and multiplanar views, mask shown)", () => {
    for (const r of shaders) {
      expect(r.differing, r.view).toBe(0);
      expect(r.bytes, r.view).toBeGreaterThan(1e6); // the whole canvas was read back
    }
  });

  it('keeps the weights in IndexedDB across a reload', () => {
    expect(reloaded.weights.sam).toBe(true);
    expect(reloaded.weights.vnet).toBe(true);
    expect(reloaded.weights.cached).toBe(true);
  });

  it('runs cross-origin isolated with WASM threads, requests nothing outside its origin, and logs no errors', () => {
    const s = session!;
    expect(clicked.runtime?.isolated).toBe(true);
    const origin = new URL(s.server.url).origin;
    const outside = s.requests.filter((u) => !(u.startsWith(`${origin}/`) || u.startsWith(`blob:${origin}/`) || u.startsWith('data:')));
    expect(s.requests.some((u) => u.endsWith('.wasm'))).toBe(true);
    expect(outside).toEqual([]);
    expect(s.errors).toEqual([]);
  });

  it('saves a screenshot of the segmented slice as a test artifact', () => {
    expect(existsSync(SCREENSHOT)).toBe(true);
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(20_000);
  });
});

// DICOM in the viewer: a JPEG-LS series and a JPEG-LS Enhanced MR file made by dcmtk's own encoder from the wrist
// are read in the page by the shared reader (src/io/dicom, the codecs' WASM served by `sab serve`); the voxels
// (sha256), dims, dtype and affine must equal Node's readVolume of the same files, and an exported mask carries
// that geometry.
const HAVE_DCMTK = haveProgram('dcmcjpls');
if (!HAVE_DCMTK && !IN_CI) console.warn('test/web DICOM part skipped: needs dcmtk (dcmcjpls); install with .ci/install.d/dcmtk');

describe.skipIf((!HAVE_CHROMIUM || !HAVE_DCMTK) && !IN_CI)('browser viewer opens compressed DICOM', () => {
  const dir = scratch('web-dicom');
  const series = path.join(dir, 'jls');
  const enhanced = path.join(dir, 'enhanced-jls.dcm');
  let session: ViewerSession | undefined;
  let opened: { series: ViewerState; enhanced: ViewerState };
  let exported: Volume;
  let corrupt: ViewerState;

  beforeAll(async () => {
    const raw = path.join(dir, 'raw');
    writeDicomSeries(raw, wristSlab(30, 16));
    encodeSeries(raw, series, 'dcmcjpls', []);
    writeEnhancedMr(raw, path.join(dir, 'enhanced.dcm'));
    execFileSync('dcmcjpls', [path.join(dir, 'enhanced.dcm'), enhanced]);
    await ensureViewerBuilt();
    const s = (session = await openViewer());
    const seriesState = await openVolume(s, readdirSync(series).sort().map((f) => path.join(series, f)));
    await exportMask(s, path.join(dir, 'jls_bone.nii.gz'));
    exported = readVolume(path.join(dir, 'jls_bone.nii.gz'));
    opened = { series: seriesState, enhanced: await openVolume(s, enhanced) };

    // A series with one corrupt JPEG-LS frame (its stream's first marker segments overwritten): one error naming
    // the file, and the volume already open stays.
    const bad = path.join(dir, 'corrupt');
    mkdirSync(bad);
    for (const f of readdirSync(series).sort().slice(0, 2)) copyFileSync(path.join(series, f), path.join(bad, f));
    const victim = path.join(bad, readdirSync(bad).sort()[1]!);
    const bytes = readFileSync(victim);
    const soi = bytes.indexOf(Buffer.from([0xff, 0xd8, 0xff]));
    bytes.fill(0x55, soi, soi + 12);
    writeFileSync(victim, bytes);
    await s.page.setInputFiles('#volume-file', readdirSync(bad).sort().map((f) => path.join(bad, f)));
    await s.page.waitForFunction(() => (window.sabViewer.state() as ViewerState).error !== null, null, { timeout: 60_000 });
    corrupt = await s.state();
  }, 300_000);

  afterAll(async () => {
    await session?.close();
  });

  const sha256 = (v: Volume): string => createHash('sha256').update(new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength)).digest('hex');

  it.each([
    ['a JPEG-LS series (16 files)', () => opened.series, () => series],
    ['a JPEG-LS Enhanced MR file', () => opened.enhanced, () => enhanced],
  ])('%s reads as in Node: same voxels, dims, dtype and affine', (_label, state, file) => {
    const st = state();
    expect(st.error).toBeNull();
    const ref = readVolume(file());
    const first = statSync(file()).isDirectory() ? path.join(file(), readdirSync(file()).sort()[0]!) : file();
    expect(readFileSync(first).includes('1.2.840.10008.1.2.4.80')).toBe(true); // JPEG-LS, as dcmcjpls wrote it
    expect(st.volume?.format).toBe('dicom');
    expect(st.volume?.dims).toEqual(ref.dims);
    expect(st.volume?.dtype).toBe(ref.dtype);
    expect(st.volume?.affine).toEqual([...ref.affine]);
    expect(st.volume?.sha256).toBe(sha256(ref));
  });

  it('a corrupt frame gives one error naming the file and the syntax; the open volume stays', () => {
    expect(corrupt.error).toMatch(/^open volume: 2 DICOM files: series [0-9.]+: IM00002\.dcm: JPEG-LS Lossless \(1\.2\.840\.10008\.1\.2\.4\.80\): the charls decoder failed/);
    expect(corrupt.volume).toEqual(opened.enhanced.volume);
  });

  it('exports a mask on the DICOM series grid, and logs no errors', () => {
    const ref = readVolume(series);
    expect(exported.dims).toEqual(ref.dims);
    for (let q = 0; q < 16; q++) expect(exported.affine[q]).toBeCloseTo(ref.affine[q]!, 6);
    expect(session!.errors).toEqual([]);
    const origin = new URL(session!.server.url).origin;
    // The codecs' WASM came from `sab serve` (vite's hashed copies).
    for (const wasm of [/charlswasm_decode-.*\.wasm$/, /openjpegwasm_decode-.*\.wasm$/, /dcmjs-native-codecs-.*\.wasm$/]) {
      expect(session!.requests.some((u) => u.startsWith(`${origin}/`) && wasm.test(u))).toBe(true);
    }
    expect(session!.requests.filter((u) => !(u.startsWith(`${origin}/`) || u.startsWith(`blob:${origin}/`) || u.startsWith('data:')))).toEqual([]);
  });
});
