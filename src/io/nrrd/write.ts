import { basename, dirname, join } from 'node:path';
import { HOST_LITTLE_ENDIAN } from '../../volume/dtype.js';
import type { Volume } from '../../volume/types.js';
import { writeFileAtomic } from '../atomic.js';
import { gzip } from '../gzip-node.js';
import { formatVector, NRRD_TYPE_NAME, spaceToRasFlips } from './header.js';
import type { NrrdSourceHeader } from './read.js';

export interface NrrdWriteOptions {
  /** Default: the NRRD source's encoding when it was raw, else gzip. */
  encoding?: 'raw' | 'gzip';
  /** Space to write directions/origin in; default: the source's (when RAS or LPS), else left-posterior-superior (Slicer/ITK). */
  space?: 'left-posterior-superior' | 'right-anterior-superior';
  level?: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
  inputs?: readonly string[];
}

function defaultSpace(vol: Volume): 'left-posterior-superior' | 'right-anterior-superior' {
  if (vol.source?.format === 'nrrd') {
    const s = (vol.source.header as NrrdSourceHeader).space?.toLowerCase();
    if (s === 'right-anterior-superior' || s === 'ras') return 'right-anterior-superior';
  }
  return 'left-posterior-superior';
}

/** Header text (ending in the blank line) for `vol`, with data stored as described by the options. */
export function nrrdHeaderText(vol: Volume, encoding: 'raw' | 'gzip', space: string, dataFile?: string): string {
  const flips = spaceToRasFlips(space)!;
  const dirs = [0, 1, 2].map((c) => [0, 1, 2].map((r) => vol.affine[r * 4 + c]! * flips[r]!));
  const origin = [0, 1, 2].map((r) => vol.affine[r * 4 + 3]! * flips[r]!);
  const lines = [
    'NRRD0004',
    '# Complete NRRD file format specification at:',
    '# http://teem.sourceforge.net/nrrd/format.html',
    `type: ${NRRD_TYPE_NAME[vol.dtype]}`,
    'dimension: 3',
    `space: ${space}`,
    `sizes: ${vol.dims.join(' ')}`,
    `space directions: ${dirs.map(formatVector).join(' ')}`,
    'kinds: domain domain domain',
  ];
  if (vol.data.BYTES_PER_ELEMENT > 1) lines.push(`endian: ${HOST_LITTLE_ENDIAN ? 'little' : 'big'}`);
  lines.push(`encoding: ${encoding}`, `space origin: ${formatVector(origin)}`);
  if (dataFile) lines.push(`data file: ${dataFile}`);
  return lines.join('\n') + '\n' + (dataFile ? '' : '\n');
}

function encodeBody(vol: Volume, encoding: 'raw' | 'gzip', level: NrrdWriteOptions['level']): Uint8Array {
  const body = new Uint8Array(vol.data.buffer, vol.data.byteOffset, vol.data.byteLength);
  return encoding === 'gzip' ? gzip(body, level ?? 1) : body;
}

function chooseEncoding(vol: Volume, opts: NrrdWriteOptions): 'raw' | 'gzip' {
  if (opts.encoding) return opts.encoding;
  const src = vol.source?.format === 'nrrd' ? (vol.source.header as NrrdSourceHeader) : undefined;
  return src?.encoding === 'raw' ? 'raw' : 'gzip';
}

/** Write an attached-data .nrrd, or a detached .nhdr plus a data file next to it. */
export function writeNrrd(path: string, vol: Volume, opts: NrrdWriteOptions = {}): void {
  const encoding = chooseEncoding(vol, opts);
  const space = opts.space ?? defaultSpace(vol);
  const inputs = opts.inputs ?? (vol.source?.path ? [vol.source.path] : []);
  const body = encodeBody(vol, encoding, opts.level);
  if (path.toLowerCase().endsWith('.nhdr')) {
    const dataName = basename(path).replace(/\.nhdr$/i, encoding === 'gzip' ? '.raw.gz' : '.raw');
    writeFileAtomic(join(dirname(path), dataName), body, inputs);
    writeFileAtomic(path, new TextEncoder().encode(nrrdHeaderText(vol, encoding, space, dataName)), inputs);
    return;
  }
  writeFileAtomic(path, [new TextEncoder().encode(nrrdHeaderText(vol, encoding, space)), body], inputs);
}
