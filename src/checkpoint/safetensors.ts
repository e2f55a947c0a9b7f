import { CheckpointError } from './errors.js';
import { copyBytes, typedArrayFor } from './strided.js';
import { concatChunks } from './bytes.js';
import { DTYPE_BYTES, numel, type DType, type StateDict } from './tensor.js';

/** safetensors dtype names <-> ours. */
const TO_SAFETENSORS: Record<DType, string> = {
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  float64: 'F64',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const FROM_SAFETENSORS = new Map<string, DType>(Object.entries(TO_SAFETENSORS).map(([ours, theirs]) => [theirs, ours as DType]));

/** Largest header the format allows (100 MB), to reject garbage lengths early. */
const MAX_HEADER_BYTES = 100_000_000;

/** Cheap content sniff: 8-byte header length followed by a JSON object. */
export function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const len = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return len >= 2n && len <= BigInt(Math.min(bytes.length - 8, MAX_HEADER_BYTES)) && bytes[8] === 0x7b;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

export function readSafetensors(bytes: Uint8Array, fileName: string): StateDict {
  const fail = (problem: string): never => {
    throw new CheckpointError(fileName, `safetensors: ${problem}`);
  };
  if (bytes.length < 8) fail(`truncated file (${bytes.length} bytes)`);
  const headerLen64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLen64 > BigInt(Math.min(bytes.length - 8, MAX_HEADER_BYTES))) fail(`header length ${headerLen64} exceeds the file (${bytes.length} bytes): truncated or not a safetensors file`);
  const headerLen = Number(headerLen64);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (err) {
    fail(`header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return fail('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const out: StateDict = new Map();
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const e = raw as Partial<HeaderEntry>;
    const dtype = typeof e?.dtype === 'string' ? FROM_SAFETENSORS.get(e.dtype) : undefined;
    if (!dtype) fail(`tensor '${name}' has unsupported dtype ${JSON.stringify(e?.dtype)}`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return fail(`tensor '${name}' has an invalid shape`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o) && o >= 0) || off[0] > off[1]) {
      return fail(`tensor '${name}' has invalid data_offsets`);
    }
    if (off[1] > dataLen) fail(`tensor '${name}' data [${off[0]}, ${off[1]}) lies past the end of the file (data section ${dataLen} bytes): truncated?`);
    const nbytes = numel(shape) * DTYPE_BYTES[dtype!];
    if (off[1] - off[0] !== nbytes) fail(`tensor '${name}' ${dtype} ${JSON.stringify(shape)} needs ${nbytes} bytes but data_offsets span ${off[1] - off[0]}`);
    // Copy into an own, aligned buffer: the data section need not be element-aligned.
    const copy = copyBytes(bytes.subarray(dataStart + off[0], dataStart + off[1]));
    out.set(name, { dtype: dtype!, shape: [...shape], data: typedArrayFor(dtype!, copy.buffer) });
  }
  return out;
}

/**
 * Serialise a state_dict as safetensors: tensors in map order, each contiguous row-major
 * little-endian; the JSON header is space-padded so the data section starts 8-byte aligned.
 */
export function writeSafetensors(dict: StateDict, metadata?: Record<string, string>): Uint8Array {
  return concatChunks(safetensorsChunks(dict, metadata));
}

/**
 * `writeSafetensors`'s bytes as chunks: the length-prefixed header, then each tensor's data as a view of its own
 * array (not copied), so a file writer can stream a large state (an optimizer's moments) without a second copy.
 */
export function safetensorsChunks(dict: StateDict, metadata?: Record<string, string>): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of dict) {
    const nbytes = numel(t.shape) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== nbytes) throw new Error(`tensor '${name}': data holds ${t.data.byteLength} bytes, shape ${JSON.stringify(t.shape)} ${t.dtype} needs ${nbytes}`);
    header[name] = { dtype: TO_SAFETENSORS[t.dtype], shape: t.shape, data_offsets: [offset, offset + nbytes] };
    offset += nbytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + padded);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  head.fill(0x20, 8 + json.length, 8 + padded);
  return [head, ...[...dict.values()].map((t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))];
}
