import { basename } from 'node:path';
import { safetensorsChunks } from '../../checkpoint/safetensors.js';
import { DTYPE_BYTES, numel, type StateDict, type Tensor } from '../../checkpoint/tensor.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { pickleStateDict } from './pickle.js';
import { concatChunks } from '../../checkpoint/bytes.js';
import { torchZipChunks, type ZipRecord } from './zip.js';

export class CheckpointExportError extends Error {
  override name = 'CheckpointExportError';
}

export interface TorchExportOptions {
  /**
   * Write the `byteorder` record ("little") as torch >= 2.1 does (default true). Without it the
   * archive has exactly the records of a torch 1.x/2.0 file: data.pkl, data/<key>..., version.
   */
  byteorder?: boolean;
}

function checkTensor(name: string, t: Tensor): void {
  const need = numel(t.shape) * DTYPE_BYTES[t.dtype];
  if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new CheckpointExportError(`tensor '${name}' has an invalid shape ${JSON.stringify(t.shape)}`);
  if (t.data.byteLength !== need) {
    throw new CheckpointExportError(`tensor '${name}': data holds ${t.data.byteLength} bytes, but ${t.dtype} ${JSON.stringify(t.shape)} needs ${need}`);
  }
}

/** The archive folder torch.save uses for a path: the file name without directory and extension. */
export function archiveNameFor(path: string): string {
  const base = basename(path);
  const dot = base.lastIndexOf('.');
  const name = dot > 0 ? base.slice(0, dot) : base;
  return name.length > 0 ? name : 'archive';
}

/**
 * torch.save(state_dict) bytes: `<root>/data.pkl` (protocol-2 pickle of an OrderedDict of tensors),
 * [`<root>/byteorder`], `<root>/data/<key>` raw little-endian storages in torch's (lexicographic)
 * order, `<root>/version` = "3\n"; records 64-byte aligned as PyTorchStreamWriter aligns them.
 */
export function encodeTorchCheckpoint(dict: StateDict, archiveName = 'archive', opts: TorchExportOptions = {}): Uint8Array {
  return concatChunks(torchCheckpointChunks(dict, archiveName, opts));
}

/** `encodeTorchCheckpoint`'s bytes as chunks, the tensors' data not copied (see torchZipChunks). */
export function torchCheckpointChunks(dict: StateDict, archiveName = 'archive', opts: TorchExportOptions = {}): Uint8Array[] {
  if (!/^[^/\\]+$/.test(archiveName)) throw new CheckpointExportError(`invalid archive name '${archiveName}'`);
  for (const [name, t] of dict) checkTensor(name, t);
  const { pickle, keys } = pickleStateDict(dict);
  const tensors = [...dict.values()];
  const root = `${archiveName}/`;
  const records: ZipRecord[] = [{ name: `${root}data.pkl`, data: pickle }];
  if (opts.byteorder ?? true) records.push({ name: `${root}byteorder`, data: new TextEncoder().encode('little') });
  // torch writes storages sorted by key as strings ("0", "1", "10", "100", ...).
  const order = keys.map((k, i) => [k, i] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (const [key, i] of order) {
    const d = tensors[i]!.data;
    records.push({ name: `${root}data/${key}`, data: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) });
  }
  records.push({ name: `${root}version`, data: new TextEncoder().encode('3\n') });
  return torchZipChunks(records);
}

/**
 * Write a torch.save-compatible .pth atomically; the archive folder is named after the file, as torch does. The
 * tensors are written from their own arrays, so no copy of the checkpoint is built in memory (182 MB for the VNet).
 */
export function writeTorchCheckpoint(path: string, dict: StateDict, opts: TorchExportOptions = {}): void {
  writeFileAtomic(path, torchCheckpointChunks(dict, archiveNameFor(path), opts));
}

/** Write a .safetensors file atomically. */
export function writeSafetensorsCheckpoint(path: string, dict: StateDict, metadata?: Record<string, string>): void {
  for (const [name, t] of dict) checkTensor(name, t);
  writeFileAtomic(path, safetensorsChunks(dict, metadata));
}

/**
 * A copy of `base` (same names, order, shapes, dtypes) with the trained float32 values of `params`
 * put in; every name in `params` must exist in `base` as a float32 tensor of the same size.
 */
export function withTrainedParams(base: StateDict, params: ReadonlyMap<string, Float32Array>): StateDict {
  const out: StateDict = new Map();
  for (const [name, t] of base) out.set(name, t);
  for (const [name, values] of params) {
    const t = base.get(name);
    if (!t) throw new CheckpointExportError(`trained parameter '${name}' is not in the base checkpoint`);
    if (t.dtype !== 'float32') throw new CheckpointExportError(`trained parameter '${name}' is ${t.dtype} in the base checkpoint, expected float32`);
    if (values.length !== t.data.length) throw new CheckpointExportError(`trained parameter '${name}' has ${values.length} values, the base checkpoint has ${t.data.length}`);
    out.set(name, { dtype: 'float32', shape: [...t.shape], data: Float32Array.from(values) });
  }
  return out;
}
