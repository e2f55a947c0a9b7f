import { existsSync, readFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { writeFileAtomic } from '../../io/atomic.js';
import { parseCsv } from '../../metrics/csv.js';

export class TrainingLogError extends Error {
  override name = 'TrainingLogError';
}

export interface LogRow {
  iteration: number;
  lr: number;
  /** Loss terms by name (e.g. loss_dice, loss_ce, loss_total); columns are fixed by the first row or the constructor. */
  losses: Record<string, number>;
  /** Validation DSC when one was computed at this iteration. */
  valDsc?: number;
}

const num = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '' : String(v));

/**
 * Loss/DSC log of a training run: a CSV (iteration, the loss terms, lr, val_dsc) rewritten atomically
 * on every append, and a PNG plot on request. Opening an existing log resumes it: rows at or past the
 * resume iteration are dropped, so an interrupted run continues without duplicates.
 */
export class TrainingLog {
  readonly rows: LogRow[] = [];

  private constructor(readonly csvPath: string, readonly lossNames: string[]) {}

  static create(csvPath: string, lossNames: string[]): TrainingLog {
    if (lossNames.length === 0 || lossNames.some((n) => !/^[A-Za-z0-9_.-]+$/.test(n) || ['iteration', 'lr', 'val_dsc'].includes(n))) {
      throw new TrainingLogError(`invalid loss column names: ${JSON.stringify(lossNames)}`);
    }
    const log = new TrainingLog(csvPath, [...lossNames]);
    log.flush();
    return log;
  }

  /** Re-open a log written by this class, keeping rows with iteration < resumeFrom (all when omitted). */
  static resume(csvPath: string, resumeFrom = Infinity): TrainingLog {
    if (!existsSync(csvPath)) throw new TrainingLogError(`${csvPath}: no training log to resume`);
    const rows = parseCsv(readFileSync(csvPath, 'utf8')).filter((r) => r.some((f) => f !== ''));
    const header = rows[0] ?? [];
    if (header[0] !== 'iteration' || header.at(-2) !== 'lr' || header.at(-1) !== 'val_dsc' || header.length < 4) {
      throw new TrainingLogError(`${csvPath}: not a training log (header must be iteration,<loss terms>,lr,val_dsc)`);
    }
    const log = new TrainingLog(csvPath, header.slice(1, -2));
    for (const [n, r] of rows.slice(1).entries()) {
      const values = r.map((f) => (f === '' ? NaN : Number(f)));
      if (r.length !== header.length || Number.isNaN(values[0]!)) throw new TrainingLogError(`${csvPath}: row ${n + 2} is malformed`);
      if (values[0]! >= resumeFrom) continue;
      const losses: Record<string, number> = {};
      log.lossNames.forEach((name, i) => (losses[name] = values[i + 1]!));
      const row: LogRow = { iteration: values[0]!, lr: values.at(-2)!, losses };
      if (!Number.isNaN(values.at(-1)!)) row.valDsc = values.at(-1)!;
      log.rows.push(row);
    }
    log.flush();
    return log;
  }

  append(row: LogRow): void {
    const last = this.rows.at(-1);
    if (last && row.iteration <= last.iteration) throw new TrainingLogError(`iteration ${row.iteration} does not follow ${last.iteration}`);
    for (const name of Object.keys(row.losses)) if (!this.lossNames.includes(name)) throw new TrainingLogError(`unknown loss column '${name}' (log has ${this.lossNames.join(', ')})`);
    this.rows.push({ ...row, losses: { ...row.losses } });
    this.flush();
  }

  private flush(): void {
    const lines = [['iteration', ...this.lossNames, 'lr', 'val_dsc'].join(',')];
    for (const r of this.rows) lines.push([String(r.iteration), ...this.lossNames.map((n) => num(r.losses[n])), num(r.lr), num(r.valDsc)].join(','));
    writeFileAtomic(this.csvPath, new TextEncoder().encode(lines.join('\n') + '\n'));
  }

  /** Plot as PNG: top panel the loss terms against iteration, bottom panel validation DSC on [0, 1]. */
  writePlot(pngPath: string, width = 640, height = 480): void {
    writeFileAtomic(pngPath, renderLogPlot(this.rows, this.lossNames, width, height));
  }
}

/** Line colours in drawing order: loss terms, then DSC (always the last entry). */
export const PLOT_COLOURS: readonly [number, number, number][] = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [148, 103, 189], [140, 86, 75], [227, 119, 194], [127, 127, 127],
];
export const DSC_COLOUR: [number, number, number] = [214, 39, 40];

/** Plot-area geometry, exported so tests can find the axes. */
export const PLOT_MARGIN = { left: 40, right: 12, top: 12, bottom: 24, gap: 28 };

class Canvas {
  readonly png: PNG;
  constructor(readonly w: number, readonly h: number) {
    this.png = new PNG({ width: w, height: h });
    this.png.data.fill(255);
  }
  set(x: number, y: number, [r, g, b]: readonly number[]): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.w || y >= this.h) return;
    const o = (y * this.w + x) * 4;
    this.png.data[o] = r!;
    this.png.data[o + 1] = g!;
    this.png.data[o + 2] = b!;
    this.png.data[o + 3] = 255;
  }
  line(x0: number, y0: number, x1: number, y1: number, c: readonly number[]): void {
    const steps = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
    for (let s = 0; s <= steps; s++) this.set(x0 + ((x1 - x0) * s) / steps, y0 + ((y1 - y0) * s) / steps, c);
  }
}

interface Panel {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

const TICKS = 5;

function drawGrid(cv: Canvas, p: Panel): void {
  const grey = [225, 225, 225];
  for (let t = 1; t < TICKS; t++) {
    cv.line(p.x0 + 1, p.y1 - ((p.y1 - p.y0) * t) / TICKS, p.x1, p.y1 - ((p.y1 - p.y0) * t) / TICKS, grey);
    cv.line(p.x0 + ((p.x1 - p.x0) * t) / TICKS, p.y0, p.x0 + ((p.x1 - p.x0) * t) / TICKS, p.y1 - 1, grey);
  }
}

/** Axis lines and tick marks, drawn over the data as plotting libraries do. */
function drawAxes(cv: Canvas, p: Panel): void {
  const black = [0, 0, 0];
  for (let t = 1; t < TICKS; t++) {
    const y = p.y1 - ((p.y1 - p.y0) * t) / TICKS;
    const x = p.x0 + ((p.x1 - p.x0) * t) / TICKS;
    cv.line(p.x0 - 4, y, p.x0, y, black);
    cv.line(x, p.y1, x, p.y1 + 4, black);
  }
  cv.line(p.x0, p.y0, p.x0, p.y1, black);
  cv.line(p.x0, p.y1, p.x1, p.y1, black);
}

function drawSeries(cv: Canvas, p: Panel, xs: number[], ys: number[], xr: [number, number], yr: [number, number], c: readonly number[]): void {
  const px = (x: number) => p.x0 + ((x - xr[0]) / (xr[1] - xr[0] || 1)) * (p.x1 - p.x0);
  const py = (y: number) => p.y1 - ((y - yr[0]) / (yr[1] - yr[0] || 1)) * (p.y1 - p.y0);
  let prev: [number, number] | undefined;
  for (let i = 0; i < xs.length; i++) {
    if (!Number.isFinite(ys[i]!)) continue;
    const pt: [number, number] = [px(xs[i]!), py(ys[i]!)];
    if (prev) cv.line(prev[0], prev[1], pt[0], pt[1], c);
    else cv.set(pt[0], pt[1], c);
    prev = pt;
  }
}

/** PNG bytes of the two-panel plot (no text: colours follow PLOT_COLOURS in loss-column order, DSC in DSC_COLOUR). */
export function renderLogPlot(rows: readonly LogRow[], lossNames: readonly string[], width = 640, height = 480): Uint8Array {
  if (width < 120 || height < 120) throw new TrainingLogError(`plot size ${width}x${height} is too small (at least 120x120)`);
  const cv = new Canvas(width, height);
  const m = PLOT_MARGIN;
  const split = Math.round((height - m.top - m.bottom - m.gap) * 0.62);
  const top: Panel = { x0: m.left, y0: m.top, x1: width - m.right, y1: m.top + split };
  const bottom: Panel = { x0: m.left, y0: top.y1 + m.gap, x1: width - m.right, y1: height - m.bottom };
  drawGrid(cv, top);
  drawGrid(cv, bottom);
  const xs = rows.map((r) => r.iteration);
  const xr: [number, number] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  let lo = Infinity;
  let hi = -Infinity;
  for (const r of rows) for (const n of lossNames) {
    const v = r.losses[n];
    if (v !== undefined && Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (!Number.isFinite(lo)) [lo, hi] = [0, 1];
  const pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.05 || 1;
  const yr: [number, number] = [Math.min(0, lo - pad), hi + pad];
  lossNames.forEach((n, i) => drawSeries(cv, top, xs, rows.map((r) => r.losses[n] ?? NaN), xr, yr, PLOT_COLOURS[i % PLOT_COLOURS.length]!));
  const dsc = rows.filter((r) => r.valDsc !== undefined);
  drawSeries(cv, bottom, dsc.map((r) => r.iteration), dsc.map((r) => r.valDsc!), xr, [0, 1], DSC_COLOUR);
  drawAxes(cv, top);
  drawAxes(cv, bottom);
  // Legend swatches (top right of the loss panel), one per loss column.
  lossNames.forEach((_, i) => {
    for (let dy = 0; dy < 6; dy++) cv.line(top.x1 - 14 - 18 * i, top.y0 + 4 + dy, top.x1 - 4 - 18 * i, top.y0 + 4 + dy, PLOT_COLOURS[i % PLOT_COLOURS.length]!);
  });
  return PNG.sync.write(cv.png);
}
