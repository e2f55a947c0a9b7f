import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../../io/atomic.js';
import { parseCsv } from '../../metrics/csv.js';
import { renderLogPlot, type PlotOptions } from './plot.js';

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
  /** Validation DSC per body location (keys = the log's `locations`). */
  valByLocation?: Record<string, number>;
}

const num = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '' : String(v));
const COLUMN_NAME = /^[A-Za-z0-9_.-]+$/;
const RESERVED = ['iteration', 'lr', 'val_dsc'];

/** CSV column of a location's validation DSC: val_dsc_<location>, other characters as '_'. */
export const locationColumn = (location: string): string => `val_dsc_${location.replace(/[^A-Za-z0-9_.-]/g, '_')}`;

/**
 * Loss/DSC log of a training run: a CSV (iteration, the loss terms, lr, val_dsc, then one
 * val_dsc_<location> column per validation location) rewritten atomically on every append, and a PNG
 * plot on request. Opening an existing log resumes it: rows at or past the resume iteration are
 * dropped, so an interrupted run continues without duplicates.
 */
export class TrainingLog {
  readonly rows: LogRow[] = [];

  private constructor(readonly csvPath: string, readonly lossNames: string[], readonly locations: string[]) {}

  static create(csvPath: string, lossNames: string[], locations: string[] = []): TrainingLog {
    if (lossNames.length === 0 || lossNames.some((n) => !COLUMN_NAME.test(n) || RESERVED.includes(n) || n.startsWith('val_dsc_'))) {
      throw new TrainingLogError(`invalid loss column names: ${JSON.stringify(lossNames)}`);
    }
    const columns = locations.map(locationColumn);
    if (new Set(columns).size !== columns.length) throw new TrainingLogError(`locations ${JSON.stringify(locations)} give the same log column twice`);
    const log = new TrainingLog(csvPath, [...lossNames], [...locations]);
    log.flush();
    return log;
  }

  /**
   * Re-open a log written by this class, keeping rows with iteration < resumeFrom (all when omitted).
   * `locations` names the per-location columns' locations (default: the column suffixes).
   */
  static resume(csvPath: string, resumeFrom = Infinity, locations?: string[]): TrainingLog {
    if (!existsSync(csvPath)) throw new TrainingLogError(`${csvPath}: no training log to resume`);
    const rows = parseCsv(readFileSync(csvPath, 'utf8')).filter((r) => r.some((f) => f !== ''));
    const header = rows[0] ?? [];
    const lrAt = header.indexOf('lr');
    if (header[0] !== 'iteration' || lrAt < 2 || header[lrAt + 1] !== 'val_dsc' || header.slice(lrAt + 2).some((h) => !h.startsWith('val_dsc_'))) {
      throw new TrainingLogError(`${csvPath}: not a training log (header must be iteration,<loss terms>,lr,val_dsc[,val_dsc_<location>...])`);
    }
    const columns = header.slice(lrAt + 2);
    const names = locations ?? columns.map((c) => c.slice('val_dsc_'.length));
    if (names.length !== columns.length || names.some((n, i) => locationColumn(n) !== columns[i])) {
      throw new TrainingLogError(`${csvPath}: its validation columns ${columns.join(', ') || '(none)'} do not match the locations ${names.join(', ') || '(none)'}`);
    }
    const log = new TrainingLog(csvPath, header.slice(1, lrAt), names);
    for (const [n, r] of rows.slice(1).entries()) {
      const values = r.map((f) => (f === '' ? NaN : Number(f)));
      if (r.length !== header.length || Number.isNaN(values[0]!)) throw new TrainingLogError(`${csvPath}: row ${n + 2} is malformed`);
      if (values[0]! >= resumeFrom) continue;
      const losses: Record<string, number> = {};
      log.lossNames.forEach((name, i) => (losses[name] = values[i + 1]!));
      const row: LogRow = { iteration: values[0]!, lr: values[lrAt]!, losses };
      if (!Number.isNaN(values[lrAt + 1]!)) row.valDsc = values[lrAt + 1]!;
      const byLoc: Record<string, number> = {};
      names.forEach((loc, i) => {
        if (!Number.isNaN(values[lrAt + 2 + i]!)) byLoc[loc] = values[lrAt + 2 + i]!;
      });
      if (Object.keys(byLoc).length) row.valByLocation = byLoc;
      log.rows.push(row);
    }
    log.flush();
    return log;
  }

  append(row: LogRow): void {
    const last = this.rows.at(-1);
    if (last && row.iteration <= last.iteration) throw new TrainingLogError(`iteration ${row.iteration} does not follow ${last.iteration}`);
    for (const name of Object.keys(row.losses)) if (!this.lossNames.includes(name)) throw new TrainingLogError(`unknown loss column '${name}' (log has ${this.lossNames.join(', ')})`);
    for (const loc of Object.keys(row.valByLocation ?? {})) if (!this.locations.includes(loc)) throw new TrainingLogError(`unknown validation location '${loc}' (log has ${this.locations.join(', ') || 'none'})`);
    this.rows.push({ ...row, losses: { ...row.losses }, ...(row.valByLocation ? { valByLocation: { ...row.valByLocation } } : {}) });
    this.flush();
  }

  /** CSV lines of `rows` formatted so far (header first): each append formats only its own row. */
  private lines: string[] = [];

  private flush(): void {
    if (this.lines.length === 0) this.lines.push(['iteration', ...this.lossNames, 'lr', 'val_dsc', ...this.locations.map(locationColumn)].join(','));
    for (const r of this.rows.slice(this.lines.length - 1)) {
      this.lines.push([String(r.iteration), ...this.lossNames.map((n) => num(r.losses[n])), num(r.lr), num(r.valDsc), ...this.locations.map((l) => num(r.valByLocation?.[l]))].join(','));
    }
    writeFileAtomic(this.csvPath, new TextEncoder().encode(this.lines.join('\n') + '\n'));
  }

  /** The plot as PNG (see renderLogPlot): loss terms over iterations, validation DSC overall and per location. */
  async writePlot(pngPath: string, options: PlotOptions = {}): Promise<void> {
    writeFileAtomic(pngPath, await renderLogPlot(this.rows, this.lossNames, this.locations, options));
  }
}
