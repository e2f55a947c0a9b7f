import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { loadCheckpoint } from '../checkpoint/load-checkpoint.js';
import { WEIGHT_FILES, WEIGHTS_HOW_TO, WeightsError, userWeightsDir, type WeightFile } from './locate.js';
import { verifyWeights } from './install.js';

export interface DownloadProgress {
  file: WeightFile;
  received: number;
  total: number | undefined;
}

export interface DownloadOptions {
  /** Where the files are served: `${baseUrl}/bone_sam.pth`, `${baseUrl}/atten.pth`. */
  baseUrl: string;
  dir?: string;
  /** Expected sha256 (hex) per file; a mismatch deletes the download and fails. */
  sha256?: Partial<Record<WeightFile, string>>;
  files?: readonly WeightFile[];
  onProgress?: (p: DownloadProgress) => void;
}

/** The mirror to download from: --base-url, else $SAB_WEIGHTS_URL. */
export function weightsBaseUrl(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  const url = explicit ?? env['SAB_WEIGHTS_URL'];
  if (!url) {
    throw new WeightsError(
      'no download location: the official weights are published in a Google Drive folder that cannot be fetched file by file ' +
        'without a browser. Give a mirror with --base-url URL (or $SAB_WEIGHTS_URL) serving bone_sam.pth and atten.pth, or: ' +
        WEIGHTS_HOW_TO,
    );
  }
  return url.replace(/\/+$/, '');
}

/**
 * Downloads the weight files with resume (HTTP Range on a `.part` file), checks sha256 when given,
 * verifies each file is a SegmentAnyBone checkpoint, then moves it into place atomically.
 */
export async function downloadWeights(opts: DownloadOptions): Promise<string[]> {
  const dir = opts.dir ?? userWeightsDir();
  mkdirSync(dir, { recursive: true });
  const done: string[] = [];
  for (const file of opts.files ?? WEIGHT_FILES) {
    const target = path.join(dir, file);
    const part = `${target}.part`;
    const url = `${opts.baseUrl}/${file}`;
    await fetchResumable(url, part, file, opts.onProgress);
    const bytes = readFileSync(part);
    const expected = opts.sha256?.[file];
    if (expected) {
      const got = createHash('sha256').update(bytes).digest('hex');
      if (got !== expected.toLowerCase()) {
        rmSync(part, { force: true });
        throw new WeightsError(`${url}: sha256 mismatch (expected ${expected}, got ${got}); the partial download was deleted`);
      }
    }
    let kind: WeightFile;
    try {
      kind = verifyWeights(loadCheckpoint(part), url);
    } catch (err) {
      rmSync(part, { force: true });
      throw err;
    }
    if (kind !== file) {
      rmSync(part, { force: true });
      throw new WeightsError(`${url}: the server sent ${kind}, not ${file}`);
    }
    renameSync(part, target);
    done.push(target);
  }
  return done;
}

async function fetchResumable(
  url: string,
  part: string,
  file: WeightFile,
  onProgress?: (p: DownloadProgress) => void,
): Promise<void> {
  const have = existsSync(part) ? statSync(part).size : 0;
  let res: Response;
  try {
    res = await fetch(url, have > 0 ? { headers: { Range: `bytes=${have}-` } } : {});
  } catch (err) {
    throw new WeightsError(`${url}: download failed (${err instanceof Error ? err.message : String(err)}); run the command again to resume`);
  }
  if (res.status === 416 && have > 0) return; // already complete
  if (!res.ok) throw new WeightsError(`${url}: HTTP ${res.status} ${res.statusText}`);
  const resumed = res.status === 206;
  const length = Number(res.headers.get('content-length') ?? NaN);
  const total = Number.isFinite(length) ? (resumed ? have + length : length) : undefined;
  let received = resumed ? have : 0;
  const fd = openSync(part, resumed ? 'a' : 'w');
  try {
    if (!res.body) throw new WeightsError(`${url}: empty response`);
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      let off = 0;
      while (off < value.length) off += writeSync(fd, value, off, value.length - off);
      received += value.length;
      onProgress?.({ file, received, total });
    }
  } catch (err) {
    if (err instanceof WeightsError) throw err;
    throw new WeightsError(`${url}: connection lost after ${received} bytes (${err instanceof Error ? err.message : String(err)}); run the command again to resume`);
  } finally {
    closeSync(fd);
  }
  if (total !== undefined && received !== total) {
    throw new WeightsError(`${url}: got ${received} of ${total} bytes; run the command again to resume`);
  }
}
