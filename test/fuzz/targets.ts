import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { gzipSync, zipSync } from 'fflate';
import { CheckpointError } from '../../src/checkpoint/errors.js';
import { readCheckpoint } from '../../src/checkpoint/read-checkpoint.js';
import { writeSafetensors } from '../../src/checkpoint/safetensors.js';
import { parseDicomSlice } from '../../src/io/dicom/parse.js';
import { readDicomSeries } from '../../src/io/dicom/series.js';
import { writeDicomSeries } from '../../src/io/dicom/write-series.js';
import type { DicomFileBytes } from '../../src/io/dicom/files.js';
import { VolumeIOError } from '../../src/io/errors.js';
import { decodeNifti } from '../../src/io/nifti/read.js';
import { encodeNifti } from '../../src/io/nifti/write.js';
import { decodeNrrd } from '../../src/io/nrrd/read.js';
import { mat4 } from '../../src/volume/affine.js';
import { createVolume } from '../../src/volume/volume.js';
import { bytesOf, PickleWriter, stateDictPickle, torchZip, type ViewSpec } from '../checkpoint/pickle-builder.js';
import { SMALL_VOXELS, SMALL_VOXELS_BZ2 } from '../io/helpers.js';
import { applyMutations, mutationArb } from './mutations.js';

/**
 * Every parser the project has, each with small valid files to damage and the error type it may throw. A parser
 * given damaged bytes must return a value or throw that error with the file's name: never another exception.
 */
export interface FuzzTarget {
  name: string;
  /** Damaged inputs (fast-check shrinks them to a minimal list of edits). */
  input: fc.Arbitrary<Uint8Array>;
  /** The name passed to the parser, which its errors must contain. */
  fileName: string;
  run(bytes: Uint8Array): unknown;
  /** Whether `e` is the parser's own typed error. */
  isTyped(e: unknown): boolean;
}

const cat = (parts: readonly Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((o, p) => (out.set(p, o), o + p.length), 0);
  return out;
};
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Seeds damaged by 1-4 edits; `wrap` packs the damaged bytes afterwards (e.g. gzip, so the damage is inside). */
function damaged(seeds: readonly Uint8Array[], hotOffsets: readonly number[], wrap?: (b: Uint8Array) => Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.integer({ min: 0, max: seeds.length - 1 }), fc.array(mutationArb(hotOffsets), { minLength: 1, maxLength: 4 }))
    .map(([i, edits]) => {
      const b = applyMutations(seeds[i]!, edits);
      return wrap ? wrap(b) : b;
    });
}

const isVolumeError = (e: unknown): boolean => e instanceof VolumeIOError;
const isCheckpointError = (e: unknown): boolean => e instanceof CheckpointError;

// ---------- NIfTI ----------
const OBLIQUE = mat4([[0.9, -0.3, 0.1, -12.5], [0.28, 0.95, -0.05, 40.25], [-0.12, 0.02, 2.9, -7]]);
const niftiSeeds = [
  cat(encodeNifti(createVolume(Int16Array.from({ length: 24 }, (_, i) => i * 37 - 400), [4, 3, 2], OBLIQUE), { version: 1 })),
  cat(encodeNifti(createVolume(Float32Array.from({ length: 30 }, (_, i) => i / 3), [2, 5, 3], OBLIQUE), { version: 1, endian: 'big' })),
  cat(encodeNifti(createVolume(Uint8Array.from({ length: 24 }, (_, i) => i), [2, 3, 4], mat4([[2, 0, 0, 1], [0, 2, 0, 2], [0, 0, 3.3, 3]])), { version: 2 })),
  cat(encodeNifti(createVolume(Uint16Array.from({ length: 12 }, (_, i) => i * 999), [3, 2, 2], OBLIQUE), { version: 2, endian: 'big' })),
];
/** dim, datatype, bitpix, pixdim, vox_offset, scl, qform/sform codes, quatern, srow (NIfTI-1), and NIfTI-2's. */
const NIFTI_HOT = [0, 40, 42, 44, 46, 48, 70, 72, 76, 80, 84, 88, 108, 112, 116, 252, 254, 256, 268, 280, 284, 296, 312, 344,
  12, 14, 16, 24, 32, 40, 104, 112, 120, 128, 168, 176, 344, 348, 352, 376, 400, 408, 432, 464];

// ---------- NRRD ----------
const I16 = bytesOf(Int16Array.from({ length: 24 }, (_, i) => i * 91 - 1000));
const nrrdHead = (fields: string): Uint8Array => enc(`NRRD0004\n${fields}\n\n`);
const GEOM = 'space: left-posterior-superior\nspace directions: (0.9,0.1,0) (-0.2,1.8,0.05) (0,0,3.3)\nspace origin: (10,-20,30)';
const SMALL = 'type: uint8\ndimension: 3\nsizes: 6 5 4\nspacings: 1 2 3.3';
const nrrdSeeds = [
  cat([nrrdHead(`type: short\ndimension: 3\nsizes: 4 3 2\n${GEOM}\nendian: little\nencoding: raw`), I16]),
  cat([nrrdHead(`type: short\ndimension: 3\nsizes: 4 3 2\n${GEOM}\nendian: big\nencoding: gzip\nbyte skip: 2`), gzipSync(cat([enc('xx'), I16]))]),
  cat([nrrdHead(`${SMALL}\nencoding: bzip2\nline skip: 1`), enc('comment\n'), SMALL_VOXELS_BZ2]),
  cat([nrrdHead(`type: short\ndimension: 4\nsizes: 2 3 2 2\nspace: RAS\nspace directions: none (1,0,0) (0,1,0) (0,0,1)\nkinds: vector domain domain domain\nendian: little\nencoding: raw\nbyte skip: -1`), enc('pad'), I16]),
  cat([nrrdHead('type: float\ndimension: 3\nsizes: 2 2 2\nencoding: ascii'), enc('1 2.5 -3 4e2 5 6 7 8\n')]),
];
/** Header lines built from a pool of valid and invalid values, over one of the seed bodies. */
const FIELD_POOL: Record<string, string[]> = {
  type: ['uint8', 'short', 'float', 'double', 'int', 'complex', ''],
  dimension: ['1', '2', '3', '4', '5', '0', '-1', 'x'],
  sizes: ['4 3 2', '6 5 4', '2 3 2 2', '0 1 1', '99999 99999 99999', '4294967296 1 1', '1e9 1e9 1e9', '2 2', 'a b c'],
  encoding: ['raw', 'gzip', 'gz', 'bzip2', 'bz2', 'ascii', 'text', 'hex', 'zstd'],
  endian: ['little', 'big', 'middle'],
  'byte skip': ['0', '-1', '-5', '2', '3', '1e9', '2.5', 'x'],
  'line skip': ['0', '1', '3', '-1', '100000', 'x'],
  space: ['left-posterior-superior', 'RAS', 'scanner-xyz', '2D', 'bogus'],
  'space directions': ['(1,0,0) (0,1,0) (0,0,1)', '(0,0,0) (0,1,0) (0,0,1)', '(nan,0,0) (0,1,0) (0,0,1)', '(1e-30,0,0) (0,1,0) (0,0,1)',
    'none (1,0,0) (0,1,0) (0,0,1)', '(1,0) (0,1)', '(1,0,0) (1,0,0) (0,0,1)', '(1,0,0'],
  'space origin': ['(0,0,0)', '(nan,1,2)', '(1,2)', 'x'],
  spacings: ['1 1 1', '0 1 1', 'nan nan nan', '-2 1 1e30', '1'],
  'data file': ['LIST', 'd%03d.raw 1 2 1', '/etc/passwd', '../x.raw'],
};
const nrrdStructured = fc
  .tuple(
    fc.dictionary(fc.constantFrom(...Object.keys(FIELD_POOL)), fc.nat(), { maxKeys: 8 }),
    fc.integer({ min: 0, max: nrrdSeeds.length - 1 }),
  )
  .map(([picks, seed]) => {
    const base = nrrdSeeds[seed]!;
    const text = new TextDecoder('latin1').decode(base);
    const end = text.indexOf('\n\n') + 2;
    const lines = text.slice(0, end).trim().split('\n');
    const fields = new Map(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')), l] as [string, string]));
    for (const [k, i] of Object.entries(picks)) fields.set(k, `${k}: ${FIELD_POOL[k]![i % FIELD_POOL[k]!.length]}`);
    return cat([enc(`${lines[0]}\n${[...fields.values()].join('\n')}\n\n`), base.subarray(end)]);
  });

// Detached data: files in a private folder, read through headers that point at them.
const detachedDir = mkdtempSync(join(tmpdir(), 'sab-fuzz-nrrd-'));
process.once('exit', () => rmSync(detachedDir, { recursive: true, force: true }));
writeFileSync(join(detachedDir, 'd.raw'), I16);
writeFileSync(join(detachedDir, 'd.raw.gz'), gzipSync(I16));
writeFileSync(join(detachedDir, 'd.raw.bz2'), SMALL_VOXELS_BZ2);
writeFileSync(join(detachedDir, 'x.raw'), I16); // reachable only through the fuzzer's "../x.raw" if containment failed
const detachedSeeds = [
  nrrdHead(`type: short\ndimension: 3\nsizes: 4 3 2\n${GEOM}\nendian: little\nencoding: raw\ndata file: d.raw`),
  nrrdHead(`type: short\ndimension: 3\nsizes: 4 3 2\n${GEOM}\nendian: little\nencoding: gzip\ndata file: ./d.raw.gz`),
  nrrdHead(`${SMALL}\nencoding: bz2\ndatafile: d.raw.bz2`),
];
const DETACHED_HEADER = join(detachedDir, 'h.nhdr');

/** The detached data file damaged, read through a fixed header. */
const detachedDataArb = fc
  .tuple(fc.integer({ min: 0, max: 2 }), fc.array(mutationArb([0, 1, 2, 3, 4, 10, 20]), { minLength: 1, maxLength: 4 }))
  .map(([i, edits]) => {
    const names = ['d.raw', 'd.raw.gz', 'd.raw.bz2'];
    const data = applyMutations(readFileSync(join(detachedDir, names[i]!)), edits);
    return cat([enc(`${i}\n`), data]);
  });

// ---------- DICOM ----------
const dicomDir = mkdtempSync(join(tmpdir(), 'sab-fuzz-dicom-'));
process.once('exit', () => rmSync(dicomDir, { recursive: true, force: true }));
writeDicomSeries(join(dicomDir, 's'), createVolume(Int16Array.from({ length: 36 }, (_, i) => i * 11 - 50), [4, 3, 3], OBLIQUE), {
  studyInstanceUid: '2.25.1', seriesInstanceUid: '2.25.2', frameOfReferenceUid: '2.25.3',
});
const dicomFiles: DicomFileBytes[] = readdirSync(join(dicomDir, 's')).sort().map((f) => ({ name: `series/${f}`, bytes: readFileSync(join(dicomDir, 's', f)) }));
/** Preamble/magic, meta group, and the offsets of the image attributes in the first file (found by tag). */
const DICOM_HOT = (() => {
  const b = dicomFiles[0]!.bytes;
  const out = [128, 132, 140, 144];
  for (let p = 132; p + 4 <= b.length; p += 2) {
    const group = b[p]! | (b[p + 1]! << 8);
    if (group === 0x0028 || group === 0x0020 || group === 0x7fe0 || group === 0x0002) out.push(p, p + 4, p + 6, p + 8);
  }
  return out.slice(0, 400);
})();
const dicomSeriesArb = fc
  .tuple(fc.integer({ min: 0, max: dicomFiles.length - 1 }), fc.array(mutationArb(DICOM_HOT), { minLength: 1, maxLength: 4 }))
  .map(([k, edits]) => cat([Uint8Array.of(k), applyMutations(dicomFiles[k]!.bytes, edits)]));

// ---------- checkpoints ----------
const storage = bytesOf(Float32Array.from({ length: 24 }, (_, i) => i / 7));
const halves = bytesOf(Uint16Array.from({ length: 6 }, (_, i) => 0x3c00 + i));
const views: ViewSpec[] = [
  { key: 'a.weight', storageKey: '0', storageType: 'FloatStorage', storageNumel: 24, offset: 0, shape: [4, 6], stride: [6, 1] },
  { key: 'a.t', storageKey: '0', storageType: 'FloatStorage', storageNumel: 24, offset: 2, shape: [3, 2], stride: [1, 6] },
  { key: 'b.half', storageKey: '1', storageType: 'HalfStorage', storageNumel: 6, offset: 0, shape: [6], stride: [1] },
];
const pickle = stateDictPickle(views);
const storages = { '0': storage, '1': halves };
const deflatedZip = (pkl: Uint8Array): Uint8Array => zipSync({ 'archive/data.pkl': pkl, 'archive/data/0': storage, 'archive/data/1': halves, 'archive/version': enc('3\n') }, { level: 6 });
const legacy = (() => {
  const parts = [
    new PickleWriter().proto().long(0x1950a86a20f9469cfc6cn).stop().bytes(),
    new PickleWriter().proto().int(1001).stop().bytes(),
    new PickleWriter().proto().emptyDict().str('little_endian').newTrue().setitem().stop().bytes(),
    stateDictPickle(views, true),
    new PickleWriter().proto().emptyList().mark().str('0').str('1').appends().stop().bytes(),
  ];
  for (const s of [storage, halves]) {
    const n = new Uint8Array(8);
    new DataView(n.buffer).setBigInt64(0, BigInt(s.length / (s === storage ? 4 : 2)), true);
    parts.push(n, s);
  }
  return cat(parts);
})();
const safetensors = writeSafetensors(new Map([
  ['a.weight', { dtype: 'float32', shape: [4, 6], data: new Float32Array(24).map((_, i) => i) }],
  ['b', { dtype: 'int64', shape: [2], data: BigInt64Array.of(1n, -2n) }],
]) as never, { format: 'pt' });

/** The safetensors JSON header alone, and a function that puts a (damaged) header back in front of the data. */
const stHeaderLength = Number(new DataView(safetensors.buffer, safetensors.byteOffset).getBigUint64(0, true));
const stHeader = safetensors.subarray(8, 8 + stHeaderLength);
const withStHeader = (h: Uint8Array): Uint8Array => {
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(h.length), true);
  return cat([len, h, safetensors.subarray(8 + stHeaderLength)]);
};

/** Header entries with values drawn from valid and invalid pools (the byte-level damage mostly breaks the JSON). */
const ST_VALUES: unknown[] = ['F32', 'F16', 'BF16', 'I64', 'U8', 'BOOL', 'C64', '', 7, null, [4, 6], [24], [], [2, 3, 4], [-1], [2 ** 53], [1e9, 1e9],
  ['4'], [0, 96], [0, 16], [96, 112], [5, 3], [0, 2 ** 60], [-8, 0], { a: 1 }, 1.5];
const stStructured = fc
  .array(fc.tuple(fc.constantFrom('a.weight', 'b', '__metadata__', '__proto__', 'c'), fc.constantFrom('dtype', 'shape', 'data_offsets', 'x'), fc.nat()), { minLength: 1, maxLength: 5 })
  .map((edits) => {
    const h = JSON.parse(new TextDecoder().decode(stHeader)) as Record<string, Record<string, unknown>>;
    for (const [name, key, i] of edits) {
      const entry = (Object.prototype.hasOwnProperty.call(h, name) ? h[name] : (h[name] = {})) as Record<string, unknown>;
      entry[key] = ST_VALUES[i % ST_VALUES.length];
    }
    return withStHeader(enc(JSON.stringify(h)));
  });

export const TARGETS: FuzzTarget[] = [
  { name: 'NIfTI-1/2 (.nii)', input: damaged(niftiSeeds, NIFTI_HOT), fileName: 'scan.nii', run: (b) => decodeNifti(b, 'scan.nii'), isTyped: isVolumeError },
  { name: 'NIfTI-1/2 (.nii.gz, damaged inside)', input: damaged(niftiSeeds, NIFTI_HOT, (b) => gzipSync(b)), fileName: 'scan.nii.gz', run: (b) => decodeNifti(b, 'scan.nii.gz'), isTyped: isVolumeError },
  { name: 'NIfTI-1/2 (.nii.gz, damaged stream)', input: damaged(niftiSeeds.map((b) => gzipSync(b)), [0, 2, 3, 8, 9, 10, 20, 40]), fileName: 'scan.nii.gz', run: (b) => decodeNifti(b, 'scan.nii.gz'), isTyped: isVolumeError },
  { name: 'NRRD attached (bytes)', input: damaged(nrrdSeeds, []), fileName: 'scan.nrrd', run: (b) => decodeNrrd(b, 'scan.nrrd'), isTyped: isVolumeError },
  { name: 'NRRD attached (header fields)', input: nrrdStructured, fileName: 'scan.nrrd', run: (b) => decodeNrrd(b, 'scan.nrrd'), isTyped: isVolumeError },
  {
    name: 'NRRD detached (header)',
    input: fc.oneof(damaged(detachedSeeds, []), nrrdStructured.map((b) => cat([detachedSeeds[0]!.subarray(0, detachedSeeds[0]!.length - 1), b.subarray(9)]))),
    fileName: DETACHED_HEADER,
    run: (b) => decodeNrrd(b, DETACHED_HEADER),
    isTyped: isVolumeError,
  },
  {
    name: 'NRRD detached (data file)',
    input: detachedDataArb,
    fileName: DETACHED_HEADER,
    run: (b) => {
      const i = b[0]! - 48;
      const dataName = ['f.raw', 'f.raw.gz', 'f.raw.bz2'][i]!;
      writeFileSync(join(detachedDir, dataName), b.subarray(2));
      const head = new TextDecoder().decode(detachedSeeds[i]!).replace(/d\.raw(\.gz|\.bz2)?/, dataName);
      return decodeNrrd(enc(head), DETACHED_HEADER);
    },
    isTyped: isVolumeError,
  },
  {
    name: 'DICOM file (parse)',
    input: damaged(dicomFiles.map((f) => f.bytes), DICOM_HOT),
    fileName: 'series/x.dcm',
    run: (b) => parseDicomSlice('series/x.dcm', b),
    isTyped: () => false, // parseDicomSlice returns undefined for what is not DICOM; it never throws
  },
  {
    name: 'DICOM series assembly',
    input: dicomSeriesArb,
    fileName: 'series',
    run: (b) => readDicomSeries('series', {}, dicomFiles.map((f, k) => (k === b[0] ? { name: f.name, bytes: b.subarray(1) } : f))),
    isTyped: isVolumeError,
  },
  { name: 'torch zip', input: damaged([torchZip(pickle, storages), deflatedZip(pickle)], []), fileName: 'model.pth', run: (b) => readCheckpoint(b, 'model.pth'), isTyped: isCheckpointError },
  {
    name: 'torch zip (pickle damaged inside)',
    input: damaged([pickle], [0, 1, 2, 3, 40, 80]).chain((p) => fc.boolean().map((deflate) => (deflate ? deflatedZip(p) : torchZip(p, storages)))),
    fileName: 'model.pth',
    run: (b) => readCheckpoint(b, 'model.pth'),
    isTyped: isCheckpointError,
  },
  { name: 'legacy torch', input: damaged([legacy], []), fileName: 'old.pth', run: (b) => readCheckpoint(b, 'old.pth'), isTyped: isCheckpointError },
  { name: 'safetensors (JSON header damaged)', input: damaged([stHeader], []).map(withStHeader), fileName: 'w.safetensors', run: (b) => readCheckpoint(b, 'w.safetensors'), isTyped: isCheckpointError },
  { name: 'safetensors (header fields)', input: stStructured, fileName: 'w.safetensors', run: (b) => readCheckpoint(b, 'w.safetensors'), isTyped: isCheckpointError },
  { name: 'safetensors', input: damaged([safetensors], [0, 1, 4, 8, 9, 12, 20, 30, 40, 50, 60, 70, 80]), fileName: 'w.safetensors', run: (b) => readCheckpoint(b, 'w.safetensors'), isTyped: isCheckpointError },
];
