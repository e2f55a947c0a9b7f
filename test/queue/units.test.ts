import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inputSha256 } from '../../src/queue/digest.js';
import { redactRedisUrl, redisOptions, scrubPassword } from '../../src/queue/redis.js';
import { segmentJobId } from '../../src/queue/spec.js';
import { expandInputs, outputNameFor, probabilitiesNameFor } from '../../src/segment/inputs.js';
import { scratch } from '../cli/helpers.js';

const dir = scratch('queue-units');

describe('queue: job ids, input hashes, redis URLs', () => {
  it('job ids follow content, options and output, not the order of option keys', () => {
    const a = segmentJobId('ab'.repeat(32), '/o/x_bone.nii.gz', { attention: true, axis: 2, slices: '1:3' });
    expect(a).toMatch(/^seg-[0-9a-f]{40}$/);
    expect(segmentJobId('ab'.repeat(32), '/o/x_bone.nii.gz', { slices: '1:3', axis: 2, attention: true })).toBe(a);
    expect(segmentJobId('ab'.repeat(32), '/o/x_bone.nii.gz', { attention: true, axis: 2, slices: '1:4' })).not.toBe(a);
    expect(segmentJobId('cd'.repeat(32), '/o/x_bone.nii.gz', { attention: true, axis: 2, slices: '1:3' })).not.toBe(a);
    expect(segmentJobId('ab'.repeat(32), '/p/x_bone.nii.gz', { attention: true, axis: 2, slices: '1:3' })).not.toBe(a);
  });

  it('hashes file bytes, a .nhdr with its data file, and a DICOM folder by names and contents', async () => {
    const f = path.join(dir, 'a.nii');
    writeFileSync(f, 'one');
    const h1 = await inputSha256(f);
    writeFileSync(f, 'two');
    expect(await inputSha256(f)).not.toBe(h1);

    const hdr = path.join(dir, 'v.nhdr');
    writeFileSync(hdr, 'NRRD0004\ntype: uint8\ndimension: 1\nsizes: 3\nencoding: raw\ndata file: v.raw\n\n');
    writeFileSync(path.join(dir, 'v.raw'), Buffer.from([1, 2, 3]));
    const hh = await inputSha256(hdr);
    writeFileSync(path.join(dir, 'v.raw'), Buffer.from([1, 2, 4]));
    expect(await inputSha256(hdr)).not.toBe(hh);

    const dcm = path.join(dir, 'series');
    mkdirSync(path.join(dcm, 'sub'), { recursive: true });
    writeFileSync(path.join(dcm, '1.dcm'), 'x');
    writeFileSync(path.join(dcm, 'sub', '2.dcm'), 'y');
    const hd = await inputSha256(dcm);
    writeFileSync(path.join(dcm, 'sub', '2.dcm'), 'z');
    expect(await inputSha256(dcm)).not.toBe(hd);
    await expect(inputSha256(path.join(dir, 'missing.nii.gz'))).rejects.toThrow(/missing\.nii\.gz: no such file/);
    // A URL that is no DICOMweb series URL is refused before any request (series URLs: test/queue/dicomweb.test.ts).
    await expect(inputSha256('https://pacs.example/series/1')).rejects.toThrow(/not a series URL/);
  });

  it('masks passwords in URLs and messages, and parses redis:// and rediss:// URLs', () => {
    expect(redactRedisUrl('redis://:p%40ss@10.0.0.5:6380/2')).toBe('redis://:***@10.0.0.5:6380/2');
    expect(redactRedisUrl('rediss://sab:hunter2@redis.lab')).toBe('rediss://sab:***@redis.lab');
    expect(redactRedisUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(scrubPassword('auth p@ss failed (p%40ss)', 'redis://:p%40ss@h')).toBe('auth *** failed (***)');
    expect(redisOptions({ url: 'redis://:p%40ss@10.0.0.5:6380/2' })).toEqual({ host: '10.0.0.5', port: 6380, db: 2, password: 'p@ss' });
    expect(redisOptions({ url: 'rediss://u:pw@redis.lab' })).toMatchObject({ host: 'redis.lab', port: 6379, username: 'u', tls: { servername: 'redis.lab' } });
    expect(() => redisOptions({ url: 'http://:secret@h' })).toThrow(/expected a redis:\/\/ or rediss:\/\/ URL/);
    expect(() => redisOptions({ url: 'http://:secret@h' })).not.toThrow(/secret/);
  });

  it('names batch outputs as sab segment folder/ does, with an optional format', () => {
    expect(outputNameFor('/d/knee.nii.gz', '/o')).toBe('/o/knee_bone.nii.gz');
    expect(outputNameFor('/d/knee.nhdr', '/o')).toBe('/o/knee_bone.nrrd');
    expect(outputNameFor('/d/series_12/', '/o')).toBe('/o/series_12_bone.dcm');
    expect(outputNameFor('/d/knee.nii.gz', '/o', 'nrrd')).toBe('/o/knee_bone.nrrd');
    expect(probabilitiesNameFor('/o/knee_bone.nii.gz')).toBe('/o/knee_bone_probabilities.nii.gz');
    expect(probabilitiesNameFor('/o/s_bone.dcm')).toBe('/o/s_bone_probabilities.nii.gz');
    expect(expandInputs(['https://pacs.example/studies/1/series/2'])).toEqual({ batch: false, inputs: ['https://pacs.example/studies/1/series/2'] });
  });
});
