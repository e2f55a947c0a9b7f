// `npm run bench dicom`: decode throughput per transfer syntax (sab vs dcmtk/GDCM's own decoders on the same
// files, same run) and WADO-RS retrieval of the 74-slice wrist series from a real Orthanc.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeWithDcmjsCodecs, type DcmjsStream } from '../io/dicom/codecs/dcmjs-native.js';
import { loadDicomFiles } from '../io/dicom/files.js';
import { encodedFrame, frameInfo, framePixels } from '../io/dicom/frames.js';
import { parseDicomSlice } from '../io/dicom/parse.js';
import { writeDicomSeries } from '../io/dicom/write-series.js';
import { authFromEnv } from '../io/dicomweb/auth.js';
import { DicomwebClient } from '../io/dicomweb/client.js';
import { retrieveSeries } from '../io/dicomweb/retrieve.js';
import { readDicomSeries } from '../io/dicom/series.js';
import { readVolume } from '../io/dispatch.js';
import { createVolume } from '../volume/volume.js';
import { haveOrthanc, PASSWORD, startOrthanc, USER } from './_orthanc.js';

const WRIST = fileURLToPath(new URL('../../../shared/fixtures/mri/wrist_2.nii.gz', import.meta.url));
const MB = 1024 * 1024;
const have = (p: string): boolean => spawnSync('sh', ['-c', `command -v ${p}`], { stdio: 'ignore' }).status === 0;

interface Case {
  name: string;
  eightBit?: boolean;
  encode: [string, string[]];
  /** The toolkit's own decoder to uncompressed (dcmtk unless GDCM made it). */
  reference: [string, string[]];
  /** The syntax's decoder in dcmjs-codecs, timed as the alternative to the cornerstone codec sab uses for it. */
  alternative?: DcmjsStream;
}

const CASES: Case[] = [
  { name: 'JPEG Baseline (8-bit)', eightBit: true, encode: ['dcmcjpeg', ['+eb']], reference: ['dcmdjpeg', []] },
  { name: 'JPEG Extended (12-bit)', encode: ['dcmcjpeg', ['+ee']], reference: ['dcmdjpeg', []] },
  { name: 'JPEG Lossless SV1', encode: ['dcmcjpeg', ['+e1']], reference: ['dcmdjpeg', []] },
  { name: 'JPEG Lossless process 14', encode: ['dcmcjpeg', ['+el']], reference: ['dcmdjpeg', []] },
  { name: 'JPEG-LS lossless', encode: ['dcmcjpls', []], reference: ['dcmdjpls', []], alternative: 'jpeg-ls' },
  { name: 'JPEG-LS near-lossless', encode: ['dcmcjpls', ['+en']], reference: ['dcmdjpls', []], alternative: 'jpeg-ls' },
  { name: 'JPEG 2000 lossless', encode: ['gdcmconv', ['--j2k']], reference: ['gdcmconv', ['--raw']], alternative: 'jpeg2000' },
  { name: 'JPEG 2000 lossy', encode: ['gdcmconv', ['--j2k', '--lossy', '-q', '60']], reference: ['gdcmconv', ['--raw']], alternative: 'jpeg2000' },
  { name: 'RLE Lossless', encode: ['dcmcrle', []], reference: ['dcmdrle', []] },
  { name: 'Deflated Explicit VR LE', encode: ['dcmconv', ['+td']], reference: ['dcmconv', ['+te']] },
];

/** Run `tool` once per file (making the compressed series); returns 74 x the median time per file. */
function eachFile(tool: string, args: string[], inDir: string, outDir: string): number {
  mkdirSync(outDir);
  const times: number[] = [];
  const files = readdirSync(inDir).sort();
  for (const f of files) {
    const t0 = performance.now();
    execFileSync(tool, [...args, join(inDir, f), join(outDir, f)], { stdio: 'pipe' });
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]! * files.length;
}

/** Best of `n` runs of our parse + decode over all files of a folder (bytes already in memory). */
function sabDecodeMs(dir: string, n = 3): number {
  const files = loadDicomFiles(dir);
  let best = Infinity;
  for (let r = 0; r < n; r++) {
    const t0 = performance.now();
    for (const f of files) framePixels(parseDicomSlice(f.name, f.bytes)!);
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** Best of `n` runs of parse + decode with dcmjs-codecs' decoder for the syntax instead of the one sab uses. */
function alternativeDecodeMs(dir: string, stream: DcmjsStream, n = 3): number {
  const files = loadDicomFiles(dir);
  let best = Infinity;
  for (let r = 0; r < n; r++) {
    const t0 = performance.now();
    for (const f of files) {
      const s = parseDicomSlice(f.name, f.bytes)!;
      decodeWithDcmjsCodecs(stream, encodedFrame(s, 0), frameInfo(s));
    }
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/**
 * The reference tool's decoding time for a series: per file, the tool on the compressed file minus the same tool
 * on the uncompressed one (start-up and I/O), run back to back; the median difference x the file count.
 * Robust to load from other processes, which hits single runs hard.
 */
function toolNetMs(tool: string, args: string[], rawDir: string, compDir: string, outDir: string): { gross: number; net: number } {
  mkdirSync(outDir);
  const time = (input: string, out: string): number => {
    const t0 = performance.now();
    execFileSync(tool, [...args, input, out], { stdio: 'pipe' });
    return performance.now() - t0;
  };
  const files = readdirSync(compDir).sort();
  const gross: number[] = [];
  const diffs: number[] = [];
  for (const f of files) {
    const base = time(join(rawDir, f), join(outDir, `base-${f}`));
    const t = time(join(compDir, f), join(outDir, f));
    gross.push(t);
    diffs.push(t - base);
  }
  const median = (x: number[]): number => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)]!;
  return { gross: median(gross) * files.length, net: Math.max(0.1, median(diffs) * files.length) };
}

const row = (cells: (string | number)[]): string => cells.map((c, i) => String(c).padStart(i === 0 ? 0 : 11).padEnd(i === 0 ? 26 : 0)).join(' ');

async function decodeBench(work: string): Promise<void> {
  const tools = [...new Set(CASES.flatMap((c) => [c.encode[0], c.reference[0]]))];
  const missing = tools.filter((t) => !have(t));
  if (missing.length) {
    process.stdout.write(`decode: skipped, missing ${missing.join(', ')} (install with .ci/install.d/dcmtk)\n`);
    return;
  }
  const wrist = readVolume(WRIST);
  const raw16 = join(work, 'raw16');
  const raw8 = join(work, 'raw8');
  writeDicomSeries(raw16, wrist);
  writeDicomSeries(raw8, createVolume(Uint8Array.from(wrist.data, (x) => Math.min(255, x >> 1)), wrist.dims, wrist.affine));
  process.stdout.write(`74-slice wrist series (272x204), decoded bytes per series: 16-bit ${(wrist.data.length * 2 / MB).toFixed(2)} MB, 8-bit ${(wrist.data.length / MB).toFixed(2)} MB\n`);
  process.stdout.write('sab: parse + decode from memory, best of 3. dcmtk/GDCM: one process per file, median x 74 ("tool ms");\n' +
    '"tool net" = median of (tool on the compressed file - same tool on the uncompressed file) x 74, i.e. without start-up and I/O\n');
  process.stdout.write('"alt ms": the same files through dcmjs-codecs\' decoder where sab uses a cornerstone codec (the choice in DESIGN.md)\n');
  process.stdout.write(row(['syntax', 'size MB', 'sab ms', 'sab MB/s', 'tool ms', 'tool net', 'tool MB/s', 'alt ms']) + '\n');
  const uncompressed = sabDecodeMs(raw16);
  process.stdout.write(row(['uncompressed (reference)', '', uncompressed.toFixed(1), ((wrist.data.length * 2) / MB / (uncompressed / 1000)).toFixed(0), '', '', '']) + '\n');
  for (const [i, c] of CASES.entries()) {
    const dir = join(work, `c${i}`);
    eachFile(c.encode[0], c.encode[1], c.eightBit ? raw8 : raw16, dir);
    const size = readdirSync(dir).reduce((n, f) => n + loadDicomFiles(join(dir, f))[0]!.bytes.length, 0) / MB;
    const decodedMB = (wrist.data.length * (c.eightBit ? 1 : 2)) / MB;
    const ours = sabDecodeMs(dir);
    const tool = toolNetMs(c.reference[0], c.reference[1], c.eightBit ? raw8 : raw16, dir, join(work, `r${i}`));
    const alt = c.alternative ? alternativeDecodeMs(dir, c.alternative).toFixed(1) : '';
    process.stdout.write(row([c.name, size.toFixed(2), ours.toFixed(1), (decodedMB / (ours / 1000)).toFixed(0), tool.gross.toFixed(0), tool.net.toFixed(0), (decodedMB / (tool.net / 1000)).toFixed(0), alt]) + '\n');
  }
}

async function wadoBench(work: string): Promise<void> {
  if (!haveOrthanc()) {
    process.stdout.write('WADO-RS: skipped, no Orthanc with the DICOMweb plugin (install with .ci/install.d/orthanc)\n');
    return;
  }
  const dir = join(work, 'wado');
  writeDicomSeries(dir, readVolume(WRIST));
  const orthanc = await startOrthanc();
  try {
    for (const f of readdirSync(dir).sort()) await orthanc.upload(join(dir, f));
    const local = readDicomSeries(dir);
    const h = local.source!.header as { studyInstanceUid: string; series: { seriesInstanceUid: string } };
    const client = new DicomwebClient(orthanc.dicomweb, { auth: authFromEnv(orthanc.dicomweb, { SAB_DICOMWEB_USER: USER, SAB_DICOMWEB_PASSWORD: PASSWORD }) });
    const files = loadDicomFiles(dir);
    const bytes = files.reduce((n, f) => n + f.bytes.length, 0) / MB;
    let t0 = performance.now();
    readDicomSeries(dir);
    const localMs = performance.now() - t0;
    process.stdout.write(`WADO-RS retrieval of the 74-slice series (${bytes.toFixed(1)} MB) from Orthanc on loopback; reference: reading the same series from a local folder ${localMs.toFixed(0)} ms\n`);
    for (const concurrency of [1, 6]) {
      let best = Infinity;
      for (let r = 0; r < 3; r++) {
        t0 = performance.now();
        await retrieveSeries(client, h.studyInstanceUid, h.series.seriesInstanceUid, { concurrency });
        best = Math.min(best, performance.now() - t0);
      }
      process.stdout.write(`  ${concurrency} request${concurrency > 1 ? 's' : ''} at a time: ${best.toFixed(0)} ms (${(bytes / (best / 1000)).toFixed(1)} MB/s), best of 3\n`);
    }
  } finally {
    await orthanc.stop();
  }
}

export async function run(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'sab-bench-dicom-'));
  try {
    await decodeBench(work);
    await wadoBench(work);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
