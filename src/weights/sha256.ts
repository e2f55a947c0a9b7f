import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';

/** sha256 (hex) of a file, read in 4 MiB chunks so a 182 MB checkpoint is never held whole. */
export function fileSha256(path: string): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(4 << 20);
  const fd = openSync(path, 'r');
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

const hashed = new Map<string, string>();

/**
 * fileSha256, remembered per file while its size and modification time stay the same: the weights are hashed
 * once per process, not once per output (a batch or a worker writes many DICOM-SEGs that name them).
 */
export function weightsFileSha256(path: string): string {
  const st = statSync(path);
  const key = `${path}\0${st.size}\0${st.mtimeMs}`;
  let sha = hashed.get(key);
  if (!sha) hashed.set(key, (sha = fileSha256(path)));
  return sha;
}
