// The int8 encoder's options, measured against float32 in one interleaved run on the golden slice: the shipped
// dynamic quantization (`--precision int8`), static QDQ quantization (QLinearConv / QLinearMatMul, calibrated),
// ONNX Runtime session options, and whether bfloat16 has a CPU kernel at all. Prints ms per slice (wall and
// process CPU: other processes share the cores), the speed-up over float32, the embedding error against the
// official float32 tensor, and which int8 kernels ONNX Runtime actually runs after its graph optimizations.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { loadCheckpoint } from '../checkpoint/index.js';
import { GraphBuilder } from '../graph/builder.js';
import { ModelProto } from '../graph/onnxSchema.js';
import { addRangeOutputs, INT7_LEVELS, INT8_LEVELS, planStatic, quantizeMatMulWeights, quantizeStatic, RangeObserver, type StaticQuantizeOptions } from '../graph/quantize/index.js';
import { detectU8s8Saturation } from '../graph/quantize/u8s8Saturation.js';
import { buildEncoderGraph } from '../model/tinyvit.js';
import { normaliseForEncoder } from '../pipeline/preprocess/index.js';
import { RelativeError } from '../pipeline/precisionAgreement.js';
import { GOLDEN } from './_fixtures.js';

const DIMS = [1, 3, 1024, 1024];

function readF32(file: string): Float32Array {
  const b = readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Session options as the project's Runtime sets them, plus one variant's changes. */
function sessionOptions(change: { threads?: number; level?: 'extended'; config?: Record<string, string> } = {}): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: change.level ?? 'all',
    ...(change.threads ? { intraOpNumThreads: change.threads } : {}),
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' }, ...(change.config ?? {}) } },
  };
}

/** Op types of the graph ONNX Runtime runs after its optimizations (written out, then read back). */
async function optimizedOps(model: Uint8Array, dir: string, name: string): Promise<Map<string, number>> {
  const file = path.join(dir, `${name}.optimized.onnx`);
  const s = await ort.InferenceSession.create(model, { ...sessionOptions(), optimizedModelFilePath: file, logSeverityLevel: 3 });
  await s.release();
  const proto = ModelProto.decode(readFileSync(file)) as unknown as { graph: { node: { opType: string }[] } };
  const ops = new Map<string, number>();
  for (const n of proto.graph.node) ops.set(n.opType, (ops.get(n.opType) ?? 0) + 1);
  return ops;
}

/**
 * Kernel time per op type over `runs` profiled runs (ONNX Runtime's profiler; it slows small kernels, so
 * the shares, not the absolute times, are the figure), and the share of the MatMuls with a constant weight.
 */
async function profileShares(
  model: Uint8Array,
  feeds: Record<string, ort.Tensor>,
  dir: string,
  runs: number,
): Promise<{ shares: Map<string, number>; msPerRun: number }> {
  const prefix = path.join(dir, `profile-${Math.random().toString(36).slice(2)}`);
  const s = await ort.InferenceSession.create(model, { ...sessionOptions(), enableProfiling: true, profileFilePrefix: prefix });
  for (let r = 0; r < runs; r++) await s.run(feeds);
  (s as unknown as { endProfiling?: () => void }).endProfiling?.();
  await s.release();
  const file = readdirSync(dir).map((f) => path.join(dir, f)).find((f) => f.startsWith(prefix) && f.endsWith('.json'));
  if (!file) throw new Error('ONNX Runtime wrote no profile');
  type Event = { cat: string; name: string; dur: number; args: { op_name?: string; input_type_shape?: Record<string, number[]>[] } };
  const events = JSON.parse(readFileSync(file, 'utf8')) as Event[];
  const byOp = new Map<string, number>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !e.args.op_name) continue;
    // A MatMul by a weight matrix: its constant right operand is prepacked (the profile lists only the left
    // one) or 2-D; attention's QK^T and AV multiply two 4-D activations.
    const inputs = e.args.input_type_shape ?? [];
    const weight = e.args.op_name === 'MatMul' && (inputs.length === 1 || Object.values(inputs[1] ?? {})[0]?.length === 2);
    const key = weight ? 'MatMul (weight)' : e.args.op_name;
    byOp.set(key, (byOp.get(key) ?? 0) + e.dur);
  }
  const total = [...byOp.values()].reduce((a, b) => a + b, 0);
  // The first run (allocations, prepacking) is left in: runs is small, and the figure is relative.
  return { shares: new Map([...byOp].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / total])), msPerRun: total / 1000 / runs };
}

const shareLine = ({ shares, msPerRun }: { shares: Map<string, number>; msPerRun: number }): string =>
  `${msPerRun.toFixed(0)} ms kernel time per run: ` + [...shares].slice(0, 9).map(([k, v]) => `${k} ${(100 * v).toFixed(1)}%`).join(', ');

/**
 * GELU forms on a stage-0-sized tensor [1,256,256,256] (4 chained, so the kernel, not the copy out, is timed):
 * the exact erf GELU the model uses against the cheaper approximations an int8 graph could afford.
 */
async function geluForms(rounds: number): Promise<string> {
  const shape = [1, 256, 256, 256];
  const forms: Record<string, (g: GraphBuilder, v: ReturnType<GraphBuilder['input']>) => ReturnType<GraphBuilder['input']>> = {
    'erf (model)': (g, v) => g.gelu(v),
    tanh: (g, v) => g.gelu(v, 'tanh'),
    QuickGelu: (g, v) => g.op('QuickGelu', [v], { alpha: 1.702 }, { domain: 'com.microsoft' }),
  };
  const x = Float32Array.from({ length: 256 ** 3 }, (_, i) => 3 * Math.sin(i));
  const feeds = { x: new ort.Tensor('float32', x, shape) };
  const sessions: [string, ort.InferenceSession][] = [];
  for (const [name, form] of Object.entries(forms)) {
    const g = new GraphBuilder('gelu');
    let v = g.input('x', 'float32', shape);
    for (let i = 0; i < 4; i++) v = form(g, g.mul(v, g.scalar(0.9)));
    g.output(g.reduceSum(v, [1, 2, 3], false), 'y');
    const s = await ort.InferenceSession.create(g.toBytes(), sessionOptions());
    await s.run(feeds);
    sessions.push([name, s]);
  }
  const cpu = sessions.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (const [i, [, s]] of sessions.entries()) {
      const c0 = process.cpuUsage();
      await s.run(feeds);
      const c = process.cpuUsage(c0);
      cpu[i]!.push((c.user + c.system) / 1000 / 4);
    }
  }
  for (const [, s] of sessions) await s.release();
  return sessions.map(([name], i) => `${name} ${median(cpu[i]!).toFixed(1)} ms`).join(', ');
}

/** Whether ONNX Runtime's CPU provider can open a bfloat16 MatMul (the one op a bf16 encoder would need most). */
async function bf16MatMul(): Promise<string> {
  const g = new GraphBuilder('bf16');
  const x = g.input('x', 'float32', [4, 8]);
  const w = g.initializer('w', { dtype: 'float32', shape: [8, 4], data: new Float32Array(32) });
  const bf = (v: typeof x) => g.op('Cast', [v], { to: 16 }, { dtype: 'bfloat16' });
  g.output(g.op('Cast', [g.matmul(bf(x), bf(w))], { to: 1 }, { dtype: 'float32' }), 'y');
  try {
    await (await ort.InferenceSession.create(g.toBytes(), sessionOptions())).release();
    return 'a bfloat16 MatMul opens on the CPU provider';
  } catch (err) {
    return `no bfloat16 CPU MatMul kernel (${(err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 160)})`;
  }
}

export async function run(): Promise<void> {
  const rounds = Number(process.env['SAB_BENCH_REPEATS'] ?? 3);
  const sd = loadCheckpoint(`${GOLDEN}bone_sam.pth`);
  const image = normaliseForEncoder(readF32(`${GOLDEN}encoder_input_prenorm.bin`));
  const reference = readF32(`${GOLDEN}image_embedding.bin`);
  const feeds = { image: new ort.Tensor('float32', image, DIMS) };
  const fresh = () => buildEncoderGraph(sd, { batch: 'N' });
  // As --precision int8 does: 7-bit weights where this CPU's u8s8 kernels clamp 8-bit products.
  const saturates = detectU8s8Saturation();
  const weightLevels = saturates ? INT7_LEVELS : INT8_LEVELS;
  console.log(`int8 weights: ${saturates ? '7-bit (this CPU has no VNNI: its u8s8 kernels saturate 8-bit ones)' : '8-bit'}`);
  const dynamicGraph = (levels: number): Uint8Array => {
    const g = fresh();
    quantizeMatMulWeights(g, { weightLevels: levels });
    return g.toBytes();
  };

  // Static QDQ needs activation ranges: calibrated on this very slice, the most favourable choice there is
  // (no range is ever exceeded), so the error it shows is the least static quantization can have here.
  const staticGraph = async (options: StaticQuantizeOptions, dynamicMatMuls: boolean): Promise<Uint8Array> => {
    const calibration = fresh();
    const observer = new RangeObserver(addRangeOutputs(calibration, planStatic(fresh(), options).activations));
    const s = await ort.InferenceSession.create(calibration.toBytes(), sessionOptions());
    observer.observe((await s.run(feeds, observer.outputNames)) as Record<string, { data: Float32Array }>);
    await s.release();
    const g = fresh();
    quantizeStatic(g, observer.ranges, { ...options, weightLevels });
    if (dynamicMatMuls) quantizeMatMulWeights(g, { weightLevels });
    return g.toBytes();
  };
  const float32 = fresh().toBytes();
  const dynamic = dynamicGraph(weightLevels);
  const variants: { label: string; model: Uint8Array; options?: Parameters<typeof sessionOptions>[0] }[] = [
    { label: 'float32 (reference)', model: float32 },
    { label: 'int8 dynamic MatMul (--precision int8)', model: dynamic },
    { label: 'float32, 1 intra-op thread', model: float32, options: { threads: 1 } },
    { label: 'int8 dynamic, 1 intra-op thread', model: dynamic, options: { threads: 1 } },
    { label: 'int8 dynamic, no NCHWc (level extended)', model: dynamic, options: { level: 'extended' } },
    { label: 'int8 dynamic, denormals as zero', model: dynamic, options: { config: { set_denormal_as_zero: '1' } } },
    ...(saturates ? [{ label: 'int8 dynamic, 8-bit weights (saturating here)', model: dynamicGraph(INT8_LEVELS) }] : []),
    { label: 'int8 static QDQ Conv + dynamic MatMul', model: await staticGraph({ weightMatmuls: false }, true) },
    { label: 'int8 static QDQ Conv + MatMul', model: await staticGraph({}, false) },
    { label: 'int8 static QDQ Conv + MatMul + QK^T/AV', model: await staticGraph({ activationMatmuls: true }, false) },
  ];

  const dir = mkdtempSync(path.join(tmpdir(), 'sab-bench-int8-'));
  try {
    for (const [i, v] of variants.entries()) {
      if (i === 0 || v.options) continue;
      const ops = await optimizedOps(v.model, dir, `v${i}`);
      const int8 = ['QLinearConv', 'QLinearMatMul', 'MatMulIntegerToFloat', 'DynamicQuantizeMatMul', 'QLinearAdd', 'Conv', 'MatMul', 'FusedConv', 'QuantizeLinear', 'DequantizeLinear'];
      console.log(`${v.label}: ONNX Runtime runs ${int8.filter((k) => ops.has(k)).map((k) => `${ops.get(k)} ${k}`).join(', ')}`);
    }
    // Where the time goes. In float32, the MatMuls with a weight matrix are the work int8 GEMMs replace;
    // everything else bounds what any MatMul quantization can give.
    const f32 = await profileShares(float32, feeds, dir, 3);
    const q = await profileShares(dynamic, feeds, dir, 3);
    const w = f32.shares.get('MatMul (weight)') ?? 0;
    console.log(`profile float32 (share of kernel time): ${shareLine(f32)}`);
    console.log(
      `  -> MatMuls with a weight are ${(100 * w).toFixed(1)}% of float32: int8 GEMMs that took no time at all would give at most ${(1 / (1 - w)).toFixed(2)}x`,
    );
    console.log(`profile int8 dynamic: ${shareLine(q)}`);
    // The static graph's convolutions: the QLinearConv kernels run, and the Q/DQ passes around them cost.
    const staticConv = variants.find((v) => v.label.startsWith('int8 static QDQ Conv + dynamic'))!;
    console.log(`profile ${staticConv.label}: ${shareLine(await profileShares(staticConv.model, feeds, dir, 3))}`);
    console.log('  (profiled runs, one after another: the per-run totals move with the load; compare shares within a line)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const sessions = [];
  for (const v of variants) sessions.push(await ort.InferenceSession.create(v.model, sessionOptions(v.options)));
  const load0 = loadavg()[0]!;
  const wall = variants.map(() => [] as number[]);
  const cpu = variants.map(() => [] as number[]);
  const errors: number[] = [];
  for (const s of sessions) {
    const out = (await s.run(feeds))['image_embedding']!.data as Float32Array; // warm-up, and the error
    const e = new RelativeError();
    e.add(reference, out);
    errors.push(e.value);
  }
  for (let r = 0; r < rounds; r++) {
    for (const [i, s] of sessions.entries()) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await s.run(feeds);
      wall[i]!.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu[i]!.push((c.user + c.system) / 1000);
    }
  }
  for (const s of sessions) await s.release();
  const [w0, c0] = [median(wall[0]!), median(cpu[0]!)];
  console.log(`golden slice, batch 1, median of ${rounds} interleaved rounds (load average ${load0.toFixed(2)} -> ${loadavg()[0]!.toFixed(2)}; other processes share the cores):`);
  for (const [i, v] of variants.entries()) {
    const [w, c] = [median(wall[i]!), median(cpu[i]!)];
    console.log(
      `  ${v.label.padEnd(42)} ${w.toFixed(0).padStart(5)} ms wall, ${c.toFixed(0).padStart(5)} ms CPU; speed-up ${(w0 / w).toFixed(2)}x wall, ` +
        `${(c0 / c).toFixed(2)}x CPU; embedding error vs official float32 ${errors[i]!.toExponential(2)}`,
    );
  }
  console.log(`bfloat16: ${await bf16MatMul()}`);
  console.log(`GELU (+ a Mul) on 16.8M values, CPU ms each, median of ${rounds}: ${await geluForms(rounds)}`);
}
