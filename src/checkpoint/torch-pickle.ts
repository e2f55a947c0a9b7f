import { CheckpointError } from './errors.js';
import { unpickle, type PyCallable, type UnpickleResult } from './pickle.js';
import { AdoptedBytes, materialize, viewExtent, type Storage, type TensorView } from './strided.js';
import type { DType, ReadCheckpointOptions, StateDict } from './tensor.js';

/** The storage classes torch pickles in persistent ids; they are markers, never called. */
const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  DoubleStorage: 'float64',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

export class StorageType implements PyCallable {
  constructor(
    readonly qualifiedName: string,
    readonly dtype: DType,
  ) {}
  call(): never {
    throw new Error(`${this.qualifiedName} cannot be constructed from a pickle`);
  }
}

/** A tensor as decoded from the pickle, before its bytes are copied out. */
class PickledTensor {
  constructor(readonly view: TensorView) {}
}

/** An (ordered) dict built by REDUCE of collections.OrderedDict. */
function orderedDict(args: readonly unknown[]): Map<unknown, unknown> {
  const d = new Map<unknown, unknown>();
  const items = args[0];
  if (Array.isArray(items)) for (const kv of items) if (Array.isArray(kv) && kv.length === 2) d.set(kv[0], kv[1]);
  return d;
}

function intTuple(v: unknown): number[] | undefined {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isSafeInteger(x))) return undefined;
  return v as number[];
}

/**
 * The whitelist: the only globals a torch.save'd state_dict may reference. Anything else makes
 * the unpickler throw, naming `module.name`.
 */
function torchGlobals(fileName: string): Map<string, PyCallable> {
  const fail = (problem: string): never => {
    throw new CheckpointError(fileName, problem);
  };
  const rebuildTensor = (qualifiedName: string, args: readonly unknown[]): PickledTensor => {
    const [storage, storageOffset, size, stride] = args;
    const shape = intTuple(size);
    const strides = intTuple(stride);
    if (!(storage instanceof Object) || !('bytes' in storage) || !('dtype' in storage)) fail(`${qualifiedName}: first argument is not a storage`);
    if (typeof storageOffset !== 'number' || !shape || !strides) fail(`${qualifiedName}: malformed offset/size/stride arguments`);
    return new PickledTensor({ storage: storage as Storage, storageOffset: storageOffset as number, shape: shape!, stride: strides! });
  };
  const fns: PyCallable[] = [
    { qualifiedName: 'collections.OrderedDict', call: orderedDict },
    { qualifiedName: 'torch._utils._rebuild_tensor_v2', call: (a) => rebuildTensor('torch._utils._rebuild_tensor_v2', a) },
    { qualifiedName: 'torch._utils._rebuild_tensor', call: (a) => rebuildTensor('torch._utils._rebuild_tensor', a) },
    // Parameters are plain tensors once loaded: requires_grad / hooks / extra state do not matter here.
    { qualifiedName: 'torch._utils._rebuild_parameter', call: (a) => a[0] },
    { qualifiedName: 'torch._utils._rebuild_parameter_with_state', call: (a) => a[0] },
  ];
  for (const [cls, dtype] of Object.entries(STORAGE_DTYPES)) fns.push(new StorageType(`torch.${cls}`, dtype));
  return new Map(fns.map((f) => [f.qualifiedName, f]));
}

/** A storage reference from a persistent id, e.g. ('storage', torch.FloatStorage, '0', 'cpu', 999983). */
export interface StorageRef {
  dtype: DType;
  key: string;
  numel: number;
  /** Legacy format only: (view_key, offset, size) of an old-style storage view, else null. */
  viewMetadata: unknown;
}

/** Short text of an unpickled value for messages; damaged pickles can hold BigInts and cycles, which JSON cannot. */
function describePickled(v: unknown): string {
  try {
    const text = JSON.stringify(v, (_k, x: unknown) => (x instanceof StorageType ? x.qualifiedName : typeof x === 'bigint' ? `${x}n` : x)) ?? String(v);
    return text.length > 200 ? `${text.slice(0, 200)}...` : text;
  } catch {
    return `(a ${Array.isArray(v) ? 'list' : typeof v} that cannot be shown)`;
  }
}

export function parseStoragePid(pid: unknown, fileName: string): StorageRef {
  const bad = (): never => {
    throw new CheckpointError(fileName, `malformed persistent id ${describePickled(pid)}`);
  };
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) return bad();
  const [, type, key, , count, viewMetadata] = pid as unknown[];
  if (!(type instanceof StorageType) || (typeof key !== 'string' && typeof key !== 'number')) return bad();
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) return bad();
  return { dtype: (type as StorageType).dtype, key: String(key), numel: count as number, viewMetadata: viewMetadata ?? null };
}

export function unpickleTorch(
  bytes: Uint8Array,
  fileName: string,
  persistentLoad: ((pid: unknown) => unknown) | undefined,
  start = 0,
): UnpickleResult {
  const globals = torchGlobals(fileName);
  return unpickle(bytes, { fileName, resolveGlobal: (m, n) => globals.get(`${m}.${n}`), persistentLoad }, start);
}

function isTensorDict(v: unknown): v is Map<unknown, unknown> {
  return v instanceof Map && v.size > 0 && [...v.values()].every((t) => t instanceof PickledTensor);
}

/**
 * The state_dict inside the unpickled root: the root itself, or the usual training-script
 * wrappers {'state_dict': ...} / {'model': ...}. Every view is bounds-checked, then copied out (or, with
 * `adoptBytes`, taken as a view where materialize can: see ReadCheckpointOptions).
 */
export function stateDictFromPickle(root: unknown, fileName: string, options: ReadCheckpointOptions = {}): StateDict {
  const fail = (problem: string): never => {
    throw new CheckpointError(fileName, problem);
  };
  let dict = root;
  if (root instanceof Map && !isTensorDict(root)) {
    for (const wrapper of ['state_dict', 'model']) if (isTensorDict(root.get(wrapper))) dict = root.get(wrapper);
  }
  if (!(dict instanceof Map)) return fail('the pickle does not hold a state_dict (a dict of tensors)');
  const out: StateDict = new Map();
  const cache = new Map();
  const adopted = options.adoptBytes ? new AdoptedBytes() : undefined;
  for (const [key, value] of dict) {
    if (typeof key !== 'string') fail(`state_dict key ${String(key)} is not a string`);
    if (!(value instanceof PickledTensor)) fail(`state_dict entry '${key}' is not a tensor`);
    const view = (value as PickledTensor).view;
    const extent = viewExtent(view);
    if (typeof extent === 'string') fail(`tensor '${key}': ${extent}`);
    if ((extent as number) > view.storage.numel) {
      fail(
        `tensor '${key}': view out of range of storage '${view.storage.key}' ` +
          `(offset ${view.storageOffset}, size (${view.shape.join(', ')}), stride (${view.stride.join(', ')}) ` +
          `reaches element ${(extent as number) - 1} but the storage holds ${view.storage.numel} elements)`,
      );
    }
    out.set(key as string, materialize(view, cache, adopted));
  }
  return out;
}
