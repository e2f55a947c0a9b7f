// Test-only readers for the golden fixtures (raw .bin tensors, the wrist MRI NIfTI, the official NRRD mask).
// Deliberately minimal and independent of src/io.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';

const SHARED = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));
export const GOLDEN = `${SHARED}golden/`;
export const MRI = `${SHARED}mri/`;

interface ManifestTensor {
  name: string;
  file: string;
  dtype: string;
  shape: number[];
}
export interface Manifest {
  scalars: Record<string, unknown> & {
    stats: Record<'eval' | 'batchstats', { vnet_sigmoid_sha256_float32: string; 'vnet_sigmoid_le_0.1_fraction': number }>;
    extra_preprocessing_case: Record<string, number | boolean | number[] | string>;
  };
  tensors: ManifestTensor[];
  training: { tensors: ManifestTensor[]; scalars: Record<string, number | boolean> };
  case: { slice_id: number };
}

let manifest: Manifest | undefined;
export function loadManifest(): Manifest {
  manifest ??= JSON.parse(readFileSync(`${GOLDEN}manifest.json`, 'utf8')) as Manifest;
  return manifest;
}

function bytes(name: string): Buffer {
  const buf = readFileSync(`${GOLDEN}${name}.bin`);
  // Copy into a fresh, aligned ArrayBuffer so typed views are safe.
  return Buffer.from(buf);
}

export function goldenF32(name: string): Float32Array {
  const b = bytes(name);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4).slice();
}

export function goldenU8(name: string): Uint8Array {
  return new Uint8Array(bytes(name));
}

export function sha256(data: ArrayBufferView): string {
  return createHash('sha256').update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest('hex');
}

/** uint16 NIfTI-1 (.nii.gz) reader: dims at byte 40, datatype at 70, vox_offset at 108, little endian. */
export function loadWristMri(): { data: Uint16Array; dims: [number, number, number] } {
  const raw = gunzipSync(readFileSync(`${MRI}wrist_2.nii.gz`));
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (view.getInt32(0, true) !== 348) throw new Error('wrist_2.nii.gz: not a little-endian NIfTI-1 file');
  const dims: [number, number, number] = [view.getInt16(42, true), view.getInt16(44, true), view.getInt16(46, true)];
  const datatype = view.getInt16(70, true);
  if (datatype !== 512) throw new Error(`wrist_2.nii.gz: expected uint16 (512), got datatype ${datatype}`);
  const offset = Math.trunc(view.getFloat32(108, true));
  const n = dims[0] * dims[1] * dims[2];
  const data = new Uint16Array(n);
  for (let i = 0; i < n; i++) data[i] = view.getUint16(offset + 2 * i, true);
  return { data, dims };
}

/** The official prediction NRRD (int32, gzip or raw body, little endian). */
export function loadOfficialPrediction(): { data: Int32Array; dims: [number, number, number] } {
  const file = readFileSync(`${MRI}wrist_2_official_prediction.nrrd`);
  const end = file.indexOf('\n\n');
  if (end < 0) throw new Error('official prediction NRRD: no header terminator');
  const fields = new Map<string, string>();
  for (const line of file.subarray(0, end).toString('latin1').split('\n')) {
    const m = /^([^#:][^:]*):\s*(.*)$/.exec(line);
    if (m) fields.set(m[1]!.trim(), m[2]!.trim());
  }
  if (fields.get('type') !== 'int' || fields.get('endian') !== 'little') throw new Error('official prediction NRRD: expected little-endian int');
  const dims = fields.get('sizes')!.split(/\s+/).map(Number) as [number, number, number];
  const body = file.subarray(end + 2);
  const raw = fields.get('encoding') === 'gzip' ? gunzipSync(body) : body;
  const n = dims[0] * dims[1] * dims[2];
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const data = new Int32Array(n);
  for (let i = 0; i < n; i++) data[i] = view.getInt32(4 * i, true);
  return { data, dims };
}

/** Number of positions where two arrays differ, and the largest absolute difference. */
export function compare(a: ArrayLike<number>, b: ArrayLike<number>): { mismatches: number; maxAbs: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let mismatches = 0;
  let maxAbs = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) {
      mismatches++;
      maxAbs = Math.max(maxAbs, Math.abs(a[i]! - b[i]!));
    }
  }
  return { mismatches, maxAbs };
}
