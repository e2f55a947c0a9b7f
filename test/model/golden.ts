import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The read-only golden fixtures, read in place (../shared relative to the repository). */
export const GOLDEN = fileURLToPath(new URL('../../../shared/fixtures/golden/', import.meta.url));

export interface GoldenTensorInfo {
  name: string;
  file: string;
  dtype: string;
  shape: number[];
  min?: number;
  max?: number;
  mean?: number;
  description?: string;
}

interface Manifest {
  tensors: GoldenTensorInfo[];
  scalars: Record<string, unknown>;
  [key: string]: unknown;
}

let manifestCache: Manifest | undefined;

export function goldenManifest(): Manifest {
  manifestCache ??= JSON.parse(readFileSync(`${GOLDEN}manifest.json`, 'utf8')) as Manifest;
  return manifestCache;
}

export function goldenInfo(name: string): GoldenTensorInfo {
  const m = goldenManifest();
  const training = (m['training'] as { tensors?: GoldenTensorInfo[] } | undefined)?.tensors ?? [];
  const info = m.tensors.find((t) => t.name === name) ?? training.find((t) => t.name === name);
  if (!info) throw new Error(`golden tensor ${name} is not in manifest.json`);
  return info;
}

/** A float32 golden tensor (raw little-endian C order) with its manifest shape. */
export function loadGoldenF32(name: string): { data: Float32Array; dims: number[] } {
  const info = goldenInfo(name);
  if (info.dtype !== 'float32') throw new Error(`golden tensor ${name} is ${info.dtype}, not float32`);
  const bytes = readFileSync(`${GOLDEN}${info.file}`);
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const n = info.shape.reduce((p, d) => p * d, 1);
  if (data.length !== n) throw new Error(`golden tensor ${name}: ${data.length} values, shape needs ${n}`);
  return { data, dims: info.shape };
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** The parity figure: max |actual - reference| / max |reference| (tolerance 1e-4). */
export function relMaxErr(actual: ArrayLike<number>, reference: ArrayLike<number>): number {
  return maxAbsDiff(actual, reference) / maxAbs(reference);
}

/** A uint8 golden tensor (e.g. a 0/1 mask) with its manifest shape. */
export function loadGoldenU8(name: string): { data: Uint8Array; dims: number[] } {
  const info = goldenInfo(name);
  if (info.dtype !== 'uint8') throw new Error(`golden tensor ${name} is ${info.dtype}, not uint8`);
  const bytes = readFileSync(`${GOLDEN}${info.file}`);
  const data = new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const n = info.shape.reduce((p, d) => p * d, 1);
  if (data.length !== n) throw new Error(`golden tensor ${name}: ${data.length} values, shape needs ${n}`);
  return { data, dims: info.shape };
}
