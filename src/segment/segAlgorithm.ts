import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { SegAlgorithm } from '../io/dicom/seg.js';
import { locateWeights } from '../weights/locate.js';
import { weightsFileSha256 } from '../weights/sha256.js';

function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** The DICOM-SEG algorithm identification: name, sab's version, and the sha256 of the weights that made the mask. */
export function segAlgorithm(weightsDir: string | undefined, attention: boolean): SegAlgorithm {
  const w = locateWeights(weightsDir);
  const files = [w.boneSam, ...(attention && w.atten ? [w.atten] : [])];
  const hashes = files.map((f) => `${path.basename(f)} sha256=${weightsFileSha256(f)}`);
  return { name: 'SegmentAnyBone', version: packageVersion(), parameters: `${hashes.join('; ')}; depth attention ${attention ? 'on' : 'off'}` };
}
