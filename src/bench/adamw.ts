// AdamW step over stage 2's trainable parameters (attention fusion + mask decoder of the golden checkpoint)
// and over the VNet's (all of atten.pth, trained in stage 1): the WebAssembly SIMD kernel beside the scalar
// float32 loop it replaces, interleaved in one run.
import { loadCheckpoint } from '../checkpoint/load-checkpoint.js';
import { createArrayMomentStore, createMomentStore } from '../train/step/adamw/moments.js';
import { AdamW } from '../train/step/optim.js';
import { GOLDEN } from './_fixtures.js';

export async function run(): Promise<void> {
  await measure("stage 2's", 'bone_sam.pth', (k) => k.startsWith('attention_fusion.') || k.startsWith('mask_decoder.'));
  await measure("the VNet's", 'atten.pth', () => true);
}

async function measure(label: string, file: string, trained: (key: string) => boolean): Promise<void> {
  const params = new Map<string, Float32Array>();
  for (const [k, t] of loadCheckpoint(`${GOLDEN}${file}`)) {
    if (trained(k) && t.dtype === 'float32' && !k.includes('running_')) params.set(k, Float32Array.from(t.data as Float32Array));
  }
  const count = [...params.values()].reduce((n, p) => n + p.length, 0);
  let seed = 1;
  const grads = new Map([...params].map(([k, p]) => [k, Float32Array.from(p, () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 1e-2)]));
  const variants = { 'scalar loop': new AdamW({}, createArrayMomentStore()), 'SIMD kernel': new AdamW({}, createMomentStore()) };
  const times = new Map<string, number[]>(Object.keys(variants).map((k) => [k, []]));
  const repeats = Number(process.env['SAB_BENCH_REPEATS'] ?? 7);
  for (let r = -1; r < repeats; r++) {
    for (const [name, opt] of Object.entries(variants)) {
      const t = performance.now();
      opt.step(params, grads, 1e-4);
      if (r >= 0) times.get(name)!.push(performance.now() - t);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const ref = median(times.get('scalar loop')!);
  process.stdout.write(`AdamW step, ${params.size} tensors, ${(count / 1e6).toFixed(2)}M parameters (${label}), median of ${repeats} after a warm-up, interleaved:\n`);
  for (const [name, ts] of times) process.stdout.write(`  ${name.padEnd(12)} ${median(ts).toFixed(1).padStart(7)} ms  (${(ref / median(ts)).toFixed(2)}x the scalar loop)\n`);
}
