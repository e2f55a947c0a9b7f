import { accessSync, constants, closeSync, fsyncSync, openSync, realpathSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { VolumeIOError } from './errors.js';

function sameFile(a: string, b: string): boolean {
  try {
    const sa = statSync(a);
    const sb = statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return resolve(a) === resolve(b);
  }
}

/**
 * Checks before writing `target`: it must not be (or be inside, for a DICOM directory) any input, and its directory
 * must exist and be writable. Throws VolumeIOError otherwise.
 */
export function checkWritableTarget(target: string, inputs: readonly string[] = []): void {
  for (const input of inputs) {
    if (sameFile(target, input)) throw new VolumeIOError(target, 'refusing to overwrite the input file');
    try {
      const inReal = realpathSync(input);
      const targetDir = realpathSync(dirname(resolve(target)));
      if (statSync(inReal).isDirectory() && (targetDir + '/').startsWith(inReal + '/')) {
        throw new VolumeIOError(target, `refusing to write inside the input DICOM directory ${input}`);
      }
    } catch (e) {
      if (e instanceof VolumeIOError) throw e;
    }
  }
  const dir = dirname(resolve(target));
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new VolumeIOError(target, `output directory ${dir} does not exist`);
  }
  if (!isDir) throw new VolumeIOError(target, `${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new VolumeIOError(target, `output directory ${dir} is not writable`);
  }
}

/** Write bytes to a temp file next to `target`, flush, then rename over it, so readers never see a partial file. */
export function writeFileAtomic(target: string, chunks: Uint8Array | readonly Uint8Array[], inputs: readonly string[] = []): void {
  checkWritableTarget(target, inputs);
  const parts = chunks instanceof Uint8Array ? [chunks] : chunks;
  const tmp = join(dirname(resolve(target)), `.${basename(target)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx');
    for (const p of parts) {
      let off = 0;
      while (off < p.length) off += writeSync(fd, p, off, p.length - off);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EACCES' || err.code === 'EPERM' || err.code === 'EROFS' || err.code === 'ENOENT') {
      throw new VolumeIOError(target, `output directory ${dirname(resolve(target))} is not writable (${err.code})`);
    }
    throw new VolumeIOError(target, `write failed: ${err.message}`);
  }
}
