import path from 'node:path';
import { openInput, type OpenedInput } from '../io/input.js';
import { isDicomwebUrl } from '../io/dicomweb/series-url.js';
import { progressBar } from './progress.js';

/** openInput with a progress bar on stderr while a DICOMweb series is retrieved. */
export async function openInputWithProgress(spec: string, opts: { quiet?: boolean; ca?: string }): Promise<OpenedInput> {
  const bar = progressBar(isDicomwebUrl(spec) ? 'retrieving' : path.basename(spec), Boolean(opts.quiet), 'instances');
  try {
    return await openInput(spec, { onProgress: (d, t) => bar.update(d, t), ...(opts.ca ? { ca: opts.ca } : {}) });
  } finally {
    bar.stop();
  }
}
