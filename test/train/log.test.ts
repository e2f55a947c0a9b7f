import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { svgToPng } from '../../src/chart/index.js';
import { TrainingLog, TrainingLogError, type LogRow } from '../../src/train/loop/log.js';
import { OVERALL_SERIES, renderLogPlotSvg } from '../../src/train/loop/plot.js';
import { scratch } from '../cli/helpers.js';

const dir = scratch('trainlog');

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

  it('keeps per-location validation columns and resumes them', () => {
    const csv = join(dir, 'loc.csv');
    const log = TrainingLog.create(csv, ['loss_total'], ['knee', 'wrist joint']);
    log.append({ iteration: 0, lr: 0, losses: {}, valDsc: 0.5, valByLocation: { knee: 0.4, 'wrist joint': 0.6 } });
    log.append({ iteration: 1, lr: 1e-4, losses: { loss_total: 1 } });
    expect(readFileSync(csv, 'utf8').split('\n').slice(0, 3)).toEqual(['iteration,loss_total,lr,val_dsc,val_dsc_knee,val_dsc_wrist_joint', '0,,0,0.5,0.4,0.6', '1,1,0.0001,,,']);
    expect(() => log.append({ iteration: 2, lr: 0, losses: {}, valByLocation: { hip: 1 } })).toThrow(/unknown validation location 'hip'/);
    const resumed = TrainingLog.resume(csv, 1, ['knee', 'wrist joint']);
    expect(resumed.rows).toEqual([{ iteration: 0, lr: 0, losses: { loss_total: NaN }, valDsc: 0.5, valByLocation: { knee: 0.4, 'wrist joint': 0.6 } }]);
    expect(() => TrainingLog.resume(csv, 1, ['knee'])).toThrow(/do not match the locations/);
  });

  it('plots with a title, labelled axes, tick values, legends and the best-checkpoint marker (text really drawn)', async () => {
    const rows: LogRow[] = [];
    for (let it = 0; it <= 40; it++) {
      rows.push({
        iteration: it, lr: 1e-4, losses: it ? { loss_dice: Math.exp(-it / 10), loss_ce: 0.3 * Math.exp(-it / 20), loss_total: Math.exp(-it / 10) + 0.3 * Math.exp(-it / 20) } : {},
        ...(it % 10 === 0 ? { valDsc: 0.4 + it / 100, valByLocation: { knee: 0.3 + it / 100, wrist: 0.5 + it / 100 } } : {}),
      });
    }
    const names = ['loss_dice', 'loss_ce', 'loss_total'];
    const opts = { title: 'Stage 2: attention fusion + mask decoder', best: { iteration: 40, dsc: 0.8 } };
    const svg = await renderLogPlotSvg(rows, names, ['knee', 'wrist'], opts);
    const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);
    for (const t of ['Stage 2: attention fusion + mask decoder', 'Training loss', 'Validation', 'loss (unitless)', 'DSC (0-1)', 'iteration (optimizer steps)',
      'loss term', 'loss_dice', 'loss_ce', 'loss_total', 'validation DSC', OVERALL_SERIES, 'knee', 'wrist', 'best checkpoint: DSC 0.800 at iteration 40', '0.4', '1.0', '20', '40']) {
      expect(texts, t).toContain(t);
    }
    // The PNG against the same plot with every text element removed: the text is drawn (the font was found).
    const withText = PNG.sync.read(Buffer.from(svgToPng(svg)));
    const without = PNG.sync.read(Buffer.from(svgToPng(svg.replace(/<text[^>]*>[^<]*<\/text>/g, ''))));
    expect([withText.width, withText.height]).toEqual([without.width, without.height]);
    expect(withText.width).toBeGreaterThan(560);
    const dark = (png: PNG, y0: number, y1: number) => {
      let n = 0;
      for (let y = y0; y < y1; y++) for (let x = 0; x < png.width; x++) if (png.data[(y * png.width + x) * 4]! < 128) n++;
      return n;
    };
    expect(dark(without, 0, 25)).toBe(0); // the title band holds nothing but the title
    expect(dark(withText, 0, 25)).toBeGreaterThan(200);
    let differing = 0;
    for (let o = 0; o < withText.data.length; o += 4) if (withText.data[o] !== without.data[o] || withText.data[o + 1] !== without.data[o + 1]) differing++;
    expect(differing).toBeGreaterThan(3000);
    // writePlot writes that PNG.
    const log = TrainingLog.create(join(dir, 'plot.csv'), names, ['knee', 'wrist']);
    for (const r of rows) log.append(r);
    await log.writePlot(join(dir, 'plot.png'), opts);
    expect(Buffer.from(readFileSync(join(dir, 'plot.png'))).equals(Buffer.from(svgToPng(svg)))).toBe(true);
  });
});
