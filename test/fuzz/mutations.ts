import fc from 'fast-check';

/**
 * Damage to a valid file, as fast-check values (so failures shrink to a minimal list of edits): bit flips, bytes and
 * integers/floats set to boundary values (often at the format's header field offsets), truncation, insertion,
 * deletion, and ASCII numbers written over text headers.
 */
export type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'int'; at: number; width: 2 | 4 | 8; value: number; le: boolean }
  | { kind: 'float'; at: number; width: 4 | 8; value: number; le: boolean }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'text'; at: number; text: string };

const INTS = [0, 1, -1, 2, 3, 7, 8, 255, 256, 348, 352, 540, 32767, -32768, 65535, 0x7fffffff, -0x80000000, 0xffffffff, 2 ** 40, 2 ** 53];
const FLOATS = [NaN, Infinity, -Infinity, 0, -0, 1e-45, 4e-44, 1e-7, 1, -1, 3.3, 1e4, 3.4e38, 1e300];
const TEXT = ['-1', '-5', '0', '1', '2.5', 'nan', 'NaN', 'inf', '1e400', '99999999999', '4294967297', ' ', '\n', ':', '(', ')', ',', 'none', 'gzip', 'bzip2', 'raw', '../', '/etc/passwd'];

export function mutationArb(hotOffsets: readonly number[]): fc.Arbitrary<Mutation> {
  const at = hotOffsets.length ? fc.oneof(fc.constantFrom(...hotOffsets), fc.nat({ max: 1024 }), fc.nat()) : fc.oneof(fc.nat({ max: 1024 }), fc.nat());
  return fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at, bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('byte' as const), at, value: fc.oneof(fc.constantFrom(0, 1, 0x7f, 0x80, 0xff), fc.integer({ min: 0, max: 255 })) }),
    fc.record({ kind: fc.constant('int' as const), at, width: fc.constantFrom(2 as const, 4 as const, 8 as const), value: fc.oneof(fc.constantFrom(...INTS), fc.integer()), le: fc.boolean() }),
    fc.record({ kind: fc.constant('float' as const), at, width: fc.constantFrom(4 as const, 8 as const), value: fc.oneof(fc.constantFrom(...FLOATS), fc.double()), le: fc.boolean() }),
    fc.record({ kind: fc.constant('truncate' as const), at }),
    fc.record({ kind: fc.constant('insert' as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
    fc.record({ kind: fc.constant('delete' as const), at, len: fc.integer({ min: 1, max: 64 }) }),
    fc.record({ kind: fc.constant('text' as const), at, text: fc.constantFrom(...TEXT) }),
  );
}

/** Apply edits in order to a copy of `seed`; offsets wrap around the current length. */
export function applyMutations(seed: Uint8Array, edits: readonly Mutation[]): Uint8Array {
  let b = new Uint8Array(seed); // a copy: the seeds may be Buffers, whose slice() is a view
  for (const m of edits) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    switch (m.kind) {
      case 'flip': b[at] = b[at]! ^ (1 << m.bit); break;
      case 'byte': b[at] = m.value; break;
      case 'int': {
        if (at + m.width > b.length) break;
        const dv = new DataView(b.buffer, b.byteOffset + at, m.width);
        if (m.width === 2) dv.setUint16(0, m.value & 0xffff, m.le);
        else if (m.width === 4) dv.setUint32(0, m.value >>> 0, m.le);
        else dv.setBigInt64(0, BigInt.asIntN(64, BigInt(Math.trunc(m.value))), m.le);
        break;
      }
      case 'float': {
        if (at + m.width > b.length) break;
        const dv = new DataView(b.buffer, b.byteOffset + at, m.width);
        if (m.width === 4) dv.setFloat32(0, m.value, m.le);
        else dv.setFloat64(0, m.value, m.le);
        break;
      }
      case 'truncate': b = b.slice(0, at); break;
      case 'insert': {
        const out = new Uint8Array(b.length + m.bytes.length);
        out.set(b.subarray(0, at));
        out.set(m.bytes, at);
        out.set(b.subarray(at), at + m.bytes.length);
        b = out;
        break;
      }
      case 'delete': b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(Math.min(b.length, at + m.len))]); break;
      case 'text': {
        const t = new TextEncoder().encode(m.text);
        for (let i = 0; i < t.length && at + i < b.length; i++) b[at + i] = t[i]!;
        break;
      }
    }
  }
  return b;
}
