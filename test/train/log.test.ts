import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { DSC_COLOUR, PLOT_COLOURS, PLOT_MARGIN, TrainingLog, TrainingLogError } from '../../src/train/loop/log.js';
import { scratch } from '../cli/helpers.js';

const dir = scratch('trainlog');

function countColour(png: PNG, [r, g, b]: readonly number[]): number {
  let n = 0;
  for (let o = 0; o < png.data.length; o += 4) if (png.data[o] === r && png.data[o + 1] === g && png.data[o + 2] === b) n++;
  return n;
}

describe('training log', () => {
  it('writes the CSV row by row and resumes without duplicates', () => {
    const csv = join(dir, 'log.csv');
    const log = TrainingLog.create(csv, ['loss_dice', 'loss_ce', 'loss_total']);
    for (let it = 0; it < 10; it++) {
      log.append({ iteration: it, lr: 5e-4 * (it + 1) / 200, losses: { loss_dice: 1 / (it + 1), loss_ce: 0.5, loss_total: 1 / (it + 1) + 0.5 }, ...(it % 5 === 4 ? { valDsc: it / 10 } : {}) });
    }
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('iteration,loss_dice,loss_ce,loss_total,lr,val_dsc');
    expect(lines.length).toBe(11);
    expect(lines[1]).toBe('0,1,0.5,1.5,0.0000025,');
    expect(lines[5]!.split(',').at(-1)).toBe('0.4');
    expect(() => log.append({ iteration: 3, lr: 0, losses: {} })).toThrow(/does not follow/);
    expect(() => log.append({ iteration: 11, lr: 0, losses: { other: 1 } })).toThrow(/unknown loss column/);

    const resumed = TrainingLog.resume(csv, 7);
    expect(resumed.lossNames).toEqual(['loss_dice', 'loss_ce', 'loss_total']);
    expect(resumed.rows.map((r) => r.iteration)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(resumed.rows[4]!.valDsc).toBe(0.4);
    expect(resumed.rows[3]!.valDsc).toBeUndefined();
    resumed.append({ iteration: 7, lr: 1e-5, losses: { loss_dice: 0.1, loss_ce: 0.2, loss_total: 0.3 } });
    expect(readFileSync(csv, 'utf8').trim().split('\n').length).toBe(9);
    expect(() => TrainingLog.resume(join(dir, 'none.csv'))).toThrow(TrainingLogError);
  });

  it('plots losses and DSC as a PNG with axes', () => {
    const log = TrainingLog.create(join(dir, 'plot.csv'), ['loss_total', 'loss_bce']);
    for (let it = 0; it < 50; it++) log.append({ iteration: it, lr: 1e-4, losses: { loss_total: 2 * Math.exp(-it / 10), loss_bce: 1 }, ...(it % 10 === 9 ? { valDsc: 0.5 + it / 100 } : {}) });
    const path = join(dir, 'plot.png');
    log.writePlot(path, 400, 300);
    const png = PNG.sync.read(readFileSync(path));
    expect([png.width, png.height]).toEqual([400, 300]);
    // Both loss series and the DSC series are drawn.
    expect(countColour(png, PLOT_COLOURS[0]!)).toBeGreaterThan(100);
    expect(countColour(png, PLOT_COLOURS[1]!)).toBeGreaterThan(100);
    expect(countColour(png, DSC_COLOUR)).toBeGreaterThan(50);
    // The y axis of the loss panel is a black column at the left margin.
    const at = (x: number, y: number) => [...png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 3)];
    for (let y = PLOT_MARGIN.top; y < PLOT_MARGIN.top + 100; y += 7) expect(at(PLOT_MARGIN.left, y)).toEqual([0, 0, 0]);
    // The falling loss: its first point is higher on the image (smaller y) than its last.
    const column = (x: number) => {
      for (let y = 0; y < png.height; y++) { const [r, g, b] = at(x, y); if (r === PLOT_COLOURS[0]![0] && g === PLOT_COLOURS[0]![1] && b === PLOT_COLOURS[0]![2]) return y; }
      return -1;
    };
    const first = column(PLOT_MARGIN.left + 1);
    const last = column(400 - PLOT_MARGIN.right - 1);
    expect(first).toBeGreaterThanOrEqual(0);
    expect(last).toBeGreaterThan(first);
  });
});
