import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { SegAlgorithm } from '../io/dicom/seg.js';
import { authFromEnv } from '../io/dicomweb/auth.js';
import { DicomwebClient } from '../io/dicomweb/client.js';
import { locateWeights } from '../weights/locate.js';
import { fileSha256 } from '../weights/sha256.js';

function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** The DICOM-SEG algorithm identification: name, sab's version, and the sha256 of the weights that made the mask. */
export function segAlgorithm(weightsDir: string | undefined, attention: boolean): SegAlgorithm {
  const w = locateWeights(weightsDir);
  const files = [w.boneSam, ...(attention && w.atten ? [w.atten] : [])];
  const hashes = files.map((f) => `${path.basename(f)} sha256=${fileSha256(f)}`);
  return { name: 'SegmentAnyBone', version: packageVersion(), parameters: `${hashes.join('; ')}; depth attention ${attention ? 'on' : 'off'}` };
}

/** A client for --push, checked before any work (unreachable server or wrong password fail in seconds, not after segmenting). */
export async function pushTarget(base: string, ca?: string): Promise<DicomwebClient> {
  const client = new DicomwebClient(base, { auth: authFromEnv(base), ...(ca ? { ca } : {}) });
  await client.searchStudies({ limit: '1' });
  return client;
}

/** STOW-RS of the written DICOM-SEG file (the very bytes on disk, so the stored object equals the output). */
export async function pushSeg(client: DicomwebClient, segFile: string): Promise<string> {
  const bytes = new Uint8Array(readFileSync(segFile));
  try {
    await client.store([bytes]);
  } catch (e) {
    throw new Error(`${segFile} was written but not stored: ${(e as Error).message}`);
  }
  return client.shownUrl;
}
