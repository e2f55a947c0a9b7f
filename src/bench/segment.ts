// Whole-volume benchmark on the 74-slice sample MRI: `sab segment` as a whole process (the user's figure),
// then the library path warm: float32 with its stage breakdown (the reference), the opt-in int8 encoder
// measured in the same run, the agreement of the two, and the speed-up.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint } from '../checkpoint/load-checkpoint.js';
import { readVolume } from '../io/dispatch.js';
import type { EncoderPrecision } from '../model/segmentAnyBone.js';
import { PrecisionComparison } from '../pipeline/precisionAgreement.js';
import { loadModel, type SegmentedVolume } from '../pipeline/segmenter.js';
import type { SegmentVolumeOptions } from '../pipeline/segmentVolume.js';
import { writeTorchCheckpoint } from '../train/export/index.js';
import { GOLDEN } from './_fixtures.js';

const WRIST = fileURLToPath(new URL('../../../shared/fixtures/mri/wrist_2.nii.gz', import.meta.url));
const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
/** Embeddings of every 4th slice are held for the comparison (4 MB each). */
const COMPARE_EVERY = 4;

const s = (ms: number, digits = 1): string => `${(ms / 1000).toFixed(digits)} s`;
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

function breakdown(wall: number, res: SegmentedVolume, cpuMs: number): string {
  const t = res.timings;
  const n = res.slicesSegmented;
  const other = wall - t.encoderMs - t.decoderMs - t.vnetMs;
  return (
    `${s(wall)} (process CPU ${s(cpuMs)})  [encoder ${s(t.encoderMs)} (${(t.encoderMs / n).toFixed(0)} ms/slice), fusion + decoder ${s(t.decoderMs)} ` +
    `(${(t.decoderMs / n).toFixed(0)} ms/slice), VNet ${s(t.vnetMs, 2)}, preprocessing ${s(t.preprocessMs, 2)}, ` +
    `graph build + sessions ${s(t.setupMs, 2)}; everything but encoder, decoder and VNet ${s(other, 2)}]`
  );
}

/** `sab segment` in a fresh process, as a user runs it: wall time and the stage times it reports. */
function wholeProcess(precision: EncoderPrecision, dir: string, weights = GOLDEN): string {
  const out = path.join(dir, `mask_${precision}.nii.gz`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, 'segment', WRIST, '-o', out, '--weights', weights, '--precision', precision, '--json'], { encoding: 'utf8' });
  const wall = performance.now() - t0;
  if (r.status !== 0) throw new Error(`sab segment failed: ${r.stderr}`);
  const summary = JSON.parse(r.stdout) as { timingsMs: Record<string, number>; peakRssMiB: number };
  const t = summary.timingsMs;
  const model = (t['encoderMs'] ?? 0) + (t['decoderMs'] ?? 0) + (t['vnetMs'] ?? 0);
  return (
    `${s(wall)}  [encoder + decoder + VNet ${s(model)}; everything else (process start, reading, preprocessing, graph build, sessions, writing) ` +
    `${s(wall - model, 2)}; peak RSS ${summary.peakRssMiB} MiB]`
  );
}

/**
 * `sab segment` in batch over three copies of the sample (slices 37:39 each): the process's peak memory after each
 * volume. The model's sessions are closed between volumes; without that the later volumes peaked ~1.65x the first.
 */
function batchPeaks(dir: string): string {
  const inputs = path.join(dir, 'batch-in');
  mkdirSync(inputs);
  for (const n of [1, 2, 3]) symlinkSync(WRIST, path.join(inputs, `wrist_${n}.nii.gz`));
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, 'segment', inputs, '-o', path.join(dir, 'batch-out'), '--weights', GOLDEN, '--slices', '37:39', '--json'], { encoding: 'utf8' });
  const wall = performance.now() - t0;
  if (r.status !== 0) throw new Error(`sab segment (batch) failed: ${r.stderr}`);
  const summary = JSON.parse(r.stdout) as { results: { peakRssMiB: number }[] };
  return `${s(wall)}, peak RSS after each volume ${summary.results.map((x) => x.peakRssMiB).join(', ')} MiB`;
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sab-bench-'));
  try {
    console.log(`sab segment, whole process, float32, depth attention: ${wholeProcess('float32', dir)}`);
    console.log(`sab segment, whole process, int8 encoder, depth attention: ${wholeProcess('int8', dir)}`);
    // The golden atten.pth stores its 5x5x5 kernels as strided views (gathered at load, ~0.2 s); torch.save of
    // trained weights, as the official release ships them, writes every tensor contiguously, read without a copy.
    const official = path.join(dir, 'contiguous');
    mkdirSync(official);
    for (const f of ['bone_sam.pth', 'atten.pth']) writeTorchCheckpoint(path.join(official, f), loadCheckpoint(`${GOLDEN}${f}`));
    console.log(`sab segment, whole process, float32, depth attention, the same weights stored contiguously: ${wholeProcess('float32', dir, official)}`);
    console.log(`sab segment in batch, 3 volumes of 2 slices (37:39), depth attention: ${batchPeaks(dir)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const volume = readVolume(WRIST);
  const f32 = loadModel(GOLDEN);
  const int8 = loadModel(GOLDEN, { precision: 'int8' });
  const comparison = new PrecisionComparison((k) => k % COMPARE_EVERY === 0);
  try {
    // Warm-up: graphs built and sessions opened once (a user pays this once per process, shown above).
    for (const m of [f32, int8]) await m.segmentVolume(volume, { slices: [37, 38] });
    // Wall time and this process's CPU time (user + system, all threads): under contention from other
    // processes CPU time is the steadier figure for comparing the two precisions.
    const timed = async (m: typeof f32, options: SegmentVolumeOptions): Promise<[number, SegmentedVolume, number]> => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const res = await m.segmentVolume(volume, options);
      const c = process.cpuUsage(c0);
      return [performance.now() - t0, res, (c.user + c.system) / 1000];
    };
    const load0 = loadavg()[0]!;
    const [wallF, resF, cpuF] = await timed(f32, { attention: true, onSlice: comparison.reference });
    console.log(`library, warm, float32 (reference), attention on, ${resF.slicesSegmented} slices: ${breakdown(wallF, resF, cpuF)}`);
    const [wallQ, resQ, cpuQ] = await timed(int8, { attention: true, onSlice: comparison.candidate });
    console.log(`library, warm, int8 encoder,         attention on, ${resQ.slicesSegmented} slices: ${breakdown(wallQ, resQ, cpuQ)}`);
    const a = comparison.figures(resF.mask.data as Uint8Array, resQ.mask.data as Uint8Array);
    console.log(
      `int8 vs float32 on the sample volume: embedding error ${a.embeddingError.toExponential(2)}, bone logits error ` +
        `${a.logitsError.toExponential(2)} (max abs error / max |float32|, ${a.slices} slices: every ${COMPARE_EVERY}th); ` +
        `mask voxel agreement ${(100 * a.maskAgreement).toFixed(3)}%, DSC ${a.dsc.toFixed(4)} (all slices); ` +
        `bone ${resF.boneVolumeMl.toFixed(1)} mL (float32) vs ${resQ.boneVolumeMl.toFixed(1)} mL (int8)`,
    );
    const perSliceF = resF.timings.encoderMs / resF.slicesSegmented;
    const perSliceQ = resQ.timings.encoderMs / resQ.slicesSegmented;
    console.log(
      `speed-up int8 / float32: encoder ${(perSliceF / perSliceQ).toFixed(2)}x (${perSliceF.toFixed(0)} -> ${perSliceQ.toFixed(0)} ms/slice), ` +
        `whole volume ${(wallF / wallQ).toFixed(2)}x (${s(wallF)} -> ${s(wallQ)}); process CPU time ${(cpuF / cpuQ).toFixed(2)}x (${s(cpuF)} -> ${s(cpuQ)}); ` +
        `load average ${load0.toFixed(2)} -> ${loadavg()[0]!.toFixed(2)} (other processes share the cores; \`npm run bench int8\` interleaves the two encoders)`,
    );
    const [wallN, resN, cpuN] = await timed(f32, { attention: false });
    console.log(`library, warm, float32, 2D-only (no VNet/fusion),  ${resN.slicesSegmented} slices: ${breakdown(wallN, resN, cpuN)}`);
    // maxRSS is in kilobytes; it includes both models and the held comparison embeddings.
    console.log(`peak RSS of this bench: ${mb(process.resourceUsage().maxRSS * 1024)} (two models loaded; sab segment alone is lower)`);
  } finally {
    await f32.release();
    await int8.release();
  }
}

