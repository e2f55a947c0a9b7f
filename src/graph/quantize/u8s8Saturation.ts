import { readFileSync } from 'node:fs';

/**
 * Whether ONNX Runtime's CPU u8s8 integer GEMM (DynamicQuantizeMatMul) saturates on this machine. On x86
 * without VNNI its AVX2 and AVX-512 kernels multiply with VPMADDUBSW, which adds two u8 x s8 products into a
 * signed 16-bit sum, clamped: 255 x 127 x 2 does not fit, 255 x 63 x 2 does (ONNX Runtime's quantization
 * docs: "reduce_range"). VNNI (AVX-512 VNNI, AVX-VNNI) accumulates in 32 bits, as do arm64's dot products.
 * Measured on an AVX2-only EPYC (sample MRI, slices 20-43): 8-bit weights gave an embedding error of 1.9e-1
 * against float32, 7-bit weights 4.7e-2 — what 8-bit weights give with VNNI.
 *
 * `cpuinfo` is /proc/cpuinfo's text, undefined where there is none (macOS, Windows): x86 is then assumed to
 * saturate, since 7-bit weights are safe on every CPU and 8-bit ones are not.
 */
export function u8s8Saturates(arch: string, cpuinfo: string | undefined): boolean {
  if (arch !== 'x64' && arch !== 'ia32') return false;
  if (cpuinfo === undefined) return true;
  const flags = /^flags\s*:(.*)$/m.exec(cpuinfo)?.[1]?.trim().split(/\s+/) ?? [];
  return !flags.includes('avx512_vnni') && !flags.includes('avx_vnni');
}

let detected: boolean | undefined;

/** u8s8Saturates for the CPU this process runs on (/proc/cpuinfo read once per process). */
export function detectU8s8Saturation(): boolean {
  if (detected === undefined) {
    let cpuinfo: string | undefined;
    try {
      cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      cpuinfo = undefined;
    }
    detected = u8s8Saturates(process.arch, cpuinfo);
  }
  return detected;
}
