import { CheckpointError } from './errors.js';

/**
 * Restricted pickle reader. Python's pickle format is a small stack machine whose GLOBAL/REDUCE
 * opcodes can call arbitrary code; general-purpose JS unpicklers resolve globals loosely. Here every
 * global goes through `resolveGlobal` (a whitelist supplied by the caller): anything else throws
 * before any value is produced, and nothing is ever evaluated. Only the opcodes that a torch
 * state_dict (protocols 2-5) uses are implemented; any other opcode is an error.
 */

/** A callable the pickle may invoke via REDUCE / NEWOBJ (only ever a whitelisted one). */
export interface PyCallable {
  readonly qualifiedName: string;
  call(args: readonly unknown[]): unknown;
}

/** Objects that accept BUILD (`__setstate__`). */
export interface PyBuildable {
  setState(state: unknown): void;
}

/** Python tuple: a frozen JS array. Lists are ordinary arrays, dicts are Maps. */
export type PyTuple = readonly unknown[];

export interface UnpickleOptions {
  fileName: string;
  /** Returns the whitelisted callable for `module.name`, or undefined to reject it. */
  resolveGlobal(module: string, name: string): PyCallable | undefined;
  /** BINPERSID handler (torch storages); absent means persistent ids are rejected. */
  persistentLoad?(pid: unknown): unknown;
}

export interface UnpickleResult {
  value: unknown;
  /** Offset just past the STOP opcode (the legacy torch format has several pickles back to back). */
  end: number;
}

const MARK = Symbol('mark');

function isBuildable(v: unknown): v is PyBuildable {
  return typeof v === 'object' && v !== null && typeof (v as PyBuildable).setState === 'function';
}

function isCallable(v: unknown): v is PyCallable {
  return typeof v === 'object' && v !== null && typeof (v as PyCallable).call === 'function' && 'qualifiedName' in v;
}

export function unpickle(bytes: Uint8Array, options: UnpickleOptions, start = 0): UnpickleResult {
  const { fileName } = options;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const stack: unknown[] = [];
  const markStack: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = start;

  const fail = (problem: string): never => {
    throw new CheckpointError(fileName, `pickle: ${problem}`);
  };
  const need = (n: number): void => {
    if (pos + n > bytes.length) fail(`truncated data at offset ${pos}`);
  };
  const u8 = (): number => (need(1), bytes[pos++]!);
  const u16 = (): number => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = (): number => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const i32 = (): number => (need(4), (pos += 4), view.getInt32(pos - 4, true));
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail('length too large');
    return Number(v);
  };
  const take = (n: number): Uint8Array => (need(n), (pos += n), bytes.subarray(pos - n, pos));
  const text = (n: number): string => {
    try {
      return utf8.decode(take(n));
    } catch {
      return fail(`invalid UTF-8 string at offset ${pos - n}`);
    }
  };
  const line = (): string => {
    const nl = bytes.indexOf(0x0a, pos);
    if (nl < 0) fail(`unterminated text line at offset ${pos}`);
    const s = new TextDecoder('latin1').decode(bytes.subarray(pos, nl));
    pos = nl + 1;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (markStack.length > 0 && stack.length <= markStack[markStack.length - 1]!)) fail('stack underflow');
    const v = stack.pop();
    if (v === MARK) fail('unexpected MARK');
    return v;
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = markStack.pop();
    if (m === undefined) fail('missing MARK');
    return stack.splice(m!);
  };
  const global = (module: string, name: string): PyCallable => {
    const fn = options.resolveGlobal(module, name);
    if (!fn) fail(`refusing global ${module}.${name} (not on the whitelist; nothing was executed)`);
    return fn!;
  };
  const dictOf = (v: unknown, op: string): Map<unknown, unknown> => {
    if (!(v instanceof Map)) fail(`${op} target is not a dict`);
    return v as Map<unknown, unknown>;
  };
  const listOf = (v: unknown, op: string): unknown[] => {
    if (!Array.isArray(v) || Object.isFrozen(v)) fail(`${op} target is not a list`);
    return v as unknown[];
  };
  const decodeLong = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const tuple = (items: unknown[]): PyTuple => Object.freeze(items);

  for (;;) {
    const opPos = pos;
    const op = u8();
    switch (op) {
      case 0x80: {
        const proto = u8();
        if (proto > 5) fail(`unsupported pickle protocol ${proto}`);
        break;
      } // PROTO
      case 0x95: u64(); break; // FRAME: framing is only a hint for buffered readers
      case 0x2e: { // STOP
        const value = pop();
        return { value, end: pos };
      }
      case 0x28: markStack.push(stack.length); break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: stack.push(decodeLong(take(u8()))); break; // LONG1
      case 0x8b: { // LONG4
        const n = i32();
        // Bounded: decoding is quadratic in length, and tensor metadata never needs huge integers.
        if (n < 0 || n > 1024) fail(`LONG4 length ${n} out of range`);
        stack.push(decodeLong(take(n)));
        break;
      }
      case 0x47: need(8); stack.push(view.getFloat64(pos, false)); pos += 8; break; // BINFLOAT (big-endian)
      case 0x58: stack.push(text(u32())); break; // BINUNICODE
      case 0x8c: stack.push(text(u8())); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(text(u64())); break; // BINUNICODE8
      case 0x55: stack.push(new TextDecoder('latin1').decode(take(u8()))); break; // SHORT_BINSTRING
      case 0x54: { // BINSTRING
        const n = i32();
        if (n < 0) fail('negative BINSTRING length');
        stack.push(new TextDecoder('latin1').decode(take(n)));
        break;
      }
      case 0x43: stack.push(new Uint8Array(take(u8()))); break; // SHORT_BINBYTES
      case 0x42: stack.push(new Uint8Array(take(u32()))); break; // BINBYTES
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push(tuple([])); break; // EMPTY_TUPLE
      case 0x74: stack.push(tuple(popMark())); break; // TUPLE
      case 0x85: stack.push(tuple([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(tuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(tuple([a, b, c])); break; } // TUPLE3
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x64: { // DICT
        const items = popMark();
        const d = new Map<unknown, unknown>();
        for (let i = 0; i + 1 < items.length; i += 2) d.set(items[i], items[i + 1]);
        stack.push(d);
        break;
      }
      case 0x61: { const v = pop(); listOf(top(), 'APPEND').push(v); break; } // APPEND
      case 0x65: { // APPENDS (a loop, not push(...items): spreading a huge list overflows the call stack)
        const items = popMark();
        const list = listOf(top(), 'APPENDS');
        for (const v of items) list.push(v);
        break;
      }
      case 0x73: { const v = pop(); const k = pop(); dictOf(top(), 'SETITEM').set(k, v); break; } // SETITEM
      case 0x75: { // SETITEMS
        const items = popMark();
        if (items.length % 2) fail('SETITEMS with an odd number of items');
        const d = dictOf(top(), 'SETITEMS');
        for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]);
        break;
      }
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET / LONG_BINGET
        const idx = op === 0x68 ? u8() : u32();
        if (!memo.has(idx)) fail(`memo index ${idx} not defined`);
        stack.push(memo.get(idx));
        break;
      }
      case 0x63: { const module = line(); const name = line(); stack.push(global(module, name)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: case 0x81: { // REDUCE / NEWOBJ
        const args = pop();
        const fn = pop();
        if (!isCallable(fn)) fail(`${op === 0x52 ? 'REDUCE' : 'NEWOBJ'} on a non-callable at offset ${opPos}`);
        if (!Array.isArray(args)) fail('call arguments are not a tuple');
        stack.push((fn as PyCallable).call(args as unknown[]));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const obj = top();
        // A torch state_dict is an OrderedDict carrying `_metadata` (module versions); it is not needed.
        if (obj instanceof Map) break;
        if (!isBuildable(obj)) fail(`BUILD on an object that does not accept state at offset ${opPos}`);
        (obj as PyBuildable).setState(state);
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) fail('persistent id found but this file kind has no external storages');
        stack.push(options.persistentLoad!(pid));
        break;
      }
      default:
        fail(`unsupported opcode 0x${op.toString(16).padStart(2, '0')} at offset ${opPos}`);
    }
  }
}
