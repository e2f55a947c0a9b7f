import { MetricsInputError } from './errors.js';

/** Quotes a CSV field when it holds a comma, quote or newline (RFC 4180). */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  const s = typeof value === 'number' ? formatNumber(value) : value;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Numbers for CSV/JSON-ish text: Infinity and NaN spelled out, finite values at full precision. */
export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  return String(v);
}

export function csvLine(fields: (string | number | null)[]): string {
  return fields.map(csvField).join(',');
}

/** Parses RFC 4180 CSV text into rows of fields (quoted fields, "" escapes, CRLF or LF). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let inQuotes = false;
  let i = 0;
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  while (i < body.length) {
    const c = body[i];
    if (inQuotes) {
      if (c === '"') {
        if (body[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        inQuotes = false;
      } else field += c;
      i++;
      continue;
    }
    if (c === '"') inQuotes = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      if (c === '\r' && body[i + 1] === '\n') i++;
    } else field += c;
    i++;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0].trim() === ''));
}

/** One evaluation case of a manifest: file paths as written in the CSV plus grouping labels. */
export interface ManifestCase {
  pred: string;
  gt: string;
  location: string;
  sequence: string;
}

/**
 * Reads an evaluation manifest with header columns pred,gt,location,sequence (any order, extra columns
 * ignored; location/sequence may be absent -> "all"/""). `source` names the file in errors.
 */
export function parseManifest(text: string, source: string): ManifestCase[] {
  const rows = parseCsv(text);
  if (rows.length < 2) throw new MetricsInputError(`${source}: manifest needs a header row and at least one case`);
  const header = rows[0].map((h) => h.trim().toLowerCase());
  const col = (name: string): number => header.indexOf(name);
  const ip = col('pred');
  const ig = col('gt');
  if (ip < 0 || ig < 0) throw new MetricsInputError(`${source}: manifest header must contain "pred" and "gt" columns, got "${rows[0].join(',')}"`);
  const il = col('location');
  const is = col('sequence');
  return rows.slice(1).map((r, k) => {
    const pred = (r[ip] ?? '').trim();
    const gt = (r[ig] ?? '').trim();
    if (pred === '' || gt === '') throw new MetricsInputError(`${source}: row ${k + 2} has an empty pred or gt path`);
    return {
      pred,
      gt,
      location: il >= 0 && (r[il] ?? '').trim() !== '' ? r[il].trim() : 'all',
      sequence: is >= 0 ? (r[is] ?? '').trim() : '',
    };
  });
}
