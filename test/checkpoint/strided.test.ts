import { describe, expect, it } from 'vitest';
import { readCheckpoint, readTorchCheckpoint } from '../../src/checkpoint/index.js';
import { bytesOf, PickleWriter, stateDictPickle, torchZip, type ViewSpec } from './pickle-builder.js';

/** Reference: element at multi-index idx of a strided view, read straight from the storage. */
function expectedView<T>(storage: ArrayLike<T>, offset: number, shape: number[], stride: number[]): T[] {
  const out: T[] = [];
  const idx = new Array<number>(shape.length).fill(0);
  const total = shape.reduce((a, b) => a * b, 1);
  for (let n = 0; n < total; n++) {
    let p = offset;
    for (let d = 0; d < shape.length; d++) p += idx[d]! * stride[d]!;
    out.push(storage[p]!);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

describe('strided, offset and shared storages', () => {
  const base = Float32Array.from({ length: 200 }, (_, i) => i * 0.5 - 7);
  const longs = BigInt64Array.from({ length: 40 }, (_, i) => BigInt(i) * 0x1_0000_0001n - 5n);
  const halves = Uint16Array.from({ length: 30 }, (_, i) => 0x3c00 + i * 17);
  const views: ViewSpec[] = [
    // Transposed 3-D view with an offset.
    { key: 'a', storageKey: '0', storageType: 'FloatStorage', storageNumel: 200, offset: 7, shape: [3, 4, 5], stride: [1, 15, 3] },
    // Overlapping view of the same storage with a gap between rows.
    { key: 'b', storageKey: '0', storageType: 'FloatStorage', storageNumel: 200, offset: 11, shape: [4, 6], stride: [9, 1] },
    // Contiguous slice of the same storage, and a broadcast (stride 0) view.
    { key: 'c', storageKey: '0', storageType: 'FloatStorage', storageNumel: 200, offset: 150, shape: [2, 25], stride: [25, 1] },
    { key: 'd', storageKey: '0', storageType: 'FloatStorage', storageNumel: 200, offset: 3, shape: [4, 2], stride: [0, 1] },
    // 8-byte and 2-byte element types through the word-copy paths.
    { key: 'e', storageKey: '1', storageType: 'LongStorage', storageNumel: 40, offset: 2, shape: [3, 5], stride: [1, 7] },
    { key: 'f', storageKey: '2', storageType: 'HalfStorage', storageNumel: 30, offset: 1, shape: [2, 2, 3], stride: [12, 1, 3] },
    // Scalar and empty tensors.
    { key: 'g', storageKey: '1', storageType: 'LongStorage', storageNumel: 40, offset: 39, shape: [], stride: [] },
    { key: 'h', storageKey: '0', storageType: 'FloatStorage', storageNumel: 200, offset: 0, shape: [0, 3], stride: [3, 1] },
  ];
  const zip = torchZip(stateDictPickle(views), { '0': bytesOf(base), '1': bytesOf(longs), '2': bytesOf(halves) }, 'my_model');

  it('copies every element of every view to contiguous row-major order', () => {
    const dict = readTorchCheckpoint(zip, 'synthetic.pth');
    expect([...dict.keys()]).toEqual(views.map((v) => v.key));
    const sources: Record<string, ArrayLike<number | bigint>> = { '0': base, '1': longs, '2': halves };
    for (const v of views) {
      const t = dict.get(v.key)!;
      expect(t.shape).toEqual(v.shape);
      expect(t.dtype).toBe({ FloatStorage: 'float32', LongStorage: 'int64', HalfStorage: 'float16' }[v.storageType]);
      const want = expectedView(sources[v.storageKey]!, v.offset, v.shape, v.stride);
      expect(Array.from(t.data as ArrayLike<number | bigint>)).toEqual(want);
    }
  });

  it('tensors sharing one storage do not alias each other', () => {
    const dict = readTorchCheckpoint(zip, 'synthetic.pth');
    const a = dict.get('a')!.data as Float32Array;
    const b = dict.get('b')!.data as Float32Array;
    a[0] = 1234;
    expect(b[0]).toBe(base[11]);
  });

  it('reads a legacy (pre-zip) torch.save stream with the same result', () => {
    const prelude = [
      new PickleWriter().proto().long(0x1950a86a20f9469cfc6cn).stop().bytes(),
      new PickleWriter().proto().int(1001).stop().bytes(),
      new PickleWriter().proto().emptyDict().str('little_endian').newTrue().setitem().stop().bytes(),
      stateDictPickle(views, true),
      new PickleWriter().proto().emptyList().mark().str('0').str('1').str('2').appends().stop().bytes(),
    ];
    const parts: Uint8Array[] = [...prelude];
    for (const s of [base, longs, halves]) {
      const n = new Uint8Array(8);
      new DataView(n.buffer).setBigInt64(0, BigInt(s.length), true);
      parts.push(n, bytesOf(s));
    }
    const file = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) (file.set(p, o), (o += p.length));
    const legacy = readCheckpoint(file, 'legacy.pth');
    const modern = readTorchCheckpoint(zip, 'synthetic.pth');
    expect([...legacy.keys()]).toEqual([...modern.keys()]);
    for (const [k, t] of modern) expect(legacy.get(k)).toEqual(t);
  });
});
