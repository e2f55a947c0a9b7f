import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { dicomwebSeriesIdentity } from '../io/input.js';
import { isUrlInput } from '../segment/inputs.js';
import { QueueError } from './errors.js';

export async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Every regular file under `dir`, as sorted paths relative to it. */
function filesUnder(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const st = statSync(path.join(dir, r));
    if (st.isDirectory()) out.push(...filesUnder(dir, r));
    else if (st.isFile()) out.push(r);
  }
  return out;
}

/** The detached data file a .nhdr names, when it is one file inside the header's folder (the only kind the reader accepts by default). */
function nhdrDataFile(header: string): string | undefined {
  const m = /^data ?file:\s*(.+?)\s*$/im.exec(readFileSync(header, 'latin1'));
  if (!m || /^LIST\b/.test(m[1]!) || /%/.test(m[1]!)) return undefined;
  const dir = path.dirname(path.resolve(header));
  const file = path.resolve(dir, m[1]!);
  return file.startsWith(dir + path.sep) ? file : undefined;
}

/**
 * The sha256 of what an input holds: a file's bytes (a .nhdr with its data file), for a DICOM folder each
 * file's relative name and sha256, for a DICOMweb series URL its instance list (credentials from the URL or
 * SAB_DICOMWEB_*). Read as a stream, so a large volume is never held whole.
 */
export async function inputSha256(input: string): Promise<string> {
  if (isUrlInput(input)) return dicomwebSeriesIdentity(input);
  let st;
  try {
    st = statSync(input);
  } catch {
    throw new QueueError(`${input}: no such file or directory`);
  }
  try {
    if (st.isDirectory()) {
      const h = createHash('sha256');
      for (const rel of filesUnder(input)) h.update(`${rel}\0${await fileSha256(path.join(input, rel))}\n`);
      return h.digest('hex');
    }
    const own = await fileSha256(input);
    const data = input.toLowerCase().endsWith('.nhdr') ? nhdrDataFile(input) : undefined;
    if (!data) return own;
    let dataHash = 'missing';
    try {
      dataHash = await fileSha256(data);
    } catch {
      // The reader reports a missing data file with its own error when the job runs.
    }
    return createHash('sha256').update(`${own}\0${dataHash}`).digest('hex');
  } catch (e) {
    if (e instanceof QueueError) throw e;
    throw new QueueError(`${input}: cannot read (${(e as Error).message})`);
  }
}
