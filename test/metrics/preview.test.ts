import pngjs from 'pngjs';
import { describe, expect, it } from 'vitest';
import { encodePng, labelledMontagePng, percentileWindow, previewSlices, renderMontage } from '../../src/metrics/index.js';

describe('preview montage', () => {
  const dims: [number, number, number] = [8, 6, 10];
  const image = Float32Array.from({ length: 480 }, (_, i) => i % 100);
  const mask = new Uint8Array(480);
  // a 4x3 block in slices 2..7
  for (let z = 2; z <= 7; z++) for (let y = 1; y <= 3; y++) for (let x = 2; x <= 5; x++) mask[x + 8 * (y + 6 * z)] = 1;

  it('picks evenly spaced slices over the mask extent', () => {
    expect(previewSlices(dims, 3, mask)).toEqual([3, 5, 7]); // 2 + floor((k + 0.5) * 6 / 3)
    expect(previewSlices(dims, 2)).toEqual([2, 7]);
    expect(previewSlices(dims, 50, mask)).toEqual([2, 3, 4, 5, 6, 7]);
  });

  it('windows at the 1st-99th percentile', () => {
    const [lo, hi] = percentileWindow(Float64Array.from({ length: 101 }, (_, i) => i));
    expect(lo).toBeCloseTo(1, 12);
    expect(hi).toBeCloseTo(99, 12);
  });

  it('draws the outline and an alpha fill, and encodes a decodable PNG', () => {
    const img = renderMontage(image, dims, mask, { slices: 4, fillAlpha: 0.5, color: [0, 255, 0], gap: 1 });
    expect(img.slices).toHaveLength(4);
    expect([img.width, img.height]).toEqual([2 * 8 + 1, 2 * 6 + 1]);
    const png = pngjs.PNG.sync.read(Buffer.from(encodePng(img)));
    expect([png.width, png.height]).toEqual([17, 13]);
    const px = (x: number, y: number): number[] => Array.from(png.data.subarray(4 * (x + 17 * y), 4 * (x + 17 * y) + 4));
    // first tile: block x 2..5, y 1..3: (2,1) is outline, (3,2) interior (blended), (0,0) plain grey
    expect(px(2, 1)).toEqual([0, 255, 0, 255]);
    const inner = px(3, 2);
    expect(inner[1]).toBeGreaterThanOrEqual(128);
    expect(inner[0]).toBe(inner[2]);
    expect(inner[0]).toBeLessThan(128);
    const bg = px(0, 0);
    expect(bg[0] === bg[1] && bg[1] === bg[2]).toBe(true);
  });

  it('labels tiles with slice numbers, a title and a colour key (text really drawn)', () => {
    // A black image, so white pixels can only be text.
    const img = renderMontage(new Float32Array(480), dims, mask, { slices: 4, color: [0, 255, 0] });
    const withText = pngjs.PNG.sync.read(Buffer.from(labelledMontagePng(img, { title: 'case 1', key: [{ colour: [0, 255, 0], label: 'bone' }], scale: 20 })));
    const blank = pngjs.PNG.sync.read(Buffer.from(labelledMontagePng(img, { title: ' ', key: [{ colour: [0, 255, 0], label: ' ' }], sliceLabel: () => ' ', scale: 20 })));
    // 2x2 tiles of 8x6 voxels with 2-pixel gaps, 20 px per voxel, 8 px margins, title and key bands of 26 px.
    expect([withText.width, withText.height]).toEqual([18 * 20 + 16, 14 * 20 + 16 + 52]);
    expect([blank.width, blank.height]).toEqual([withText.width, withText.height]);
    const white = (png: pngjs.PNG, x0: number, y0: number, x1: number, y1: number) => {
      let n = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (png.data[4 * (x + png.width * y)]! > 200 && png.data[4 * (x + png.width * y) + 2]! > 200) n++;
      return n;
    };
    expect(white(blank, 0, 0, withText.width, 26)).toBe(0);
    expect(white(withText, 0, 0, withText.width, 26)).toBeGreaterThan(30); // title
    expect(white(blank, 8, 34, 70, 51)).toBe(0);
    expect(white(withText, 8, 34, 70, 51)).toBeGreaterThan(20); // "slice 3" on the first tile
    expect(white(withText, 30, withText.height - 26, 80, withText.height)).toBeGreaterThan(10); // key label "bone"
    // The key swatch has the outline colour.
    const o = 4 * (12 + withText.width * (withText.height - 12));
    expect([...withText.data.subarray(o, o + 3)]).toEqual([0, 255, 0]);
  });
});
