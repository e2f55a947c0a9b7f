// Whole-volume benchmark: `sab segment`'s library path on the 74-slice sample MRI, with and without
// depth attention, next to the sum of the per-stage times measured in the same run.
import { fileURLToPath } from 'node:url';
import { readVolume } from '../io/dispatch.js';
import { loadModel } from '../pipeline/segmenter.js';

const GOLDEN = fileURLToPath(new URL('../../../shared/fixtures/golden/', import.meta.url));
const WRIST = fileURLToPath(new URL('../../../shared/fixtures/mri/wrist_2.nii.gz', import.meta.url));

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}

export async function run(): Promise<void> {
  const volume = readVolume(WRIST);
  const segmenter = loadModel(GOLDEN);
  try {
    // Warm-up: build graphs and open sessions once (a user pays this once per process).
    const tw = performance.now();
    await segmenter.segmentVolume(volume, { slices: [37, 38] });
    console.log(`graph build + session open + 1 slice: ${(performance.now() - tw).toFixed(0)} ms`);
    for (const attention of [true, false]) {
      const t0 = performance.now();
      const res = await segmenter.segmentVolume(volume, { attention });
      const wall = performance.now() - t0;
      const t = res.timings;
      const stages = t.preprocessMs + t.vnetMs + t.encoderMs + t.decoderMs;
      console.log(
        `whole volume ${volume.dims.join('x')} (${res.slicesSegmented} slices), attention ${attention ? 'on ' : 'off'}: ` +
          `${(wall / 1000).toFixed(1)} s  [stages: preprocess ${(t.preprocessMs / 1000).toFixed(1)} s, VNet ${(t.vnetMs / 1000).toFixed(2)} s, ` +
          `encoder ${(t.encoderMs / 1000).toFixed(1)} s (${(t.encoderMs / res.slicesSegmented).toFixed(0)} ms/slice), ` +
          `decoder ${(t.decoderMs / 1000).toFixed(1)} s (${(t.decoderMs / res.slicesSegmented).toFixed(0)} ms/slice); ` +
          `sum of stages ${(stages / 1000).toFixed(1)} s]`,
      );
    }
    // maxRSS is in kilobytes.
    console.log(`peak RSS: ${mb(process.resourceUsage().maxRSS * 1024)} (target <= 1.5 GB); targets: <= 30 s per 74-slice volume on 2 cores; the official PyTorch code takes ~235 s here`);
  } finally {
    await segmenter.release();
  }
}
