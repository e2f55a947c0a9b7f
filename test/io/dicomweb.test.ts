import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDicomSeries } from '../../src/io/dicom/write-series.js';
import { DicomwebClient } from '../../src/io/dicomweb/client.js';
import { retrieveSeries } from '../../src/io/dicomweb/retrieve.js';
import { searchStudies } from '../../src/io/dicomweb/search.js';
import { readVolume } from '../../src/io/dispatch.js';
import { readInput } from '../../src/io/input.js';
import type { Volume } from '../../src/volume/types.js';
import { GOLDEN_DIR, WRIST, sab, scratch } from '../cli/helpers.js';
import { encodeSeries, haveProgram, IN_CI, natural, wristSlab, type Natural } from './dicom-tools.js';
import { haveOrthanc, ORTHANC_BIN, PASSWORD, startOrthanc, USER, type OrthancServer } from '../../src/bench/_orthanc.js';
import { expectAffineClose } from './helpers.js';

// Against a real Orthanc + DICOMweb plugin started here (loopback, free port, basic auth, temp storage).

const HAVE = haveOrthanc();
if (!HAVE && !IN_CI) console.warn(`test/io/dicomweb skipped: no Orthanc with the DICOMweb plugin at ${ORTHANC_BIN} (install with .ci/install.d/orthanc)`);

const pixelBytes = (ds: Natural): Uint8Array => new Uint8Array(ds['PixelData'][0]);
const ENV = { SAB_DICOMWEB_USER: USER, SAB_DICOMWEB_PASSWORD: PASSWORD };

describe.skipIf(!HAVE && !IN_CI)('DICOMweb against a real Orthanc', () => {
  const dir = scratch('dicomweb');
  const seriesDir = path.join(dir, 'wrist');
  let orthanc: OrthancServer;
  let local: Volume;
  let studyUid: string;
  let seriesUid: string;
  let seriesUrl: string;
  const client = (): DicomwebClient => new DicomwebClient(orthanc.dicomweb, { auth: { kind: 'basic', user: USER, password: PASSWORD } });
  const instanceCount = async (): Promise<number> => ((await orthanc.rest('/instances')) as string[]).length;

  beforeAll(async () => {
    orthanc = await startOrthanc();
    writeDicomSeries(seriesDir, readVolume(WRIST), { seriesDescription: 'wrist T1' });
    local = readVolume(seriesDir);
    for (const f of readdirSync(seriesDir).sort()) await orthanc.upload(path.join(seriesDir, f));
    const h = local.source!.header as { studyInstanceUid: string; series: { seriesInstanceUid: string } };
    studyUid = h.studyInstanceUid;
    seriesUid = h.series.seriesInstanceUid;
    seriesUrl = `${orthanc.dicomweb}/studies/${studyUid}/series/${seriesUid}`;
  }, 60_000);
  afterAll(async () => orthanc?.stop());

  it('search finds the uploaded series with its instance count and dims (library and CLI)', async () => {
    const studies = await searchStudies(client(), { modality: 'MR' });
    expect(studies).toHaveLength(1);
    expect(studies[0]!.series[0]).toMatchObject({ seriesInstanceUid: seriesUid, instances: 74, columns: 272, rows: 204, description: 'wrist T1', url: seriesUrl });
    const r = await sab(['dicomweb', 'search', orthanc.dicomweb, '--patient', 'SAB0001', '--json'], ENV);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { series: { url: string }[] }[])[0]!.series[0]!.url).toBe(seriesUrl);
    const text = await sab(['dicomweb', 'search', orthanc.dicomweb], ENV);
    expect(text.stdout).toMatch(/series #1 MR {2}74 instances {2}272x204 {2}wrist T1/);
  });

  it('a series URL reads as the same volume as the local series', async () => {
    let last = [0, 0];
    const v = await readInput(seriesUrl, { env: ENV, onProgress: (d, t) => (last = [d, t]) });
    expect(last).toEqual([74, 74]);
    expect(v.dims).toEqual(local.dims);
    let diff = 0;
    for (let i = 0; i < v.data.length; i++) if (v.data[i] !== local.data[i]) diff++;
    expect(diff).toBe(0);
    expectAffineClose(v.affine, local.affine, 1e-9);
  });

  it.skipIf(!haveProgram('dcmcjpls') && !IN_CI)('a JPEG-LS series stored in Orthanc is retrieved compressed and decodes losslessly', async () => {
    const raw = path.join(dir, 'slab');
    writeDicomSeries(raw, wristSlab(30, 3), { seriesDescription: 'jpeg-ls' });
    encodeSeries(raw, path.join(dir, 'slab-jls'), 'dcmcjpls', []);
    for (const f of readdirSync(path.join(dir, 'slab-jls'))) await orthanc.upload(path.join(dir, 'slab-jls', f));
    const ref = readVolume(raw);
    const h = ref.source!.header as { studyInstanceUid: string; series: { seriesInstanceUid: string } };
    const files = await retrieveSeries(client(), h.studyInstanceUid, h.series.seriesInstanceUid);
    expect(Buffer.from(files[0]!.bytes).toString('latin1')).toContain('1.2.840.10008.1.2.4.80');
    const v = await readInput(`${orthanc.dicomweb}/studies/${h.studyInstanceUid}/series/${h.series.seriesInstanceUid}`, { env: ENV });
    expect(Array.from(v.data)).toEqual(Array.from(ref.data));
  });

  it('sab segment URL --push stores a SEG under the same study whose frames equal out.dcm and a local run (pushed too)', async () => {
    const out = path.join(dir, 'pushed.dcm');
    const before = await instanceCount();
    const r = await sab(['segment', seriesUrl, '-o', out, '--weights', GOLDEN_DIR, '--slices', '37:38', '--no-attention', '--push', orthanc.dicomweb], ENV);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`stored ${out} on ${orthanc.dicomweb} (STOW-RS)`);
    expect(await instanceCount()).toBe(before + 1);
    const segs = await client().searchSeries(studyUid, { Modality: 'SEG' });
    expect(segs).toHaveLength(1);
    const segSeries = segs[0]!['0020000E']!.Value![0] as string;
    const inst = await client().searchInstances(studyUid, segSeries);
    const stored = await client().retrieveInstance(studyUid, segSeries, inst[0]!['00080018']!.Value![0] as string);
    const file = natural(new Uint8Array(readFileSync(out)));
    const remote = natural(stored);
    expect(remote['SOPInstanceUID']).toBe(file['SOPInstanceUID']);
    expect(Buffer.from(pixelBytes(remote)).equals(Buffer.from(pixelBytes(file)))).toBe(true);
    expect(file['ReferencedSeriesSequence'].SeriesInstanceUID).toBe(seriesUid);
    expect(file['SegmentSequence'].SegmentedPropertyTypeCodeSequence.CodeValue).toBe('272673000');
    expect(file['SegmentSequence'].SegmentationAlgorithmIdentificationSequence.AlgorithmParameters).toMatch(/^bone_sam\.pth sha256=[0-9a-f]{64}; depth attention off$/);
    // the same command on the local series writes the same frames, and --push stores it in the same study too
    const localOut = path.join(dir, 'local.dcm');
    const l = await sab(['segment', seriesDir, '-o', localOut, '--weights', GOLDEN_DIR, '--slices', '37:38', '--no-attention', '--push', orthanc.dicomweb], ENV);
    expect(l.code, l.stderr).toBe(0);
    expect(await client().searchSeries(studyUid, { Modality: 'SEG' })).toHaveLength(2);
    const localSeg = natural(new Uint8Array(readFileSync(localOut)));
    expect(localSeg['NumberOfFrames']).toBe(file['NumberOfFrames']);
    expect(Buffer.from(pixelBytes(localSeg)).equals(Buffer.from(pixelBytes(file)))).toBe(true);
  }, 180_000);

  it('a wrong password gives one clear error, stores nothing and shows no credentials', async () => {
    const before = await instanceCount();
    const bad = { SAB_DICOMWEB_USER: USER, SAB_DICOMWEB_PASSWORD: 'not-the-password' };
    const out = path.join(dir, 'never.dcm');
    const r = await sab(['segment', seriesDir, '-o', out, '--weights', GOLDEN_DIR, '--slices', '37:38', '--push', orthanc.dicomweb], bad);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toEqual([`sab: error: ${orthanc.dicomweb}/studies?limit=1: HTTP 401 Unauthorized: wrong or missing credentials (set SAB_DICOMWEB_USER/SAB_DICOMWEB_PASSWORD or SAB_DICOMWEB_TOKEN)`]);
    expect(await instanceCount()).toBe(before);
    const info = await sab(['info', seriesUrl], bad);
    expect(info.code).not.toBe(0);
    expect(info.stderr).toMatch(/HTTP 401 Unauthorized/);
    const inUrl = await sab(['info', seriesUrl.replace('http://', `http://${USER}:not-the-password@`)]);
    expect(inUrl.stderr).toMatch(/HTTP 401/);
    for (const s of [r.stderr, r.stdout, info.stderr, inUrl.stderr]) expect(s).not.toContain('not-the-password');
  });

  it('sab info on a series URL lists the series and its volume', async () => {
    const r = await sab(['info', seriesUrl, '--json'], ENV);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as { series: { sliceCount: number }[]; volume: { dims: number[] } };
    expect(rep.series[0]!.sliceCount).toBe(74);
    expect(rep.volume.dims).toEqual([272, 204, 74]);
  });

  it('a missing series and an unreachable server give one clear error each', async () => {
    const missing = await sab(['info', `${orthanc.dicomweb}/studies/1.2.3/series/4.5.6`], ENV);
    expect(missing.stderr.trim()).toBe(`sab: error: ${orthanc.dicomweb}/studies/1.2.3/series/4.5.6: the series has no instances (or does not exist)`);
    const notSeries = await sab(['info', `${orthanc.dicomweb}/studies/1.2.3`], ENV);
    expect(notSeries.stderr).toMatch(/not a series URL: expected BASE\/studies\/STUDY_UID\/series\/SERIES_UID/);
    const down = await sab(['info', 'http://127.0.0.1:9/dicom-web/studies/1.2/series/3.4'], ENV);
    expect(down.code).not.toBe(0);
    expect(down.stderr.trim()).toMatch(/^sab: error: http:\/\/127\.0\.0\.1:9\/dicom-web\/studies\/1\.2\/series\/3\.4\/instances\?includefield=00080018: cannot connect \(ECONNREFUSED\), after 4 attempts$/);
  });

  it('a series that changes while it is read is an error', async () => {
    const extraDir = path.join(dir, 'extra');
    const h = local.source!.header as { studyInstanceUid: string; frameOfReferenceUid: string };
    writeDicomSeries(extraDir, wristSlab(0, 1), { studyInstanceUid: h.studyInstanceUid, seriesInstanceUid: seriesUid, frameOfReferenceUid: h.frameOfReferenceUid });
    // A real upload into the series while the first instance is being fetched.
    class UploadingClient extends DicomwebClient {
      private uploaded = false;
      override async retrieveInstance(s: string, se: string, sop: string): Promise<Uint8Array> {
        if (!this.uploaded) {
          this.uploaded = true;
          await orthanc.upload(path.join(extraDir, 'IM00001.dcm'));
        }
        return super.retrieveInstance(s, se, sop);
      }
    }
    const c = new UploadingClient(orthanc.dicomweb, { auth: { kind: 'basic', user: USER, password: PASSWORD } });
    await expect(retrieveSeries(c, studyUid, seriesUid)).rejects.toThrow(/the series changed while it was read \(74 instances before, 75 after\)/);
  });
});
