import { CheckpointError } from './errors.js';
import type { Storage } from './strided.js';
import { DTYPE_BYTES, type ReadCheckpointOptions, type StateDict } from './tensor.js';
import { parseStoragePid, stateDictFromPickle, unpickleTorch } from './torch-pickle.js';
import { ZipArchive } from './zip-reader.js';

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/**
 * Read a torch.save zip checkpoint (`<root>/data.pkl` + `<root>/data/<key>` storages) into a
 * state_dict of contiguous tensors. Only whitelisted globals are honoured (see torch-pickle.ts).
 */
export function readTorchCheckpoint(bytes: Uint8Array, fileName: string, options: ReadCheckpointOptions = {}): StateDict {
  const fail = (problem: string): never => {
    throw new CheckpointError(fileName, problem);
  };
  if (!isZip(bytes)) fail('not a PyTorch zip checkpoint (wrong magic: expected "PK\\x03\\x04")');
  const zip = new ZipArchive(bytes, fileName);
  // The archive root folder is named after the file that was saved; accept any name.
  const pklNames = [...zip.entries.keys()].filter((n) => n === 'data.pkl' || /^[^/]+\/data\.pkl$/.test(n));
  if (pklNames.length !== 1) {
    fail(pklNames.length === 0 ? 'not a torch checkpoint: no data.pkl entry in the zip archive' : 'several data.pkl entries in the zip archive');
  }
  const pklName = pklNames[0]!;
  const root = pklName.slice(0, pklName.length - 'data.pkl'.length);

  const byteorder = zip.entries.get(`${root}byteorder`);
  if (byteorder) {
    const order = new TextDecoder().decode(zip.read(byteorder)).trim();
    if (order !== 'little') fail(`storages are ${order}-endian; only little-endian checkpoints are supported`);
  }

  const storages = new Map<string, Storage>();
  const persistentLoad = (pid: unknown): Storage => {
    const ref = parseStoragePid(pid, fileName);
    const cached = storages.get(ref.key);
    if (cached) {
      if (cached.dtype !== ref.dtype) fail(`storage '${ref.key}' is used with two dtypes (${cached.dtype}, ${ref.dtype})`);
      return cached;
    }
    const entryName = `${root}data/${ref.key}`;
    const entry = zip.entries.get(entryName);
    if (!entry) return fail(`storage '${ref.key}' is missing (no ${entryName} entry in the zip archive)`);
    const data = zip.read(entry);
    const need = ref.numel * DTYPE_BYTES[ref.dtype];
    if (data.length < need) fail(`storage '${ref.key}' declares ${ref.numel} ${ref.dtype} elements (${need} bytes) but ${entryName} holds only ${data.length} bytes`);
    const storage: Storage = { key: ref.key, dtype: ref.dtype, numel: ref.numel, bytes: data.subarray(0, need) };
    storages.set(ref.key, storage);
    return storage;
  };
  const pickled = unpickleTorch(zip.read(zip.entries.get(pklName)!), fileName, persistentLoad);
  return stateDictFromPickle(pickled.value, fileName, options);
}
