// Label-transfer benchmark: elastix rigid/affine registration and the whole transfer on a 336x336x25 T1/T2-like pair.
import { dice } from '../metrics/overlap.js';
import { registerVolumes } from '../transfer/elastix.js';
import { rotationDegrees } from '../transfer/elastix-transform.js';
import { makeTransferPhantom, rigidMatrix } from '../transfer/phantom.js';
import { transferLabels } from '../transfer/transfer.js';
import { invertAffine, multiply4 } from '../volume/affine.js';
import { resampleLabels, resampleLinear } from '../volume/resample.js';
import type { Volume } from '../volume/types.js';

const line = (s: string): void => {
  process.stdout.write(s + '\n');
};

const binary = (v: Volume) => ({ data: Uint8Array.from(v.data, (x) => (x !== 0 ? 1 : 0)), dims: v.dims, spacing: v.spacing });

export async function run(): Promise<void> {
  const truth = rigidMatrix([0.3, 0.2, 1], 4, [2.0, -1.5, 1.8]);
  let t = performance.now();
  // 0.4 x 0.4 x 3.3 mm: a 134 x 134 x 82 mm field, a typical knee/wrist MRI slab; the scene is scaled to fill it.
  const ph = makeTransferPhantom({ dims: [336, 336, 25], spacing: [0.4, 0.4, 3.3], scale: 1.35, correction: truth, seed: 7 });
  line(`pair: 336x336x25 (${(336 * 336 * 25 / 1e6).toFixed(2)} M voxels), 0.4 x 0.4 x 3.3 mm, moved 4 deg / 3.1 mm; built in ${(performance.now() - t).toFixed(0)} ms`);

  // Reference measured in the same run: one trilinear resampling of the T1 image onto the target grid.
  t = performance.now();
  resampleLinear(ph.t1.data, ph.t1, ph.target, { targetToSourceWorld: truth });
  const linearMs = performance.now() - t;
  t = performance.now();
  resampleLabels(ph.mask.data, ph.mask, ph.target, { targetToSourceWorld: truth });
  const nearestMs = performance.now() - t;
  t = performance.now();
  resampleLabels(ph.mask.data, ph.mask, ph.target, { targetToSourceWorld: truth, mode: 'majority' });
  const majorityMs = performance.now() - t;
  line(`reference: trilinear resampling ${linearMs.toFixed(0)} ms; label resampling nearest ${nearestMs.toFixed(0)} ms, majority ${majorityMs.toFixed(0)} ms`);

  for (const kind of ['rigid', 'affine'] as const) {
    t = performance.now();
    const reg = await registerVolumes(ph.target, ph.t1, { kind });
    const regMs = performance.now() - t;
    const residual = multiply4(invertAffine(truth), reg.fixedToMovingWorld);
    const shift = Math.hypot(residual[3]!, residual[7]!, residual[11]!);
    line(`${kind} registration (elastix WASM, 4 levels): ${(regMs / 1000).toFixed(2)} s = ${(regMs / linearMs).toFixed(0)}x the trilinear reference; residual ${rotationDegrees(residual).toFixed(3)} deg, ${shift.toFixed(3)} mm at the centre`);
  }

  t = performance.now();
  const res = await transferLabels(ph.mask, ph.t1, ph.target, { register: 'rigid' });
  const allMs = performance.now() - t;
  line(`transferLabels --register rigid (registration + resampling + report): ${(allMs / 1000).toFixed(2)} s; DSC with the truth ${dice(binary(res.mask), binary(ph.targetTruth)).toFixed(4)}; verdict ${res.report.verdict}`);
  t = performance.now();
  const none = await transferLabels(ph.mask, ph.t1, ph.target, { register: 'none' });
  line(`transferLabels --register none: ${((performance.now() - t) / 1000).toFixed(2)} s; DSC ${dice(binary(none.mask), binary(ph.targetTruth)).toFixed(4)}; verdict ${none.report.verdict}`);
}
