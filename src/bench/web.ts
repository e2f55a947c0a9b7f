import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CHROMIUM_PATH,
  chromiumAvailable,
  clickVoxel,
  exportMask,
  goToSlice,
  loadInputs,
  openViewer,
  segmentSlices,
  webgpuAdapter,
  waitIdle,
  type ViewerSession,
  type ViewerState,
} from './webDriver.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { readVolume } from '../io/dispatch.js';

/**
 * `npm run bench:web`: the viewer in headless Chromium (onnxruntime-web, WASM threads under
 * COOP/COEP as `sab serve` sends): slice encode ms, click-to-mask ms (to the frame after the one showing
 * the mask), where a click's time goes (phases marked in page and worker) and the CPU per click of
 * Chromium's processes. Weights: $SAB_WEIGHTS or
 * the golden test checkpoints beside the checkout (same graphs and cost as the trained ones).
 */

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = path.join(REPO, '../shared/fixtures');
const VOLUME = process.env['SAB_BENCH_VOLUME'] ?? path.join(FIXTURES, 'mri/wrist_2.nii.gz');
const WEIGHTS = process.env['SAB_WEIGHTS'] || path.join(FIXTURES, 'golden');

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${median(xs).toFixed(0)} ms (min ${s[0]!.toFixed(0)}, max ${s[s.length - 1]!.toFixed(0)}, n=${s.length})`;
}

async function statusNumber(s: ViewerSession, re: RegExp): Promise<number> {
  const m = re.exec((await s.page.textContent('#status')) ?? '');
  return m ? Number(m[1]) : NaN;
}

export async function run(): Promise<void> {
  if (!chromiumAvailable()) {
    process.stdout.write(`skipped: no Chromium at ${CHROMIUM_PATH} (run .ci/install.d/chromium or set SAB_CHROMIUM)\n`);
    return;
  }
  const weights = ['bone_sam.pth', 'atten.pth'].map((f) => path.join(WEIGHTS, f));
  for (const f of [VOLUME, ...weights]) if (!existsSync(f)) throw new Error(`${f}: missing (set SAB_WEIGHTS / SAB_BENCH_VOLUME)`);
  const s = await openViewer();
  try {
    let t = Date.now();
    const st = await loadInputs(s, VOLUME, weights);
    const rt = st.runtime!;
    process.stdout.write(
      `browser: ${await s.page.evaluate(() => navigator.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? 'chromium')}, ` +
        `${rt.device}${rt.device === 'wasm' ? ` with ${rt.threads} threads` : ''}, cross-origin isolated: ${rt.isolated}, ` +
        `${(await s.page.evaluate(() => navigator.hardwareConcurrency))} cores\n`,
    );
    process.stdout.write(`open volume + parse weights: ${Date.now() - t} ms\n`);

    // First run: builds the graphs, opens the sessions and runs the VNet once for the volume.
    t = Date.now();
    await segmentSlices(s, 36, 36);
    process.stdout.write(`first slice (graph build + session start + VNet + encode + decode): ${Date.now() - t} ms\n`);

    const [a, b] = [37, 40];
    await segmentSlices(s, a, b);
    const perSlice = await statusNumber(s, /encoder (\d+) ms\/slice/);
    const seg = (await s.state()).segmented!;
    process.stdout.write(`slice encode (warm, ${b - a + 1} slices): ${perSlice} ms/slice; whole run ${(seg.ms / (b - a + 1)).toFixed(0)} ms/slice\n`);

    // Clicks on a slice whose embedding the automatic pass cached: only the decoder runs.
    await goToSlice(s, 38);
    const click: number[] = [];
    const decode: number[] = [];
    const phases: NonNullable<ViewerState['lastPrompt']>['phases'][] = [];
    const points: [number, number, number][] = [
      [150, 110, 38], [120, 90, 38], [180, 130, 38], [100, 150, 38], [140, 60, 38], [160, 100, 38],
      [130, 120, 38], [110, 80, 38], [170, 140, 38], [150, 70, 38], [125, 105, 38],
    ];
    let cpu0: Record<string, number> = {};
    for (const [n, p] of points.entries()) {
      if (n === 1) cpu0 = s.cpuByProcess(); // after the first click (it opens sessions)
      const r = (await clickVoxel(s, p)).lastPrompt!;
      click.push(r.clickToMaskMs);
      decode.push(r.decodeMs);
      phases.push(r.phases);
      await s.page.click('#undo'); // back to one prompt per click
      await waitIdle(s);
    }
    await s.page.waitForTimeout(500); // the last undo's frame
    const cpu1 = s.cpuByProcess();
    // The first click may wait for the slice's prompt-independent image projections (prefetched when the
    // slice came on screen; the click decoder's session was opened after the automatic run): report it apart.
    process.stdout.write(`first click (waits for the slice's prefetched image projections): ${click[0]!.toFixed(0)} ms\n`);
    process.stdout.write(`click-to-mask: ${stats(click.slice(1))}\n`);
    process.stdout.write(`  of which decoder in the worker: ${stats(decode.slice(1))}\n`);
    // Page and worker marks (web/src/main.ts ClickPhases): where the rest of a click goes.
    const phase = (k: keyof (typeof phases)[number]) => median(phases.slice(1).map((p) => p[k])).toFixed(1);
    process.stdout.write(
      `  phase medians (ms): input ${phase('input')}, to worker ${phase('toWorker')}, prep ${phase('prep')}, ` +
        `ONNX Runtime decoder ${phase('decoder')}, logits to mask ${phase('post')}, back ${phase('back')}, ` +
        `drawing update ${phase('apply')}, frames until shown ${phase('frames')}\n`,
    );
    // Where the CPU goes per click (+ its undo) on this machine's 2 cores: with --disable-gpu the GPU
    // process renders WebGL in software (SwiftShader) and competes with the WASM threads.
    const perClick = (type: string) => (((cpu1[type] ?? 0) - (cpu0[type] ?? 0)) / (points.length - 1)).toFixed(2);
    process.stdout.write(
      `  CPU per click + undo: renderer (page + model worker) ${perClick('renderer')} s, GPU process ${perClick('gpu-process')} s, ` +
        `load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`,
    );

    // A click on a slice not segmented yet: encode + fusion + decoder.
    await goToSlice(s, 20);
    const cold = (await clickVoxel(s, [150, 110, 20])).lastPrompt!;
    process.stdout.write(`click on an unsegmented slice (encode + fusion + decoder): ${cold.clickToMaskMs.toFixed(0)} ms\n`);
    if (s.errors.length) process.stdout.write(`page errors: ${s.errors.join('; ')}\n`);
    await exportMask(s, path.join(tmp, 'wasm.nii.gz'));
  } finally {
    await s.close();
  }
  // SAB_BENCH_WEBGPU=0: WASM only (on a CPU-emulated adapter the WebGPU part takes several minutes).
  if (process.env['SAB_BENCH_WEBGPU'] !== '0') await webgpu(weights);
  rmSync(tmp, { recursive: true, force: true });
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'sab-bench-web-'));

/** The same viewer on WebGPU where headless Chromium has an adapter: first slice, warm slice, clicks, masks vs WASM. */
async function webgpu(weights: string[]): Promise<void> {
  const adapter = await webgpuAdapter();
  if (!adapter) {
    process.stdout.write('WebGPU: no adapter in headless Chromium (tried --enable-unsafe-webgpu with the GPU process on)\n');
    return;
  }
  const s = await openViewer({ webgpu: true, query: '?device=webgpu' });
  try {
    const rt = (await loadInputs(s, VOLUME, weights)).runtime!;
    process.stdout.write(`WebGPU adapter: ${adapter}; viewer runtime: ${rt.device} (the VNet runs on WASM: no 3-D ConvTranspose in ORT's WebGPU kernels)\n`);
    // Kept short: on a CPU-emulated adapter every WebGPU run is slow.
    let t = Date.now();
    // SwiftShader's encode took 199-427 s on the AVX-512 machine and times out at segmentSlices' default 15 min on
    // a slower CPU (round seven).
    await segmentSlices(s, 37, 37, 2_400_000);
    process.stdout.write(`WebGPU slice 37 (graph build + sessions + VNet on WASM + encode + decode): ${Date.now() - t} ms; ${(await s.page.textContent('#status')) ?? ''}\n`);
    await goToSlice(s, 37);
    const click: number[] = [];
    for (const p of [[150, 110, 37], [120, 90, 37], [180, 130, 37]] as [number, number, number][]) {
      click.push((await clickVoxel(s, p)).lastPrompt!.clickToMaskMs);
      await s.page.click('#undo');
    }
    process.stdout.write(`WebGPU click-to-mask (the first opens the prompt decoder): ${click.map((c) => c.toFixed(0)).join(', ')} ms\n`);
    // Slice 37 was segmented automatically in both runs (the clicks were undone).
    await exportMask(s, path.join(tmp, 'webgpu.nii.gz'));
    const a = readVolume(path.join(tmp, 'wasm.nii.gz'));
    const b = readVolume(path.join(tmp, 'webgpu.nii.gz'));
    let differ = 0;
    let bone = 0;
    const plane = a.dims[0] * a.dims[1];
    for (let p = 37 * plane; p < 38 * plane; p++) {
      if (a.data[p] !== b.data[p]) differ++;
      bone += Number(a.data[p]);
    }
    process.stdout.write(`WebGPU vs WASM mask, slice 37: ${differ} differing voxels (${bone} bone voxels in the WASM mask)\n`);
    if (s.errors.length) process.stdout.write(`page errors: ${s.errors.join('; ')}\n`);
  } finally {
    await s.close();
  }
}
