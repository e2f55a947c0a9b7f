// The opt-in int8 encoder agrees with float32 as the README's "Faster: int8" table states (within a margin):
// on the golden slice (against the official float32 tensors) and on two slices of the sample MRI
// (against our float32 run). Lean on purpose: one int8 encode for the golden case, four for the slices.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readVolume } from '../../src/io/dispatch.js';
import { maskAgreement, PrecisionComparison, RelativeError, type AgreementFigures } from '../../src/pipeline/precisionAgreement.js';
import { normaliseForEncoder } from '../../src/pipeline/preprocess/index.js';
import { loadModel } from '../../src/pipeline/segmenter.js';
import { loadGoldenF32 } from '../model/golden.js';

const GOLDEN = fileURLToPath(new URL('../../../shared/fixtures/golden/', import.meta.url));
const WRIST = fileURLToPath(new URL('../../../shared/fixtures/mri/wrist_2.nii.gz', import.meta.url));
const README = fileURLToPath(new URL('../../README.md', import.meta.url));

type Row = Omit<AgreementFigures, 'slices'>;

/** A row of the README's int8 agreement table, found by the start of its first cell. */
function readmeRow(label: string): Row {
  const line = readFileSync(README, 'utf8').split('\n').find((l) => l.startsWith(`| ${label}`));
  if (!line) throw new Error(`README.md has no int8 agreement row starting "| ${label}"`);
  const cells = line.split('|').slice(2, 6).map((c) => c.trim());
  const [emb, logits, agree, dsc] = cells.map((c) => Number.parseFloat(c.replace('%', ''))) as [number, number, number, number];
  return { embeddingError: emb, logitsError: logits, maskAgreement: agree / 100, dsc };
}

/** Measured figures equal the stated ones within a margin (kernels differ a little between CPUs). */
function expectAsStated(measured: Row, stated: Row): void {
  console.log(`int8 agreement measured: ${JSON.stringify(measured)}`);
  expect(measured.embeddingError).toBeGreaterThan(stated.embeddingError / 1.5);
  expect(measured.embeddingError).toBeLessThan(stated.embeddingError * 1.5);
  expect(measured.logitsError).toBeGreaterThan(stated.logitsError / 1.5);
  expect(measured.logitsError).toBeLessThan(stated.logitsError * 1.5);
  expect(Math.abs(measured.maskAgreement - stated.maskAgreement)).toBeLessThan(0.005);
  expect(Math.abs(measured.dsc - stated.dsc)).toBeLessThan(0.02);
}

describe('int8 encoder agreement with float32 (README "Faster: int8")', () => {
  const int8 = loadModel(GOLDEN, { precision: 'int8' });
  afterAll(() => int8.release());

  it('golden slice: embedding, logits and mask against the official float32 tensors', async () => {
    const input = normaliseForEncoder(loadGoldenF32('encoder_input_prenorm').data);
    const embedding = await int8.model.encode(input, 1);
    const res = await int8.model.decode(embedding, loadGoldenF32('attention_map_batchstats').data);
    const refLogits = loadGoldenF32('auto_lowres_logits_batchstats').data.subarray(256 * 256);
    const emb = new RelativeError();
    emb.add(loadGoldenF32('image_embedding').data, embedding);
    const logits = new RelativeError();
    logits.add(refLogits, res.lowResLogits.subarray(256 * 256));
    const toMask = (l: Float32Array) => Uint8Array.from(l, (z) => (z > 0 ? 1 : 0));
    const masks = maskAgreement(toMask(refLogits), toMask(res.lowResLogits.subarray(256 * 256)));
    expectAsStated({ embeddingError: emb.value, logitsError: logits.value, ...masks }, readmeRow('golden slice 37'));
  }, 180_000);

  it('sample MRI slices 36-37 with depth attention: int8 run against the float32 run', async () => {
    const volume = readVolume(WRIST);
    const f32 = loadModel(GOLDEN);
    try {
      const comparison = new PrecisionComparison();
      const ref = await f32.segmentVolume(volume, { slices: [36, 38], onSlice: comparison.reference });
      const got = await int8.segmentVolume(volume, { slices: [36, 38], onSlice: comparison.candidate });
      const { slices, ...figures } = comparison.figures(ref.mask.data as Uint8Array, got.mask.data as Uint8Array);
      expect(slices).toBe(2);
      expectAsStated(figures, readmeRow('sample MRI, slices 36'));
    } finally {
      await f32.release();
    }
  }, 300_000);
});
