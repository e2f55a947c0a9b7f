import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evaluateSegmentation, surfaceDistances } from '../../src/metrics/index.js';
import type { BinaryMask } from '../../src/metrics/index.js';

/*
 * Reference numbers computed independently with Python 3 + numpy 2.4.6 + scipy 1.17.1 (not with this
 * library), medpy definitions:
 *   border(m) = m ^ scipy.ndimage.binary_erosion(m, generate_binary_structure(2, 1), border_value=0)
 *   d_pg = distance_transform_edt(~border(gt), sampling=(sy, sx))[border(pred)], d_gp likewise
 *   hd = max(d_pg ∪ d_gp); hd95 = numpy.percentile(hstack(d_pg, d_gp), 95); assd = (mean d_pg + mean d_gp)/2
 * pred = *_eval.bin, gt = *_batchstats.bin (C order (rows, cols): cols are our fastest axis x, rows are y);
 * "shifted" = gt moved 3 rows down and 5 columns left, zero fill: gs[r, c] = gt[r-3, c+5].
 */
interface Ref {
  tp: number; fp: number; fn: number;
  dsc: number; iou: number; precision: number; recall: number;
  hd: number; hd95: number; assd: number;
  npb: number; ngb: number;
}
type Case = { file: string; rows: number; cols: number; shifted: boolean; sx: number; sy: number; ref: Ref };

const CASES: Case[] = [
  { file: 'auto_mask_256', rows: 256, cols: 256, shifted: false, sx: 1, sy: 1, ref: { tp: 11167, fp: 283, fn: 359, dsc: 0.9720577994428969, iou: 0.9456346854094335, precision: 0.9752838427947598, recall: 0.9688530279368385, hd: 3.1622776601683795, hd95: 0.0, assd: 0.03610897370658308, npb: 11450, ngb: 11526 } },
  { file: 'auto_mask_256', rows: 256, cols: 256, shifted: false, sx: 0.7, sy: 1.3, ref: { tp: 11167, fp: 283, fn: 359, dsc: 0.9720577994428969, iou: 0.9456346854094335, precision: 0.9752838427947598, recall: 0.9688530279368385, hd: 2.4698178070456938, hd95: 0.0, assd: 0.033660537430969875, npb: 11450, ngb: 11526 } },
  { file: 'auto_mask_original_size', rows: 272, cols: 204, shifted: false, sx: 1, sy: 1, ref: { tp: 9100, fp: 245, fn: 306, dsc: 0.970614900538638, iou: 0.942907470728422, precision: 0.9737827715355806, recall: 0.9674675738890071, hd: 3.0, hd95: 0.0, assd: 0.04038571310498229, npb: 9345, ngb: 9406 } },
  { file: 'auto_mask_original_size', rows: 272, cols: 204, shifted: false, sx: 0.7, sy: 1.3, ref: { tp: 9100, fp: 245, fn: 306, dsc: 0.970614900538638, iou: 0.942907470728422, precision: 0.9737827715355806, recall: 0.9674675738890071, hd: 2.95296461204668, hd95: 0.0, assd: 0.03926417406248334, npb: 9345, ngb: 9406 } },
  { file: 'auto_mask_256', rows: 256, cols: 256, shifted: true, sx: 1, sy: 1, ref: { tp: 4157, fp: 7293, fn: 7074, dsc: 0.36656232088532253, iou: 0.22441157417404448, precision: 0.36305676855895197, recall: 0.37013623007746416, hd: 5.0990195135927845, hd95: 2.0, assd: 0.8852425588761765, npb: 11450, ngb: 11231 } },
  { file: 'auto_mask_256', rows: 256, cols: 256, shifted: true, sx: 0.7, sy: 1.3, ref: { tp: 4157, fp: 7293, fn: 7074, dsc: 0.36656232088532253, iou: 0.22441157417404448, precision: 0.36305676855895197, recall: 0.37013623007746416, hd: 5.240229002629561, hd95: 1.91049731745428, assd: 0.8826293122579008, npb: 11450, ngb: 11231 } },
  { file: 'auto_mask_original_size', rows: 272, cols: 204, shifted: true, sx: 1, sy: 1, ref: { tp: 885, fp: 8460, fn: 8234, dsc: 0.09586221837088388, iou: 0.05034416064622561, precision: 0.09470304975922954, recall: 0.0970501151442044, hd: 5.385164807134504, hd95: 2.23606797749979, assd: 1.2811758152594008, npb: 9345, ngb: 9119 } },
  { file: 'auto_mask_original_size', rows: 272, cols: 204, shifted: true, sx: 0.7, sy: 1.3, ref: { tp: 885, fp: 8460, fn: 8234, dsc: 0.09586221837088388, iou: 0.05034416064622561, precision: 0.09470304975922954, recall: 0.0970501151442044, hd: 5.240229002629561, hd95: 2.6, assd: 1.2123156431762034, npb: 9345, ngb: 9119 } },
];

const GOLDEN = new URL('../../../shared/fixtures/golden/', import.meta.url);

function load(name: string, n: number): Uint8Array {
  const bytes = new Uint8Array(readFileSync(new URL(name, GOLDEN)));
  expect(bytes.length).toBe(n);
  return bytes;
}

function shift(gt: Uint8Array, rows: number, cols: number): Uint8Array {
  const out = new Uint8Array(gt.length);
  for (let r = 3; r < rows; r++) for (let c = 0; c < cols - 5; c++) out[c + cols * r] = gt[c + 5 + cols * (r - 3)];
  return out;
}

describe('golden SAM masks (eval vs batchstats) against scipy reference numbers', () => {
  for (const c of CASES) {
    it(`${c.file}${c.shifted ? ' shifted' : ''} spacing x=${c.sx} y=${c.sy}`, () => {
      const n = c.rows * c.cols;
      const predData = load(`${c.file}_eval.bin`, n);
      let gtData = load(`${c.file}_batchstats.bin`, n);
      if (c.shifted) gtData = shift(gtData, c.rows, c.cols);
      const pred: BinaryMask = { data: predData, dims: [c.cols, c.rows, 1], spacing: [c.sx, c.sy, 1] };
      const gt: BinaryMask = { data: gtData, dims: [c.cols, c.rows, 1], spacing: [c.sx, c.sy, 1] };
      const m = evaluateSegmentation(pred, gt);
      expect(m.counts.tp).toBe(c.ref.tp);
      expect(m.counts.fp).toBe(c.ref.fp);
      expect(m.counts.fn).toBe(c.ref.fn);
      expect(m.dsc).toBeCloseTo(c.ref.dsc, 12);
      expect(m.iou).toBeCloseTo(c.ref.iou, 12);
      expect(m.precision).toBeCloseTo(c.ref.precision, 12);
      expect(m.recall).toBeCloseTo(c.ref.recall, 12);
      // distances: float32 squared-distance storage -> ~1e-7 relative
      expect(m.hd).toBeCloseTo(c.ref.hd, 5);
      expect(m.hd95).toBeCloseTo(c.ref.hd95, 5);
      expect(m.assd).toBeCloseTo(c.ref.assd, 6);
      const d = surfaceDistances(pred, gt);
      expect(d.predToGt.length).toBe(c.ref.npb);
      expect(d.gtToPred.length).toBe(c.ref.ngb);
    });
  }
});
