import { describe, expect, it } from 'vitest';
import { readCheckpoint, readSafetensors, writeSafetensors, type StateDict } from '../../src/checkpoint/index.js';

describe('safetensors', () => {
  const dict: StateDict = new Map([
    ['f32', { dtype: 'float32', shape: [2, 3], data: Float32Array.from([1.5, -2, 3e-8, NaN, Infinity, -0]) }],
    ['f16', { dtype: 'float16', shape: [3], data: Uint16Array.from([0x3c00, 0xfc00, 0x7e01]) }],
    ['bf16', { dtype: 'bfloat16', shape: [1, 2], data: Uint16Array.from([0x3f80, 0xc2f7]) }],
    ['f64', { dtype: 'float64', shape: [1], data: Float64Array.from([Math.PI]) }],
    ['i64', { dtype: 'int64', shape: [], data: BigInt64Array.from([-(2n ** 62n) - 3n]) }],
    ['i32', { dtype: 'int32', shape: [2], data: Int32Array.from([-7, 2 ** 31 - 1]) }],
    ['i16', { dtype: 'int16', shape: [1], data: Int16Array.from([-300]) }],
    ['i8', { dtype: 'int8', shape: [2], data: Int8Array.from([-128, 127]) }],
    ['u8', { dtype: 'uint8', shape: [3], data: Uint8Array.from([0, 128, 255]) }],
    ['bool', { dtype: 'bool', shape: [2, 2], data: Uint8Array.from([1, 0, 0, 1]) }],
    ['empty', { dtype: 'float32', shape: [0, 4], data: new Float32Array(0) }],
  ]);

  it('round-trips every dtype bit-exactly, in order', () => {
    const file = writeSafetensors(dict, { format: 'pt' });
    const back = readCheckpoint(file, 'rt.safetensors');
    expect([...back.keys()]).toEqual([...dict.keys()]);
    for (const [k, t] of dict) {
      const b = back.get(k)!;
      expect(b.dtype).toBe(t.dtype);
      expect(b.shape).toEqual(t.shape);
      expect(new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength)).toEqual(
        new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      );
    }
  });

  it('writes the standard layout: LE u64 header length, space-padded JSON, 8-byte aligned data', () => {
    const file = writeSafetensors(dict);
    const n = Number(new DataView(file.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const text = new TextDecoder().decode(file.subarray(8, 8 + n));
    expect(text.trimEnd().endsWith('}')).toBe(true);
    const header = JSON.parse(text) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    expect(header.f16).toEqual({ dtype: 'F16', shape: [3], data_offsets: [24, 30] });
    expect(header.bool!.dtype).toBe('BOOL');
    expect(header.i64!.data_offsets[1] - header.i64!.data_offsets[0]).toBe(8);
    expect(file.length).toBe(8 + n + header.empty!.data_offsets[1]);
  });

  it('rejects unknown dtypes and size mismatches', () => {
    const make = (json: string, dataBytes: number): Uint8Array => {
      const h = new TextEncoder().encode(json);
      const f = new Uint8Array(8 + h.length + dataBytes);
      new DataView(f.buffer).setBigUint64(0, BigInt(h.length), true);
      f.set(h, 8);
      return f;
    };
    expect(() => readSafetensors(make('{"x":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}', 8), 'c.safetensors')).toThrow(/c\.safetensors: .*unsupported dtype "C64"/);
    expect(() => readSafetensors(make('{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', 8), 'm.safetensors')).toThrow(/m\.safetensors: .*needs 12 bytes/);
  });
});
