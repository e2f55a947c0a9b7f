import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveOrthanc, makeTestCertificates, ORTHANC_BIN, startOrthanc, type OrthancServer } from '../../src/bench/_orthanc.js';
import { readVolume } from '../../src/io/dispatch.js';
import { readInput } from '../../src/io/input.js';
import type { Volume } from '../../src/volume/types.js';
import { sab, scratch } from '../cli/helpers.js';
import { haveProgram, IN_CI, wristSlab, writeDicomSeries } from './dicom-tools.js';

// https and a bearer token against a real Orthanc + DICOMweb plugin: a CA and a server certificate made by openssl
// here, Orthanc accepting only `Authorization: Bearer TOKEN` (its IncomingHttpRequestFilter Lua hook). The https
// endpoint is a Node TLS front relaying to Orthanc, because Debian 12's Orthanc crashes on its own TLS (see
// OrthancOptions.tls in _orthanc.ts).

const HAVE = haveOrthanc() && haveProgram('openssl');
if (!HAVE && !IN_CI) console.warn(`test/io/dicomweb-tls skipped: needs Orthanc with the DICOMweb plugin at ${ORTHANC_BIN} and openssl`);

const TOKEN = 'sab-bearer-7c1f0d2e9a';
const WRONG = 'sab-bearer-wrong-55aa';

describe.skipIf(!HAVE && !IN_CI)('DICOMweb over https with a bearer token (real Orthanc)', () => {
  const dir = scratch('dicomweb-tls');
  let orthanc: OrthancServer;
  let certs: { ca: string; key: string; cert: string };
  let local: Volume;
  let seriesUrl: string;

  beforeAll(async () => {
    certs = makeTestCertificates(dir);
    orthanc = await startOrthanc({ tls: { key: certs.key, cert: certs.cert }, bearerToken: TOKEN });
    const seriesDir = path.join(dir, 'wrist');
    writeDicomSeries(seriesDir, wristSlab(35, 3), { seriesDescription: 'wrist tls' });
    local = readVolume(seriesDir);
    for (const f of readdirSync(seriesDir).sort()) await orthanc.upload(path.join(seriesDir, f));
    const h = local.source!.header as { studyInstanceUid: string; series: { seriesInstanceUid: string } };
    seriesUrl = `${orthanc.dicomweb}/studies/${h.studyInstanceUid}/series/${h.series.seriesInstanceUid}`;
  }, 60_000);
  afterAll(async () => orthanc?.stop());

  it('search over https with --ca and the right token lists the series', async () => {
    expect(orthanc.dicomweb).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/dicom-web$/);
    const r = await sab(['dicomweb', 'search', orthanc.dicomweb, '--ca', certs.ca], { SAB_DICOMWEB_TOKEN: TOKEN });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/series #1 MR {2}3 instances {2}272x204 {2}wrist tls/);
    expect(r.stdout + r.stderr).not.toContain(TOKEN);
  });

  it('a series URL over https reads as the local series', async () => {
    const v = await readInput(seriesUrl, { ca: certs.ca, env: { SAB_DICOMWEB_TOKEN: TOKEN } });
    expect(v.dims).toEqual(local.dims);
    let diff = 0;
    for (let i = 0; i < v.data.length; i++) if (v.data[i] !== local.data[i]) diff++;
    expect(diff).toBe(0);
  });

  it('without --ca: one certificate error naming the URL, no retries, non-zero exit', async () => {
    const t0 = performance.now();
    const r = await sab(['dicomweb', 'search', orthanc.dicomweb], { SAB_DICOMWEB_TOKEN: TOKEN });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    // The server sends its own certificate only, so Node cannot verify its issuer.
    expect(lines[0]).toBe(`sab: error: ${orthanc.dicomweb}/studies?includefield=00081030%2C00100010%2C00100020%2C00080020: ` +
      "the server's certificate is not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate); " +
      'if it comes from a private CA, pass that CA with --ca FILE');
    expect(performance.now() - t0).toBeLessThan(20_000); // not retried with backoff
    expect(r.stderr).not.toContain(TOKEN);
  });

  it('a wrong token: one 403 line, neither token printed', async () => {
    const r = await sab(['dicomweb', 'search', orthanc.dicomweb, '--ca', certs.ca], { SAB_DICOMWEB_TOKEN: WRONG });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toEqual([`sab: error: ${orthanc.dicomweb}/studies?includefield=00081030%2C00100010%2C00100020%2C00080020: HTTP 403 Forbidden: these credentials may not do this`]);
    expect(r.stdout + r.stderr).not.toContain(WRONG);
    expect(r.stdout + r.stderr).not.toContain(TOKEN);
  });
});
