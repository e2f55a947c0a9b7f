import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { materialize, readCheckpoint, readTorchCheckpoint, type Storage } from '../../src/checkpoint/index.js';
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

describe('materialize on arbitrary views', () => {
  // Any rank 0-6, sizes 0-5, strides 0-40 (broadcast, overlapping, transposed, gapped), 1/2/4/8-byte elements,
  // against the element-by-element reference: the nested inner loops and the outer counter must agree with it.
  const view = fc.record({
    dims: fc.array(fc.record({ size: fc.integer({ min: 0, max: 5 }), stride: fc.integer({ min: 0, max: 40 }) }), { maxLength: 6 }),
    offset: fc.integer({ min: 0, max: 30 }),
    dtype: fc.constantFrom('uint8' as const, 'float16' as const, 'float32' as const, 'int64' as const),
  });
  it('equals the reference gather', () => {
    fc.assert(
      fc.property(view, ({ dims, offset, dtype }) => {
        const shape = dims.map((d) => d.size);
        const stride = dims.map((d) => d.stride);
        let extent = offset + 1;
        for (const d of dims) extent += Math.max(d.size - 1, 0) * d.stride;
        const elemBytes = { uint8: 1, float16: 2, float32: 4, int64: 8 }[dtype];
        const bytes = Uint8Array.from({ length: extent * elemBytes }, (_, i) => (i * 131 + 7) & 255);
        const storage: Storage = { key: '0', dtype, numel: extent, bytes };
        const t = materialize({ storage, storageOffset: offset, shape, stride });
        // Compare element bytes: each element of the view is elemBytes consecutive storage bytes.
        const elements = expectedView(Array.from({ length: extent }, (_, i) => i), offset, shape, stride);
        const want = new Uint8Array(elements.length * elemBytes);
        elements.forEach((e, n) => want.set(bytes.subarray(e * elemBytes, (e + 1) * elemBytes), n * elemBytes));
        expect(t.shape).toEqual(shape);
        expect(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)).toEqual(want);
      }),
      { numRuns: 400 },
    );
  });

  it('copies long contiguous rows under transposed outer dimensions', () => {
    const n = 3 * 4 * 70;
    const bytes = Uint8Array.from({ length: n * 4 }, (_, i) => i & 255);
    const storage: Storage = { key: '0', dtype: 'float32', numel: n, bytes };
    const shape = [4, 3, 70];
    const stride = [70, 280, 1];
    const t = materialize({ storage, storageOffset: 0, shape, stride });
    const words = new Uint32Array(bytes.buffer);
    const want = expectedView(words, 0, shape, stride);
    expect(Array.from(new Uint32Array(t.data.buffer))).toEqual(want);
  });
});
