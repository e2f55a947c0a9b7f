import { readFileSync, statSync } from 'node:fs';
import { readCheckpoint } from '../checkpoint/read-checkpoint.js';
import { writeSafetensors } from '../checkpoint/safetensors.js';
import type { StateDict } from '../checkpoint/tensor.js';
import { GOLDEN } from './_fixtures.js';

const MB = 1024 * 1024;

/** Collect garbage (with --expose-gc) and let V8 release freed ArrayBuffer backing stores. */
async function settle(): Promise<void> {
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 50));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function totalBytes(dict: StateDict): number {
  let n = 0;
  for (const t of dict.values()) n += t.data.byteLength;
  return n;
}

/** Load one golden checkpoint: memory on the first (cold) load, then timings over repeats. */
async function benchFile(name: string, repeats: number): Promise<void> {
  const path = `${GOLDEN}${name}`;
  const fileBytes = statSync(path).size;
  await settle();
  const before = process.memoryUsage();
  const maxRssBefore = process.resourceUsage().maxRSS * 1024;
  const t0 = performance.now();
  const bytes = readFileSync(path);
  const t1 = performance.now();
  let dict: StateDict | undefined = readCheckpoint(bytes, name);
  const t2 = performance.now();
  const after = process.memoryUsage();
  const maxRssAfter = process.resourceUsage().maxRSS * 1024;
  const tensorBytes = totalBytes(dict);
  const rssDelta = after.rss - before.rss;
  const peak = maxRssAfter - maxRssBefore;
  const peakText = peak > 0 ? `${(peak / MB).toFixed(1)} MB (${(peak / fileBytes).toFixed(2)}x file; target < 3x)` : 'below the earlier process peak';
  const abDelta = after.arrayBuffers - before.arrayBuffers;
  console.log(`${name}: ${(fileBytes / MB).toFixed(1)} MB file, ${dict.size} tensors, ${(tensorBytes / MB).toFixed(1)} MB of tensor data`);
  console.log(`  cold load: read ${(t1 - t0).toFixed(1)} ms + parse/copy ${(t2 - t1).toFixed(1)} ms = ${(t2 - t0).toFixed(1)} ms (target < 1000 ms)`);
  console.log(
    `  memory with file bytes + state_dict live: rss +${(rssDelta / MB).toFixed(1)} MB, arrayBuffers +${(abDelta / MB).toFixed(1)} MB ` +
      `(${(abDelta / fileBytes).toFixed(2)}x file; file + tensor data = ${((fileBytes + tensorBytes) / MB).toFixed(1)} MB), peak rss growth ${peakText}`,
  );
  dict = undefined;

  const readMs: number[] = [];
  const parseMs: number[] = [];
  for (let i = 0; i < repeats; i++) {
    await settle();
    const a = performance.now();
    const b = readFileSync(path);
    const m = performance.now();
    readCheckpoint(b, name);
    parseMs.push(performance.now() - m);
    readMs.push(m - a);
  }
  console.log(`  warm (median of ${repeats}): read ${median(readMs).toFixed(1)} ms, parse/copy ${median(parseMs).toFixed(1)} ms`);
}

export async function run(): Promise<void> {
  console.log(`checkpoint bench (node ${process.version}${(globalThis as { gc?: unknown }).gc ? ', --expose-gc' : ', run with --expose-gc for cleaner memory figures'})`);
  await benchFile('bone_sam.pth', 5);
  await benchFile('atten.pth', 5);
  // Reference in the same run: writing safetensors of the big checkpoint is a plain memcpy of the same data.
  const dict = readCheckpoint(readFileSync(`${GOLDEN}bone_sam.pth`), 'bone_sam.pth');
  const t0 = performance.now();
  const st = writeSafetensors(dict);
  const t1 = performance.now();
  const back = readCheckpoint(st, 'bone_sam.safetensors');
  const t2 = performance.now();
  console.log(`bone_sam -> safetensors: write ${(t1 - t0).toFixed(1)} ms (${(st.length / MB).toFixed(1)} MB), read back ${(t2 - t1).toFixed(1)} ms, ${back.size} tensors`);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
