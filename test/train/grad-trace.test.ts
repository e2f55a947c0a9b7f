import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { sab, scratch, SHARED_FIXTURES } from '../cli/helpers.js';
import { GOLDEN, goldenManifest, loadGoldenF32, relMaxErr } from '../model/golden.js';

/**
 * `sab trace --train` on the golden case (built CLI): targets are exact, logits/losses/gradients agree
 * with the golden `training` section (the three gradients disputed in grad-golden.test.ts excepted).
 */
const DISPUTED = new Set(['grad_fusion_conv0_w', 'grad_enc_space_adapter_fc1_w', 'grad_enc_mlp_adapter_fc2_w']);
const training = () => goldenManifest()['training'] as { tensors: { name: string; shape: number[] }[]; scalars: Record<string, number> };

describe('sab trace --train', () => {
  let dir: string;
  let stdout: string;
  beforeAll(async () => {
    dir = scratch('trace-train');
    const r = await sab([
      'trace', '--train', '--weights', GOLDEN, '--volume', path.join(SHARED_FIXTURES, 'mri/wrist_2.nii.gz'),
      '--mask', path.join(SHARED_FIXTURES, 'mri/wrist_2_official_prediction.nrrd'), '--slice', '37', '--out', dir, '--threads', '2',
    ]);
    expect(r.code, r.stderr).toBe(0);
    stdout = r.stdout;
  }, 300_000);

  const read = (name: string) => {
    const b = readFileSync(path.join(dir, `${name}.bin`));
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  };

  it('writes every golden training tensor with its shape in manifest.json', () => {
    expect(stdout).toMatch(/wrote 13 tensors/);
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { tensors: { name: string; shape: number[] }[] };
    for (const t of training().tensors) expect(manifest.tensors.find((m) => m.name === t.name)?.shape, t.name).toEqual(t.shape);
  });

  it('targets are exact; logits and agreed gradients within tolerance', () => {
    for (const t of training().tensors) {
      const ref = loadGoldenF32(t.name).data;
      const ours = read(t.name);
      if (t.name.endsWith('_target_256') || t.name.endsWith('_target_64')) expect(ours, t.name).toEqual(ref);
      else if (t.name === 'train_lowres_logits') expect(relMaxErr(ours, ref)).toBeLessThan(1e-4);
      else if (!DISPUTED.has(t.name)) expect(relMaxErr(ours, ref), t.name).toBeLessThan(1e-3);
    }
  });

  it('scalars.json has the golden loss names and values', () => {
    const scalars = JSON.parse(readFileSync(path.join(dir, 'scalars.json'), 'utf8')) as Record<string, number>;
    for (const name of ['loss_dice', 'loss_ce', 'loss_total', 'vnet_loss_bce', 'vnet_loss_tversky', 'vnet_loss_total']) {
      const ref = training().scalars[name]!;
      expect(Math.abs(scalars[name]! - ref) / ref, name).toBeLessThan(1e-4);
    }
  });

  it('refuses --train without --mask', async () => {
    const r = await sab(['trace', '--train', '--weights', GOLDEN, '--volume', path.join(SHARED_FIXTURES, 'mri/wrist_2.nii.gz'), '--slice', '37', '--out', scratch('trace-train-err')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--train needs --mask/);
  });
});
