import { createRequire } from 'node:module';
import type dcmjsModule from 'dcmjs';

let loaded: typeof dcmjsModule | undefined;

/**
 * dcmjs, loaded on first use (its CommonJS build, so the synchronous writers stay synchronous): evaluating
 * its dictionaries costs ~140 ms of CPU, which every `sab segment` of a NIfTI or NRRD volume paid at start-up
 * because io/dispatch.ts imports the DICOM-SEG writer. Node-only, like its two users (seg.ts, write-series.ts).
 */
export function dcmjs(): typeof dcmjsModule {
  return (loaded ??= createRequire(import.meta.url)('dcmjs') as typeof dcmjsModule);
}
