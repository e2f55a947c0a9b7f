import type { VoxelDType } from '../../volume/types.js';

/**
 * NRRD header text parsed into fields (keys lower-cased, as the format is case-insensitive in practice) and
 * `key:=value` pairs. Hand-written: the only npm NRRD package (nrrd-js 0.2.1) is unmaintained, has no types and
 * does not cover gzip writing, detached headers and space conversion.
 */
export interface NrrdHeader {
  magic: string;
  fields: Record<string, string>;
  keyValues: Record<string, string>;
  /** Byte length of the header including the blank separator line (start of attached data). */
  headerLength: number;
}

export class NrrdParseError extends Error {
  override name = 'NrrdParseError';
}

export function parseNrrdHeader(bytes: Uint8Array): NrrdHeader {
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, Math.min(bytes.length, 1 << 20)));
  if (!/^NRRD000[1-5]\r?\n/.test(head)) throw new NrrdParseError('not a NRRD file (missing NRRD000X magic line)');
  const fields: Record<string, string> = {};
  const keyValues: Record<string, string> = {};
  let pos = 0;
  let magic = '';
  let first = true;
  let ended = false;
  while (pos < head.length) {
    const nl = head.indexOf('\n', pos);
    const lineEnd = nl < 0 ? head.length : nl;
    const line = head.slice(pos, lineEnd).replace(/\r$/, '');
    pos = nl < 0 ? head.length : nl + 1;
    if (first) {
      magic = line;
      first = false;
      continue;
    }
    if (line === '') {
      ended = true;
      break;
    }
    if (line.startsWith('#')) continue;
    const kv = line.indexOf(':=');
    const colon = line.indexOf(': ');
    if (kv >= 0 && (colon < 0 || kv < colon)) {
      keyValues[line.slice(0, kv)] = line.slice(kv + 2);
    } else if (colon >= 0) {
      fields[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 2).trim();
    } else {
      throw new NrrdParseError(`malformed header line ${JSON.stringify(line.slice(0, 80))}`);
    }
  }
  if (!ended && pos < bytes.length) throw new NrrdParseError('header has no blank line before the data');
  return { magic, fields, keyValues, headerLength: pos };
}

const TYPE_ALIASES: [VoxelDType, string[]][] = [
  ['int8', ['signed char', 'int8', 'int8_t']],
  ['uint8', ['uchar', 'unsigned char', 'uint8', 'uint8_t']],
  ['int16', ['short', 'short int', 'signed short', 'signed short int', 'int16', 'int16_t']],
  ['uint16', ['ushort', 'unsigned short', 'unsigned short int', 'uint16', 'uint16_t']],
  ['int32', ['int', 'signed int', 'int32', 'int32_t']],
  ['uint32', ['uint', 'unsigned int', 'uint32', 'uint32_t']],
  ['float32', ['float']],
  ['float64', ['double']],
];
const TYPE_OF = new Map<string, VoxelDType>(TYPE_ALIASES.flatMap(([t, names]) => names.map((n) => [n, t] as [string, VoxelDType])));

export function nrrdType(name: string): VoxelDType | undefined {
  return TYPE_OF.get(name.trim().toLowerCase());
}

export const NRRD_TYPE_NAME: Record<VoxelDType, string> = {
  int8: 'int8', uint8: 'uint8', int16: 'int16', uint16: 'uint16', int32: 'int32', uint32: 'uint32', float32: 'float', float64: 'double',
};

/** Parse "(1,0,0) (0,1,0) none" into vectors (null for "none"). */
export function parseVectors(text: string): (number[] | null)[] {
  const out: (number[] | null)[] = [];
  const re = /\(([^)]*)\)|none/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    if (m[0] === 'none') out.push(null);
    else out.push(m[1]!.split(',').map((s) => Number(s.trim())));
  }
  return out;
}

export function formatVector(v: readonly number[]): string {
  return `(${v.map((x) => formatNumber(x)).join(',')})`;
}

/** Shortest text that reads back as the same float64. */
export function formatNumber(x: number): string {
  return Object.is(x, -0) ? '0' : String(x);
}

/**
 * Sign flips that take a NRRD `space` to RAS (x, y, z multipliers). Spaces without anatomical meaning
 * (scanner-xyz, 3D-right-handed) are taken as RAS; null when the space is not 3D.
 */
export function spaceToRasFlips(space: string): [number, number, number] | null {
  const s = space.trim().toLowerCase();
  const table: Record<string, [number, number, number]> = {
    'right-anterior-superior': [1, 1, 1], ras: [1, 1, 1],
    'left-anterior-superior': [-1, 1, 1], las: [-1, 1, 1],
    'left-posterior-superior': [-1, -1, 1], lps: [-1, -1, 1],
    'scanner-xyz': [1, 1, 1], '3d-right-handed': [1, 1, 1],
    '3d-left-handed': [-1, 1, 1],
  };
  return table[s] ?? null;
}
