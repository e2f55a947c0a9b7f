import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { loadCheckpoint } from '../checkpoint/index.js';
import { createNodeRuntime, type Session } from '../graph/index.js';
import { buildEncoderGraph } from '../model/tinyvit.js';
import { GOLDEN } from './_fixtures.js';

const SIDE = 1024;
const PLANE = SIDE * SIDE;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** The golden slice's encoder input (ImageNet-normalised prenorm), or a deterministic pattern without fixtures. */
function encoderInput(): { data: Float32Array; golden: boolean } {
  const out = new Float32Array(3 * PLANE);
  const path = `${GOLDEN}encoder_input_prenorm.bin`;
  const mean = [0.485, 0.456, 0.406].map(Math.fround);
  const std = [0.229, 0.224, 0.225].map(Math.fround);
  const pre = existsSync(path) ? readF32(path) : Float32Array.from({ length: PLANE }, (_, i) => ((i * 2654435761) % 1000) / 1000);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < PLANE; i++) out[c * PLANE + i] = Math.fround(Math.fround(pre[i]! - mean[c]!) / std[c]!);
  }
  return { data: out, golden: existsSync(path) };
}

/** Median wall ms and process CPU ms per slice (CPU time shows contention from other processes). */
async function timeBatch(
  session: Session,
  input: Float32Array,
  batch: number,
  repeats: number,
): Promise<{ wall: number; cpu: number }> {
  const data = new Float32Array(batch * input.length);
  for (let b = 0; b < batch; b++) data.set(input, b * input.length);
  const feeds = { image: { data, dims: [batch, 3, SIDE, SIDE] } };
  await session.run(feeds); // warm-up
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await session.run(feeds);
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { wall: median(wall) / batch, cpu: median(cpu) / batch };
}

/**
 * Image encoder (TinyViT + adapters + neck) on onnxruntime-node CPU: graph build time, model bytes,
 * session creation, and median ms per slice at batch 1 and 2 after a warm-up run. Weights: the
 * golden bone_sam.pth, or SAB_SAM_WEIGHTS. Threads: SAB_THREADS (default ONNX Runtime's choice).
 */
export async function run(): Promise<void> {
  const weights = process.env['SAB_SAM_WEIGHTS'] ?? `${GOLDEN}bone_sam.pth`;
  const threads = Number(process.env['SAB_THREADS'] ?? 0);
  const repeats = Number(process.env['SAB_BENCH_REPEATS'] ?? 3);
  const sd = loadCheckpoint(weights);

  const t0 = performance.now();
  const g = buildEncoderGraph(sd, { batch: 'N' });
  const t1 = performance.now();
  const bytes = g.toBytes();
  const t2 = performance.now();
  const runtime = createNodeRuntime({ threads });
  const session = await runtime.session(bytes, 'image_encoder');
  const t3 = performance.now();
  console.log(`cpu: ${cpus().length} logical cores (${cpus()[0]?.model ?? '?'}), ORT intra-op threads: ${threads || 'default'}`);
  console.log(
    `graph: ${g.records.length} nodes, ${g.initializers.size} initializers; build ${(t1 - t0).toFixed(0)} ms, ` +
      `serialise ${(t2 - t1).toFixed(0)} ms, model ${(bytes.byteLength / 1e6).toFixed(2)} MB; session create ${(t3 - t2).toFixed(0)} ms`,
  );

  const input = encoderInput();
  for (const batch of [1, 2]) {
    const t = await timeBatch(session, input.data, batch, repeats);
    console.log(
      `batch ${batch}: ${t.wall.toFixed(0)} ms/slice wall, ${t.cpu.toFixed(0)} ms/slice process CPU ` +
        `(median of ${repeats} after a warm-up${batch === 1 ? '; target <= 400 ms/slice wall on 2 cores' : ''})`,
    );
  }

  const refPath = `${GOLDEN}image_embedding.bin`;
  if (input.golden && existsSync(refPath)) {
    const ref = readF32(refPath);
    const out = (await session.run({ image: { data: input.data, dims: [1, 3, SIDE, SIDE] } }))['image_embedding']!.data as Float32Array;
    let err = 0;
    let scale = 0;
    for (let i = 0; i < ref.length; i++) {
      err = Math.max(err, Math.abs(out[i]! - ref[i]!));
      scale = Math.max(scale, Math.abs(ref[i]!));
    }
    console.log(`parity vs golden image_embedding: max abs err ${err.toExponential(3)} = ${(err / scale).toExponential(3)} x max|ref| (tolerance 1e-4)`);
  }
  await session.release();
}
