import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exportMask, loadInputs, openViewer, segmentSlices, webgpuAdapter, chromiumAvailable, type ViewerSession } from '../../src/bench/webDriver.js';
import { readVolume } from '../../src/io/dispatch.js';
import { resizeNearestPillow } from '../../src/pipeline/preprocess/index.js';
import { GOLDEN_DIR, WRIST, countDiff, goldenF32, goldenU8, scratch, sliceRowsI } from '../cli/helpers.js';

// The viewer on WebGPU in headless Chromium (SwiftShader's CPU-emulated Vulkan adapter: no GPU here).
// Slow (minutes per slice on 2 cores), so opt-in: SAB_TEST_WEBGPU=1. Run `npm run build:web` first.
const WANTED = process.env['SAB_TEST_WEBGPU'] === '1';
if (!WANTED) console.warn('test/web/webgpu skipped: set SAB_TEST_WEBGPU=1 to run the viewer on WebGPU (SwiftShader, minutes)');

describe.skipIf(!WANTED || !chromiumAvailable())('browser viewer on WebGPU (headless Chromium, SwiftShader)', () => {
  let session: ViewerSession | undefined;
  afterAll(async () => {
    await session?.close();
  });

  it('segments slice 37 on WebGPU to the official golden mask (VNet on WASM)', async () => {
    const adapter = await webgpuAdapter();
    expect(adapter, 'headless Chromium offered no WebGPU adapter').toBeDefined();
    const s = (session = await openViewer({ webgpu: true, query: '?device=webgpu' }));
    const st = await loadInputs(s, WRIST, [path.join(GOLDEN_DIR, 'bone_sam.pth'), path.join(GOLDEN_DIR, 'atten.pth')]);
    expect(st.runtime?.device).toBe('webgpu');
    await segmentSlices(s, 37, 37, 3_000_000);
    const file = path.join(scratch('webgpu'), 'webgpu_37.nii.gz');
    await exportMask(s, file);
    const v = readVolume(file);
    const got = sliceRowsI(v.data, v.dims, 37);
    const golden = goldenU8('auto_mask_original_size_batchstats');
    const logits = goldenF32('auto_lowres_logits_batchstats').subarray(256 * 256, 2 * 256 * 256);
    const uncertain = resizeNearestPillow(Uint8Array.from(logits, (z) => (Math.abs(z) < 1e-3 ? 1 : 0)), 256, 256, v.dims[0], v.dims[1]);
    let outside = 0;
    for (let p = 0; p < got.length; p++) if (got[p] !== golden[p] && !uncertain[p]) outside++;
    console.log(`WebGPU (${adapter}) slice 37 vs golden: ${countDiff(got, golden)} differing voxels of ${got.length}`);
    expect(outside).toBe(0);
  }, 3_600_000);
});
