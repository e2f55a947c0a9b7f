import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { authHeader, type DicomwebAuth } from './auth.js';
import { DicomwebError, redactUrl } from './errors.js';

export interface HttpOptions {
  auth: DicomwebAuth;
  /** Extra CA certificate file (PEM) trusted besides Node's and the system's. */
  ca?: string;
  /** Per-attempt timeout (default 60 s). */
  timeoutMs?: number;
  /** Attempts for 5xx, 429, timeouts and dropped connections (default 4), with exponential backoff. */
  attempts?: number;
  /** First backoff delay (default 500 ms), doubled after each retry. */
  backoffMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const SYSTEM_CA_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'];

/** Node's bundled roots plus the system store (Node 20 does not read it by itself) plus --ca. */
function trustedCAs(extra?: string): (string | Buffer)[] | undefined {
  const system = SYSTEM_CA_BUNDLES.find((p) => existsSync(p));
  if (!system && !extra) return undefined;
  const cas: (string | Buffer)[] = [...rootCertificates];
  if (system) cas.push(readFileSync(system));
  if (extra) {
    try {
      cas.push(readFileSync(extra));
    } catch (e) {
      throw new DicomwebError(extra, `cannot read the CA certificate file (${(e as Error).message})`);
    }
  }
  return cas;
}

class RetryableError extends Error {}

/** Node's codes for a certificate chain it cannot verify or a name it does not match. */
const TLS_TRUST_ERRORS = /^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_UNTRUSTED|CERT_HAS_EXPIRED|ERR_TLS_CERT_ALTNAME_INVALID)$/;

function once(url: URL, method: string, headers: Record<string, string>, body: Buffer | undefined, opts: HttpOptions, ca: (string | Buffer)[] | undefined): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const lib = url.protocol === 'https:' ? https : http;
    const timeout = opts.timeoutMs ?? 60_000;
    const req = lib.request(
      url,
      { method, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) }, ...(url.protocol === 'https:' && ca ? { ca } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', (e) => reject(new RetryableError(`connection dropped while reading the response (${e.message})`)));
      },
    );
    req.setTimeout(timeout, () => req.destroy(new RetryableError(`no answer within ${timeout / 1000} s (timeout)`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e instanceof RetryableError) reject(e);
      else if (['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN'].includes(e.code ?? '')) reject(new RetryableError(`cannot connect (${e.code})`));
      else if (TLS_TRUST_ERRORS.test(e.code ?? '')) reject(new Error(`the server's certificate is not trusted (${e.code}: ${e.message}); if it comes from a private CA, pass that CA with --ca FILE`));
      else reject(new Error(e.code ? `${e.code}: ${e.message}` : e.message));
    });
    if (body) req.end(body);
    else req.end();
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What an HTTP error status means for a user. */
function statusProblem(status: number, method: string): string {
  if (status === 401) return 'HTTP 401 Unauthorized: wrong or missing credentials (set SAB_DICOMWEB_USER/SAB_DICOMWEB_PASSWORD or SAB_DICOMWEB_TOKEN)';
  if (status === 403) return 'HTTP 403 Forbidden: these credentials may not do this';
  if (status === 404) return method === 'GET' ? 'HTTP 404 Not Found: no such study, series or instance (or not a DICOMweb endpoint)' : 'HTTP 404 Not Found: not a DICOMweb endpoint';
  return `HTTP ${status}`;
}

/**
 * One HTTP request with retries for what may pass (5xx, 429, timeouts, refused or dropped connections) and one
 * DicomwebError for what will not; 2xx answers are returned. Messages carry the URL without credentials.
 */
export async function httpRequest(url: string, init: { method?: string; headers?: Record<string, string>; body?: Buffer }, opts: HttpOptions): Promise<HttpResponse> {
  const shown = redactUrl(url);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DicomwebError(shown, 'not a valid URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new DicomwebError(shown, `unsupported protocol ${u.protocol} (use http or https)`);
  const cleanUrl = new URL(u.toString());
  cleanUrl.username = '';
  cleanUrl.password = '';
  const method = init.method ?? 'GET';
  const headers = { ...init.headers, ...authHeader(opts.auth), 'user-agent': 'segment-any-bone' };
  const attempts = Math.max(1, opts.attempts ?? 4);
  const ca = u.protocol === 'https:' ? trustedCAs(opts.ca) : undefined;
  let delay = opts.backoffMs ?? 500;
  let last = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const res = await once(cleanUrl, method, headers, init.body, opts, ca);
      if (res.status >= 200 && res.status < 300) return res;
      const detail = res.body.length && res.body.length < 400 && /json|text/.test(String(res.headers['content-type'])) ? ` (${res.body.toString('utf8').trim().replace(/\s+/g, ' ')})` : '';
      if (res.status >= 500 || res.status === 429) last = `${statusProblem(res.status, method)}${detail}`;
      else throw new DicomwebError(shown, `${statusProblem(res.status, method)}${detail}`, res.status);
    } catch (e) {
      if (e instanceof DicomwebError) throw e;
      if (!(e instanceof RetryableError)) throw new DicomwebError(shown, (e as Error).message);
      last = e.message;
    }
    if (attempt < attempts) {
      await sleep(delay);
      delay *= 2;
    }
  }
  throw new DicomwebError(shown, `${last}, after ${attempts} attempt${attempts > 1 ? 's' : ''}`);
}
