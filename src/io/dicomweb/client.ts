import type { DicomwebAuth } from './auth.js';
import { DicomwebError, redactUrl } from './errors.js';
import { httpRequest, type HttpOptions } from './http.js';
import { buildMultipart, parseMultipart } from './multipart.js';

/** One DICOM JSON object (PS3.18 F.2): tag -> { vr, Value }. */
export type DicomJson = Record<string, { vr: string; Value?: unknown[] }>;

/** The first value of an attribute of a QIDO result, as a string ('' when absent); person names as Alphabetic. */
export function jsonValue(obj: DicomJson, tag: string): string {
  const v = obj[tag]?.Value?.[0];
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return String((v as { Alphabetic?: string }).Alphabetic ?? '');
  return String(v);
}

export interface DicomwebClientOptions {
  auth: DicomwebAuth;
  ca?: string;
  timeoutMs?: number;
  attempts?: number;
  backoffMs?: number;
}

export interface StoreResult {
  stored: string[];
  /** STOW-RS answer as the server sent it (DICOM JSON). */
  response: DicomJson;
}

/**
 * QIDO-RS, WADO-RS and STOW-RS over Node's http/https. Not `dicomweb-client`: it is built on XMLHttpRequest,
 * which Node 20 lacks, and it cannot take a CA file; this is the small part of the standard sab needs.
 */
export class DicomwebClient {
  readonly baseUrl: string;
  private readonly http: HttpOptions;

  constructor(baseUrl: string, opts: DicomwebClientOptions) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.http = { auth: opts.auth, ...(opts.ca ? { ca: opts.ca } : {}), ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}), ...(opts.attempts ? { attempts: opts.attempts } : {}), ...(opts.backoffMs !== undefined ? { backoffMs: opts.backoffMs } : {}) };
  }

  /** The base URL as shown to users (no credentials). */
  get shownUrl(): string {
    return redactUrl(this.baseUrl);
  }

  private url(path: string, query: Record<string, string | undefined> = {}): string {
    const q = Object.entries(query).filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v!)}`);
    return `${this.baseUrl}${path}${q.length ? `?${q.join('&')}` : ''}`;
  }

  private async qido(path: string, query: Record<string, string | undefined>): Promise<DicomJson[]> {
    const url = this.url(path, query);
    const res = await httpRequest(url, { headers: { accept: 'application/dicom+json' } }, this.http);
    if (res.status === 204 || res.body.length === 0) return [];
    try {
      const parsed = JSON.parse(res.body.toString('utf8')) as unknown;
      if (!Array.isArray(parsed)) throw new Error('not an array');
      return parsed as DicomJson[];
    } catch (e) {
      throw new DicomwebError(redactUrl(url), `QIDO-RS answer is not DICOM JSON (${(e as Error).message})`);
    }
  }

  searchStudies(query: Record<string, string | undefined> = {}): Promise<DicomJson[]> {
    return this.qido('/studies', query);
  }

  searchSeries(studyUid?: string, query: Record<string, string | undefined> = {}): Promise<DicomJson[]> {
    return this.qido(studyUid ? `/studies/${encodeURIComponent(studyUid)}/series` : '/series', query);
  }

  searchInstances(studyUid: string, seriesUid: string, query: Record<string, string | undefined> = {}): Promise<DicomJson[]> {
    return this.qido(`/studies/${encodeURIComponent(studyUid)}/series/${encodeURIComponent(seriesUid)}/instances`, query);
  }

  /** WADO-RS of one instance as Part 10 bytes, in the transfer syntax it is stored in (sab decodes it). */
  async retrieveInstance(studyUid: string, seriesUid: string, sopUid: string): Promise<Uint8Array> {
    const url = this.url(`/studies/${encodeURIComponent(studyUid)}/series/${encodeURIComponent(seriesUid)}/instances/${encodeURIComponent(sopUid)}`);
    const res = await httpRequest(url, { headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } }, this.http);
    let parts: Buffer[];
    try {
      parts = parseMultipart(res.body, String(res.headers['content-type'] ?? ''));
    } catch (e) {
      throw new DicomwebError(redactUrl(url), `WADO-RS answer: ${(e as Error).message}`);
    }
    if (parts.length !== 1) throw new DicomwebError(redactUrl(url), `WADO-RS answer holds ${parts.length} parts, 1 expected`);
    return new Uint8Array(parts[0]!.buffer, parts[0]!.byteOffset, parts[0]!.byteLength);
  }

  /** STOW-RS: store instances in one request; any instance the server refuses fails the whole call. */
  async store(instances: readonly Uint8Array[], studyUid?: string): Promise<StoreResult> {
    const url = this.url(studyUid ? `/studies/${encodeURIComponent(studyUid)}` : '/studies');
    const { body, contentType } = buildMultipart(instances);
    const res = await httpRequest(url, { method: 'POST', headers: { 'content-type': contentType, accept: 'application/dicom+json' }, body }, { ...this.http, attempts: 1 });
    let response: DicomJson = {};
    try {
      if (res.body.length) response = JSON.parse(res.body.toString('utf8')) as DicomJson;
    } catch {
      // Some servers answer 200 without a body; what was stored is then checked by the caller.
    }
    const failed = (response['00081198']?.Value ?? []) as DicomJson[];
    if (failed.length || res.status === 202) {
      const reasons = failed.map((f) => `${jsonValue(f, '00081155')}: failure reason ${jsonValue(f, '00081197') || 'unknown'}`);
      throw new DicomwebError(redactUrl(url), `STOW-RS refused ${failed.length || 'some'} instance(s)${reasons.length ? `: ${reasons.join('; ')}` : ''}`);
    }
    const ok = ((response['00081199']?.Value ?? []) as DicomJson[]).map((r) => jsonValue(r, '00081155'));
    return { stored: ok, response };
  }
}
