import { readFileSync } from 'node:fs';
import { authFromEnv } from '../io/dicomweb/auth.js';
import { DicomwebClient } from '../io/dicomweb/client.js';

/** A client for --push, checked before any work (unreachable server or wrong password fail in seconds, not after segmenting). */
export async function pushTarget(base: string, ca?: string): Promise<DicomwebClient> {
  const client = new DicomwebClient(base, { auth: authFromEnv(base), ...(ca ? { ca } : {}) });
  await client.searchStudies({ limit: '1' });
  return client;
}

/** STOW-RS of the written DICOM-SEG file (the very bytes on disk, so the stored object equals the output). */
export async function pushSeg(client: DicomwebClient, segFile: string): Promise<string> {
  const bytes = new Uint8Array(readFileSync(segFile));
  await client.store([bytes]);
  return client.shownUrl;
}
