import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFromEnv } from '../../src/io/dicomweb/auth.js';
import { DicomwebClient } from '../../src/io/dicomweb/client.js';
import { redactUrl } from '../../src/io/dicomweb/errors.js';
import { buildMultipart, parseMultipart } from '../../src/io/dicomweb/multipart.js';
import { parseSeriesUrl } from '../../src/io/dicomweb/series-url.js';

// The retry/timeout rules need a server that fails on purpose, which Orthanc cannot be made to do:
// a small loopback HTTP server plays that part (the DICOMweb behaviour itself is tested against Orthanc).

describe('DICOMweb HTTP rules', () => {
  let server: http.Server;
  let base = '';
  let hits: Record<string, number> = {};
  let lastAuth = '';
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const key = req.url!.split('?')[0]!;
      hits[key] = (hits[key] ?? 0) + 1;
      lastAuth = req.headers.authorization ?? '';
      if (key === '/flaky/studies' && hits[key]! <= 2) return void res.writeHead(503).end();
      if (key === '/flaky/studies') return void res.writeHead(200, { 'content-type': 'application/dicom+json' }).end('[]');
      if (key === '/down/studies') return void res.writeHead(500, { 'content-type': 'text/plain' }).end('database is locked');
      if (key === '/slow/studies') return; // never answers
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const client = (root: string, extra = {}): DicomwebClient => new DicomwebClient(`${base}${root}`, { auth: { kind: 'bearer', token: 'tok-123' }, backoffMs: 10, ...extra });

  it('retries 5xx with backoff and succeeds when the server recovers', async () => {
    hits = {};
    await expect(client('/flaky').searchStudies()).resolves.toEqual([]);
    expect(hits['/flaky/studies']).toBe(3);
    expect(lastAuth).toBe('Bearer tok-123');
  });

  it('gives up after the attempts with one message naming the URL and the status', async () => {
    hits = {};
    await expect(client('/down').searchStudies()).rejects.toThrow(`${base}/down/studies: HTTP 500 (database is locked), after 4 attempts`);
    expect(hits['/down/studies']).toBe(4);
  });

  it('times out a server that never answers, and does not retry a 404', async () => {
    hits = {};
    await expect(client('/slow', { timeoutMs: 150, attempts: 2 }).searchStudies()).rejects.toThrow(/slow\/studies: no answer within 0.15 s \(timeout\), after 2 attempts/);
    await expect(client('/none').searchStudies()).rejects.toThrow(/HTTP 404 Not Found/);
    expect(hits['/none/studies']).toBe(1);
  });

  it('credentials: env wins, URL userinfo is used but never shown', () => {
    expect(authFromEnv('http://h/x', { SAB_DICOMWEB_TOKEN: 't' })).toEqual({ kind: 'bearer', token: 't' });
    expect(authFromEnv('http://h/x', { SAB_DICOMWEB_USER: 'u', SAB_DICOMWEB_PASSWORD: 'p' })).toEqual({ kind: 'basic', user: 'u', password: 'p' });
    expect(authFromEnv('http://me:pw@h/x', {})).toEqual({ kind: 'basic', user: 'me', password: 'pw' });
    expect(redactUrl('http://me:pw@h:1/x?access_token=abc&a=1')).toBe('http://h:1/x?access_token=***&a=1');
  });

  it('multipart bodies round-trip and series URLs parse', () => {
    const parts = [new Uint8Array([1, 2, 3, 13, 10]), new Uint8Array(0), new Uint8Array([45, 45, 9])];
    const { body, contentType } = buildMultipart(parts);
    expect(parseMultipart(body, contentType).map((b) => [...b])).toEqual(parts.map((p) => [...p]));
    expect(parseSeriesUrl('https://pacs/dicom-web/studies/1.2/series/3.4')).toEqual({ base: 'https://pacs/dicom-web', studyUid: '1.2', seriesUid: '3.4' });
    expect(parseSeriesUrl('https://pacs/dicom-web/studies/1.2')).toBeUndefined();
  });
});
