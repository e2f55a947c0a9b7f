import { numel, type DType, type StateDict } from '../../checkpoint/tensor.js';

/** torch storage class per dtype (the name torch.save pickles as the storage type). */
const STORAGE_CLASS: Record<DType, string> = {
  float32: 'FloatStorage',
  float64: 'DoubleStorage',
  float16: 'HalfStorage',
  bfloat16: 'BFloat16Storage',
  int64: 'LongStorage',
  int32: 'IntStorage',
  int16: 'ShortStorage',
  int8: 'CharStorage',
  uint8: 'ByteStorage',
  bool: 'BoolStorage',
};

/** Contiguous row-major strides as torch computes them (a zero-sized dimension counts as 1). */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= Math.max(shape[i]!, 1);
  }
  return strides;
}

/** Python's pickler batches dict items in groups of this many (pickle._BATCHSIZE). */
const BATCH = 1000;

/**
 * A protocol-2 pickle emitter that memoises the way CPython's Pickler does for the objects a
 * state_dict holds: every string, non-empty tuple, global and reduce result gets a memo slot
 * (BINPUT / LONG_BINPUT); an object seen again is fetched (BINGET). Strings are memoised by value
 * here, which matches CPython for the repeated 'storage' / 'cpu' constants and for globals.
 */
class PickleEmitter {
  private chunks: number[] = [];
  private memoSize = 0;
  private readonly memo = new Map<string, number>();
  private readonly enc = new TextEncoder();

  bytes(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }

  op(...b: number[]): void {
    for (const x of b) this.chunks.push(x);
  }

  private u32(v: number): void {
    this.op(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }

  /** Memoise the object just pushed. */
  put(): number {
    const idx = this.memoSize++;
    if (idx < 256) this.op(0x71, idx); // BINPUT
    else {
      this.op(0x72); // LONG_BINPUT
      this.u32(idx);
    }
    return idx;
  }

  get(idx: number): void {
    if (idx < 256) this.op(0x68, idx); // BINGET
    else {
      this.op(0x6a); // LONG_BINGET
      this.u32(idx);
    }
  }

  /** A str: BINUNICODE + memo, or a memo fetch when the same string was written before. */
  str(s: string, shared = false): void {
    const key = `s:${s}`;
    const hit = shared ? this.memo.get(key) : undefined;
    if (hit !== undefined) return this.get(hit);
    const b = this.enc.encode(s);
    this.op(0x58); // BINUNICODE
    this.u32(b.length);
    for (const x of b) this.chunks.push(x);
    const idx = this.put();
    if (shared) this.memo.set(key, idx);
  }

  /** GLOBAL 'module\nname\n', memoised once per name. */
  global(module: string, name: string): void {
    const key = `g:${module} ${name}`;
    const hit = this.memo.get(key);
    if (hit !== undefined) return this.get(hit);
    this.op(0x63, ...this.enc.encode(`${module}\n${name}\n`));
    this.memo.set(key, this.put());
  }

  /** A Python int (as CPython's save_long chooses the opcode for protocol 2). */
  int(v: number): void {
    if (!Number.isSafeInteger(v)) throw new Error(`pickle: ${v} is not a safe integer`);
    if (v >= 0 && v <= 0xff) this.op(0x4b, v); // BININT1
    else if (v >= 0 && v <= 0xffff) this.op(0x4d, v & 0xff, v >>> 8); // BININT2
    else if (v >= -0x80000000 && v <= 0x7fffffff) {
      this.op(0x4a); // BININT
      this.u32(v >>> 0);
    } else {
      // LONG1: little-endian two's complement, shortest form.
      const bytes: number[] = [];
      let x = BigInt(v);
      while (true) {
        const b = Number(x & 0xffn);
        bytes.push(b);
        x >>= 8n;
        if ((x === 0n && (b & 0x80) === 0) || (x === -1n && (b & 0x80) !== 0)) break;
      }
      this.op(0x8a, bytes.length, ...bytes);
    }
  }

  /** A tuple of ints: EMPTY_TUPLE (not memoised), TUPLE1/2/3, or MARK ... TUPLE; then memo. */
  intTuple(values: readonly number[]): void {
    if (values.length === 0) return this.op(0x29);
    if (values.length > 3) this.op(0x28); // MARK
    for (const v of values) this.int(v);
    this.op(values.length === 1 ? 0x85 : values.length === 2 ? 0x86 : values.length === 3 ? 0x87 : 0x74);
    this.put();
  }
}

/**
 * data.pkl of a torch.save'd state_dict (pickle protocol 2): an OrderedDict whose values are
 * torch._utils._rebuild_tensor_v2(persistent_load(('storage', torch.<T>Storage, key, 'cpu', numel)),
 * 0, size, stride, False, OrderedDict()). Storage keys are "0", "1", ... in map order; returns them.
 * The byte stream is what CPython's Pickler emits for such an object (checked against a file
 * written by torch: identical up to the state_dict's `_metadata`, which is not written here).
 */
export function pickleStateDict(dict: StateDict): { pickle: Uint8Array; keys: string[] } {
  const p = new PickleEmitter();
  p.op(0x80, 2); // PROTO 2
  p.global('collections', 'OrderedDict');
  const orderedDictMemo = 0;
  p.op(0x29, 0x52); // EMPTY_TUPLE, REDUCE
  p.put();
  const keys: string[] = [];
  const entries = [...dict];
  for (let start = 0; start < entries.length; start += BATCH) {
    const batch = entries.slice(start, start + BATCH);
    if (batch.length > 1) p.op(0x28); // MARK
    for (const [name, t] of batch) {
      const key = String(keys.length);
      keys.push(key);
      p.str(name);
      p.global('torch._utils', '_rebuild_tensor_v2');
      p.op(0x28); // MARK: args tuple of the rebuild call
      p.op(0x28); // MARK: persistent id tuple
      p.str('storage', true);
      p.global('torch', STORAGE_CLASS[t.dtype]);
      p.str(key);
      p.str('cpu', true);
      p.int(numel(t.shape));
      p.op(0x74); // TUPLE
      p.put();
      p.op(0x51); // BINPERSID
      p.int(0); // storage offset
      p.intTuple(t.shape);
      p.intTuple(contiguousStrides(t.shape));
      p.op(0x89); // NEWFALSE: requires_grad
      p.get(orderedDictMemo); // backward hooks: OrderedDict()
      p.op(0x29, 0x52); // EMPTY_TUPLE, REDUCE
      p.put();
      p.op(0x74); // TUPLE
      p.put();
      p.op(0x52); // REDUCE
      p.put();
      if (batch.length === 1) p.op(0x73); // SETITEM
    }
    if (batch.length > 1) p.op(0x75); // SETITEMS
  }
  p.op(0x2e); // STOP
  return { pickle: p.bytes(), keys };
}
