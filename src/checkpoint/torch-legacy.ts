import { CheckpointError } from './errors.js';
import type { Storage } from './strided.js';
import { DTYPE_BYTES, type ReadCheckpointOptions, type StateDict } from './tensor.js';
import { parseStoragePid, stateDictFromPickle, unpickleTorch } from './torch-pickle.js';

/** Magic number torch writes (as a pickled int) at the start of pre-1.6 checkpoints. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/** A pickle stream starts with PROTO 2+. */
export function looksLikePickle(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x80 && bytes[1]! >= 2 && bytes[1]! <= 5;
}

/**
 * Read a legacy (non-zip) torch.save file: pickles of magic number, protocol version and sys info,
 * then the object pickle with storage persistent ids, then a pickled list of storage keys, then
 * each storage as an int64 element count followed by its raw little-endian bytes.
 */
export function readLegacyTorchCheckpoint(bytes: Uint8Array, fileName: string, options: ReadCheckpointOptions = {}): StateDict {
  const fail = (problem: string): never => {
    throw new CheckpointError(fileName, problem);
  };
  const magic = unpickleTorch(bytes, fileName, undefined, 0);
  if (magic.value !== LEGACY_MAGIC) fail('not a PyTorch checkpoint (legacy magic number missing)');
  const protocol = unpickleTorch(bytes, fileName, undefined, magic.end);
  if (protocol.value !== 1001) fail(`unsupported legacy checkpoint protocol ${String(protocol.value)}`);
  const sysInfo = unpickleTorch(bytes, fileName, undefined, protocol.end);
  if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) fail('big-endian legacy checkpoints are not supported');

  // Storages are only laid out after the object pickle, so persistent ids get placeholders first.
  const storages = new Map<string, Storage>();
  const views: Array<{ storage: Storage; baseKey: string; offset: number }> = [];
  const persistentLoad = (pid: unknown): Storage => {
    const ref = parseStoragePid(pid, fileName);
    let base = storages.get(ref.key);
    if (!base) {
      base = { key: ref.key, dtype: ref.dtype, numel: ref.numel, bytes: new Uint8Array(0) };
      storages.set(ref.key, base);
    }
    const vm = ref.viewMetadata;
    if (vm === null) return base;
    if (!Array.isArray(vm) || vm.length !== 3 || typeof vm[1] !== 'number' || typeof vm[2] !== 'number') return fail('malformed storage view metadata');
    const view: Storage = { key: `${ref.key}[${vm[1]}:]`, dtype: ref.dtype, numel: vm[2] as number, bytes: new Uint8Array(0) };
    views.push({ storage: view, baseKey: ref.key, offset: vm[1] as number });
    return view;
  };
  const main = unpickleTorch(bytes, fileName, persistentLoad, sysInfo.end);
  const keys = unpickleTorch(bytes, fileName, undefined, main.end);
  if (!Array.isArray(keys.value)) fail('legacy storage key list missing');

  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = keys.end;
  for (const key of keys.value as unknown[]) {
    const storage = storages.get(String(key));
    if (!storage) fail(`storage '${String(key)}' is listed but never referenced`);
    if (pos + 8 > bytes.length) fail(`truncated file: storage '${String(key)}' is missing`);
    const count = Number(dv.getBigInt64(pos, true));
    const nbytes = count * DTYPE_BYTES[storage!.dtype];
    pos += 8;
    if (count < storage!.numel || pos + nbytes > bytes.length) fail(`truncated file: storage '${String(key)}' is incomplete`);
    storage!.bytes = bytes.subarray(pos, pos + storage!.numel * DTYPE_BYTES[storage!.dtype]);
    pos += nbytes;
  }
  for (const s of storages.values()) if (s.numel > 0 && s.bytes.length === 0) fail(`storage '${s.key}' is missing from the file`);
  for (const v of views) {
    const base = storages.get(v.baseKey)!;
    const eb = DTYPE_BYTES[base.dtype];
    if (v.offset < 0 || v.offset + v.storage.numel > base.numel) fail(`storage view '${v.storage.key}' is out of range of storage '${v.baseKey}'`);
    v.storage.bytes = base.bytes.subarray(v.offset * eb, (v.offset + v.storage.numel) * eb);
  }
  return stateDictFromPickle(main.value, fileName, options);
}
