import { describe, expect, it } from 'vitest';
import {
  bootstrapMeanCI,
  locationTable,
  locationTableCsv,
  locationTableMarkdown,
  mulberry32,
  normalSampler,
  parseManifest,
} from '../../src/metrics/index.js';

describe('mulberry32', () => {
  it('is deterministic per seed and uniform-looking', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(xs);
    const r = mulberry32(1);
    let sum = 0;
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const u = r();
      if (!(u >= 0 && u < 1)) outside++;
      sum += u;
    }
    expect(outside).toBe(0);
    expect(sum / 100_000).toBeCloseTo(0.5, 2);
  });
});

describe('bootstrapMeanCI', () => {
  const scores = [0.91, 0.85, 0.78, 0.95, 0.88, 0.7, 0.93, 0.89, 0.81, 0.9];
  it('fixed seed reproduces the interval; another seed moves it slightly', () => {
    const a = bootstrapMeanCI(scores, { seed: 123 });
    const b = bootstrapMeanCI(scores, { seed: 123 });
    const c = bootstrapMeanCI(scores, { seed: 124 });
    expect(b).toEqual(a);
    expect(c.lower).not.toBe(a.lower);
    expect(a.estimate).toBeCloseTo(0.86, 12);
    expect(a.lower).toBeLessThan(a.estimate);
    expect(a.upper).toBeGreaterThan(a.estimate);
    // a CI of a mean of values in [0.7, 0.95] stays inside that range and is narrower than it
    expect(a.lower).toBeGreaterThan(0.7);
    expect(a.upper).toBeLessThan(0.95);
    expect(Math.abs(c.lower - a.lower)).toBeLessThan(0.01);
  });
  it('identical scores give a zero-width interval', () => {
    const ci = bootstrapMeanCI(new Array(17).fill(0.8125), { seed: 5 });
    expect(ci.lower).toBe(ci.upper);
    expect(ci.lower).toBe(0.8125);
    expect(ci.estimate).toBe(0.8125);
  });
  it('covers the true mean in ~95% of repeated experiments (n=30 normal samples)', () => {
    const normal = normalSampler(mulberry32(2024));
    const trueMean = 3;
    let covered = 0;
    const repeats = 200;
    for (let r = 0; r < repeats; r++) {
      const sample = Array.from({ length: 30 }, () => trueMean + 2 * normal());
      const ci = bootstrapMeanCI(sample, { seed: r, resamples: 1000 });
      if (ci.lower <= trueMean && trueMean <= ci.upper) covered++;
    }
    // the percentile bootstrap under-covers slightly at n=30 (~93-94%)
    expect(covered / repeats).toBeGreaterThanOrEqual(0.9);
    expect(covered / repeats).toBeLessThanOrEqual(0.99);
  });
  it('rejects non-finite scores and empty input', () => {
    expect(() => bootstrapMeanCI([])).toThrow(/no scores/);
    expect(() => bootstrapMeanCI([1, Infinity])).toThrow(/not finite/);
  });
});

describe('location table', () => {
  const cases = [
    { location: 'knee', dsc: 0.9, iou: 0.82 },
    { location: 'knee', dsc: 0.8, iou: 0.67 },
    { location: 'hip', dsc: 0.7, iou: 0.54 },
    { location: 'hip', dsc: 0.7, iou: 0.54 },
    { location: 'knee', dsc: 0.85, iou: 0.74 },
  ];
  it('groups per location plus Overall with bootstrap CIs, CSV and Markdown', () => {
    const rows = locationTable(cases, { seed: 9, resamples: 2000 });
    expect(rows.map((r) => r.location)).toEqual(['hip', 'knee', 'Overall']);
    expect(rows.map((r) => r.n)).toEqual([2, 3, 5]);
    expect(rows[0].dsc.lower).toBe(0.7);
    expect(rows[0].dsc.upper).toBe(0.7);
    expect(rows[1].dsc.estimate).toBeCloseTo(0.85, 12);
    expect(rows[2].iou.estimate).toBeCloseTo((0.82 + 0.67 + 0.54 * 2 + 0.74) / 5, 12);
    const csv = locationTableCsv(rows).trim().split('\n');
    expect(csv[0]).toBe('location,n,dsc_mean,dsc_ci_low,dsc_ci_high,iou_mean,iou_ci_low,iou_ci_high');
    expect(csv[1].startsWith('hip,2,0.7,0.7,0.7,')).toBe(true);
    const md = locationTableMarkdown(rows);
    expect(md).toContain('| hip | 2 | 0.700 (0.700–0.700) | 0.540 (0.540–0.540) |');
    expect(md).toContain('| **Overall** | 5 |');
    expect(locationTable(cases, { seed: 9, resamples: 2000 })).toEqual(rows);
  });
});

describe('manifest parsing', () => {
  it('reads pred,gt,location,sequence in any column order, with quotes', () => {
    const m = parseManifest('gt,pred,sequence,location\r\n"a,1.nii",p1.nrrd,T1,"knee"\ng2.nii,p2.nii,,\n', 'cases.csv');
    expect(m).toEqual([
      { pred: 'p1.nrrd', gt: 'a,1.nii', location: 'knee', sequence: 'T1' },
      { pred: 'p2.nii', gt: 'g2.nii', location: 'all', sequence: '' },
    ]);
  });
  it('names the file when the header is wrong', () => {
    expect(() => parseManifest('a,b\n1,2\n', 'cases.csv')).toThrow(/cases\.csv: .*"pred" and "gt"/);
  });
});
