import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { loadCheckpoint, type StateDict } from '../checkpoint/index.js';
import { createNodeRuntime, type Runtime, type RunTensor } from '../graph/index.js';
import { buildDecoderGraph, DecoderIO, type DecoderGraphOptions } from '../model/decoderGraph.js';
import { buildFusionGraph } from '../model/fusion.js';
import { encodePrompts } from '../model/promptEncoder.js';
import type { GraphBuilder } from '../graph/builder.js';
import { GOLDEN } from './_fixtures.js';

const TARGET_MS = 30;

function readF32OrPattern(file: string, n: number, scale: number): Float32Array {
  const path = `${GOLDEN}${file}`;
  if (existsSync(path)) {
    const b = readFileSync(path);
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  }
  return Float32Array.from({ length: n }, (_, i) => (((i * 2654435761) % 1000) / 1000) * scale);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timeGraph(
  runtime: Runtime,
  g: GraphBuilder,
  feeds: Record<string, RunTensor>,
  repeats: number,
): Promise<{ median: number; min: number; cpu: number }> {
  const session = await runtime.session(g.toBytes(), g.name);
  // Ask only for the results a caller uses; the tracing outputs would add copies.
  const outputs = [DecoderIO.lowResLogits, DecoderIO.iouPred].filter((n) => session.outputNames.includes(n));
  const wanted = outputs.length ? outputs : undefined;
  for (let i = 0; i < 3; i++) await session.run(feeds, wanted); // warm-up
  const ms: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    await session.run(feeds, wanted);
    ms.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  await session.release();
  // CPU time (all threads) per run is far less disturbed than wall time when other work shares the cores.
  return { median: median(ms), min: Math.min(...ms), cpu: (cpu.user + cpu.system) / 1000 / repeats };
}

/**
 * Prompt encoder + mask decoder (+ attention fusion) on onnxruntime-node CPU: median ms per run after
 * 3 warm-up runs, automatic and point modes, with the fusion inside the graph and on a cached fused
 * embedding (the interactive path: fusion once per slice, then each prompt runs the decoder only).
 * Weights: golden bone_sam.pth or SAB_SAM_WEIGHTS; threads: SAB_THREADS; repeats: SAB_BENCH_REPEATS.
 */
export async function run(): Promise<void> {
  const weights = process.env['SAB_SAM_WEIGHTS'] ?? `${GOLDEN}bone_sam.pth`;
  const threads = Number(process.env['SAB_THREADS'] ?? 0);
  const repeats = Number(process.env['SAB_BENCH_REPEATS'] ?? 20);
  const sd: StateDict = loadCheckpoint(weights);
  const runtime = createNodeRuntime({ threads });

  const embedding: RunTensor = { data: readF32OrPattern('image_embedding.bin', 256 * 64 * 64, 2), dims: [1, 256, 64, 64] };
  const attention: RunTensor = { data: readF32OrPattern('attention_map_batchstats.bin', 64 * 64, 1), dims: [1, 64, 64] };
  const p = encodePrompts({ points: [[520, 430, 1], [300, 800, 0]] });
  const prompt: Record<string, RunTensor> = {
    [DecoderIO.pointCoords]: { data: p.coords, dims: [1, p.count, 2] },
    [DecoderIO.pointLabels]: { data: p.labels, dims: [1, p.count] },
  };
  console.log(`cpu: ${cpus()[0]?.model ?? '?'} x${cpus().length}, threads ${threads || 'ORT default'}, ${repeats} runs`);

  const cases: [string, DecoderGraphOptions, Record<string, RunTensor>][] = [
    ['auto, fusion in graph', { mode: 'auto', attention: true }, { [DecoderIO.attentionMap]: attention }],
    ['point (2 pts), fusion in graph', { mode: 'prompt', attention: true }, { [DecoderIO.attentionMap]: attention, ...prompt }],
    ['auto, cached fused embedding', { mode: 'auto', attention: false }, {}],
    ['point (2 pts), cached fused embedding', { mode: 'prompt', attention: false }, prompt],
  ];
  for (const [label, opts, extra] of cases) {
    const t0 = performance.now();
    const g = buildDecoderGraph(sd, opts);
    const buildMs = performance.now() - t0;
    const t = await timeGraph(runtime, g, { [DecoderIO.imageEmbedding]: embedding, ...extra }, repeats);
    const verdict = opts.attention ? '' : t.median <= TARGET_MS ? ` (target <= ${TARGET_MS} ms: met)` : ` (target <= ${TARGET_MS} ms: MISSED)`;
    console.log(
      `decoder ${label}: ${t.median.toFixed(1)} ms median, ${t.min.toFixed(1)} ms min per run, ` +
        `${t.cpu.toFixed(1)} ms CPU (all threads) per run; build ${buildMs.toFixed(0)} ms${verdict}`,
    );
  }
  const fusion = await timeGraph(runtime, buildFusionGraph(sd), { [DecoderIO.imageEmbedding]: embedding, [DecoderIO.attentionMap]: attention }, repeats);
  console.log(
    `attention fusion alone (once per slice): ${fusion.median.toFixed(1)} ms median, ${fusion.min.toFixed(1)} ms min, ` +
      `${fusion.cpu.toFixed(1)} ms CPU per run`,
  );
  console.log(`load average at the end: ${loadavg()[0]!.toFixed(2)} (wall times are only meaningful near 0 on this machine)`);
}
