import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { VolumeIOError } from '../errors.js';

/** One candidate DICOM file: where it came from (for messages) and its bytes. */
export interface DicomFileBytes {
  name: string;
  bytes: Uint8Array;
}

/** Every regular file under `dir` (recursively), sorted by path so results do not depend on readdir order. */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.isFile()) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** Files of a DICOM folder or .zip archive (DICOMDIR index files skipped), or a single DICOM file. */
export function loadDicomFiles(path: string): DicomFileBytes[] {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new VolumeIOError(path, `cannot read (${(e as Error).message})`);
  }
  if (st.isDirectory()) {
    return listFiles(path)
      .filter((p) => !/(^|\/)DICOMDIR$/i.test(p))
      .map((p) => ({ name: p, bytes: readFileSync(p) }));
  }
  const bytes = readFileSync(path);
  // Not a zip (no "PK" signature): a single DICOM file, e.g. an Enhanced multi-frame object.
  if (!(bytes[0] === 0x50 && bytes[1] === 0x4b)) return [{ name: path, bytes }];
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes);
  } catch (e) {
    throw new VolumeIOError(path, `not a readable .zip archive (${(e as Error).message})`);
  }
  return Object.keys(entries)
    .filter((n) => !n.endsWith('/') && !/(^|\/)(DICOMDIR|__MACOSX\/.*|\..*)$/i.test(n))
    .sort()
    .map((n) => ({ name: `${path}:${n}`, bytes: entries[n]! }));
}
