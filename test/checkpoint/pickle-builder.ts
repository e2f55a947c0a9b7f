import { zipSync } from 'fflate';

/** Hand-assembles pickle opcodes for tests (protocol 2, the subset torch.save uses). */
export class PickleWriter {
  private readonly out: number[] = [];

  op(...bytes: number[]): this {
    this.out.push(...bytes);
    return this;
  }
  proto(): this { return this.op(0x80, 2); }
  global(module: string, name: string): this {
    return this.op(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.op(0x58, b.length & 0xff, (b.length >> 8) & 0xff, (b.length >> 16) & 0xff, b.length >>> 24, ...b);
  }
  int(n: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, n, true);
    return this.op(0x4a, ...b);
  }
  /** LONG1 of an arbitrary (two's complement) integer. */
  long(n: bigint): this {
    const bytes: number[] = [];
    let v = n;
    do {
      bytes.push(Number(v & 0xffn));
      v >>= 8n;
    } while (!(v === 0n && (bytes[bytes.length - 1]! & 0x80) === 0) && !(v === -1n && (bytes[bytes.length - 1]! & 0x80) !== 0));
    return this.op(0x8a, bytes.length, ...bytes);
  }
  mark(): this { return this.op(0x28); }
  tuple(): this { return this.op(0x74); }
  emptyTuple(): this { return this.op(0x29); }
  emptyDict(): this { return this.op(0x7d); }
  emptyList(): this { return this.op(0x5d); }
  appends(): this { return this.op(0x65); }
  setitem(): this { return this.op(0x73); }
  reduce(): this { return this.op(0x52); }
  persid(): this { return this.op(0x51); }
  newTrue(): this { return this.op(0x88); }
  newFalse(): this { return this.op(0x89); }
  stop(): this { return this.op(0x2e); }
  intTuple(values: readonly number[]): this {
    this.mark();
    for (const v of values) this.int(v);
    return this.tuple();
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

export interface ViewSpec {
  key: string;
  storageKey: string;
  storageType: string; // e.g. 'FloatStorage'
  storageNumel: number;
  offset: number;
  shape: number[];
  stride: number[];
}

/**
 * A torch.save-style pickle: OrderedDict of _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()).
 * `legacy` adds the sixth (view metadata) element that pre-zip checkpoints carry in persistent ids.
 */
export function stateDictPickle(views: readonly ViewSpec[], legacy = false): Uint8Array {
  const w = new PickleWriter().proto().global('collections', 'OrderedDict').emptyTuple().reduce();
  for (const v of views) {
    w.str(v.key).global('torch._utils', '_rebuild_tensor_v2').mark();
    w.mark().str('storage').global('torch', v.storageType).str(v.storageKey).str('cpu').int(v.storageNumel);
    if (legacy) w.op(0x4e);
    w.tuple().persid();
    w.int(v.offset).intTuple(v.shape).intTuple(v.stride).newFalse().global('collections', 'OrderedDict').emptyTuple().reduce();
    w.tuple().reduce().setitem();
  }
  return w.stop().bytes();
}

/** A torch.save zip (STORED entries) holding `pkl` and the given storages. */
export function torchZip(pkl: Uint8Array | undefined, storages: Record<string, Uint8Array>, root = 'archive'): Uint8Array {
  const files: Record<string, [Uint8Array, { level: 0 }]> = {};
  if (pkl) files[`${root}/data.pkl`] = [pkl, { level: 0 }];
  for (const [k, v] of Object.entries(storages)) files[`${root}/data/${k}`] = [v, { level: 0 }];
  files[`${root}/version`] = [new TextEncoder().encode('3\n'), { level: 0 }];
  return zipSync(files);
}

export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
