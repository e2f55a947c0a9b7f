import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AdoptedBytes, loadCheckpoint, materialize, readCheckpoint, readTorchCheckpoint, type Storage } from '../../src/checkpoint/index.js';
import { writeTorchCheckpoint } from '../../src/train/export/index.js';
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

  it('adoptBytes: contiguous, aligned views become views of the bytes unless they overlap one taken; the rest are copied', () => {
    const file = Uint8Array.from({ length: 4 * 40 + 1 }, (_, i) => (i * 37 + 11) & 255);
    const aligned: Storage = { key: '0', dtype: 'float32', numel: 16, bytes: file.subarray(4, 68) };
    const other: Storage = { key: '1', dtype: 'float32', numel: 16, bytes: file.subarray(68, 132) };
    const odd: Storage = { key: '2', dtype: 'float32', numel: 7, bytes: file.subarray(133, 161) };
    // A second storage over the same bytes as `aligned` (a legacy checkpoint's storage view, or overlapping zip entries).
    const alias: Storage = { key: '0[4:]', dtype: 'float32', numel: 12, bytes: file.subarray(20, 68) };
    const adopted = new AdoptedBytes();
    const cache = new Map();
    const take = (storage: Storage, storageOffset: number, shape: number[], stride: number[]) => {
      const t = materialize({ storage, storageOffset, shape, stride }, cache, adopted);
      // Same values as the plain copy, whichever way it was made.
      expect(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)).toEqual(
        new Uint8Array(materialize({ storage, storageOffset, shape, stride }).data.buffer),
      );
      return t.data;
    };
    const first = take(aligned, 2, [2, 3], [3, 1]);
    expect(first.buffer).toBe(file.buffer);
    expect(first.byteOffset).toBe(4 + 2 * 4);
    // Bytes the first took (through the same storage or another one), a transposed view, a misaligned storage.
    expect(take(aligned, 0, [4], [1]).buffer).not.toBe(file.buffer);
    expect(take(alias, 0, [2], [1]).buffer).not.toBe(file.buffer);
    expect(take(other, 0, [2, 2], [1, 2]).buffer).not.toBe(file.buffer);
    expect(take(odd, 0, [7], [1]).buffer).not.toBe(file.buffer);
    // Untaken bytes, of a storage used before and of the overlapping one.
    expect(take(other, 4, [3], [1]).buffer).toBe(file.buffer);
    expect(take(aligned, 0, [2], [1]).buffer).toBe(file.buffer);
    expect(take(alias, 4, [8], [1]).buffer).toBe(file.buffer);
  });

  it('AdoptedBytes claims exactly the ranges that overlap none claimed before', () => {
    const ranges = fc.array(fc.tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 12 }), fc.boolean()), { maxLength: 40 });
    fc.assert(
      fc.property(ranges, (rs) => {
        const buffers = [new ArrayBuffer(8), new ArrayBuffer(8)];
        const adopted = new AdoptedBytes();
        const taken: [number, number, number][] = [];
        for (const [start, len, second] of rs) {
          const b = second ? 1 : 0;
          const free = taken.every(([tb, s, e]) => tb !== b || e <= start || start + len <= s);
          expect(adopted.claim(buffers[b]!, start, start + len)).toBe(free);
          if (free) taken.push([b, start, start + len]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('loadCheckpoint adopts the bytes it read: views of one buffer, the same tensors as a copying read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sab-adopt-'));
    try {
      const file = join(dir, 'w.pth');
      const dict = new Map([
        // Over 4 KB, so the file is read into a buffer of its own (Node pools smaller reads).
        ['w', { dtype: 'float32' as const, shape: [40, 50], data: Float32Array.from({ length: 2000 }, (_, i) => i / 3) }],
        ['n', { dtype: 'int64' as const, shape: [], data: BigInt64Array.of(7n) }],
      ]);
      writeTorchCheckpoint(file, dict);
      const loaded = loadCheckpoint(file);
      const buffers = new Set([...loaded.values()].map((t) => t.data.buffer));
      expect(buffers.size).toBe(1);
      expect([...buffers][0]!.byteLength).toBe(statSync(file).size);
      expect(loaded).toEqual(readCheckpoint(new Uint8Array(readFileSync(file)), 'w.pth'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
