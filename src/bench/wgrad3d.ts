// Weight gradient of VNet's 5x5x5 convolutions: the per-plane GEMMs (weightGrad3dByPlanes) beside the dY-as-kernel
// Conv (weightGrad) they replace from 16^3 up (8^3 is shown as the case where the Conv stays), on the real layer shapes, alternating in one process.
import { GraphBuilder, type Value } from '../graph/builder.js';
import { createNodeRuntime } from '../graph/runtimeNode.js';
import { weightGrad } from '../train/autodiff/conv.js';
import { weightGrad3dByPlanes } from '../train/autodiff/planeWeightGrad.js';

/** [side, channels] of VNet's 5x5x5 stride-1 convs at batch 1 (in = out channels). */
const LAYERS: [number, number][] = [
  [64, 32],
  [32, 64],
  [32, 32],
  [16, 128],
  [16, 64],
  [8, 256],
];

export async function run(): Promise<void> {
  // The trainer's session settings (bench train): arena and memory pattern off.
  const runtime = createNodeRuntime({ cpuMemArena: false, memPattern: false });
  const repeats = Number(process.env['SAB_BENCH_REPEATS'] ?? 5);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  process.stdout.write(`dW of 5x5x5 pad-2 convs, batch 1; median of ${repeats} after a warm-up, the two alternating:\n`);
  for (const [side, c] of LAYERS) {
    const shape = [1, c, side, side, side];
    const pads = [2, 2, 2, 2, 2, 2];
    const attrs = { strides: [1, 1, 1], pads, dilations: [1, 1, 1], group: 1 };
    const build = (f: (g: GraphBuilder, x: Value, dy: Value) => Value) => {
      const g = new GraphBuilder('wgrad3d');
      g.output(f(g, g.input('x', 'float32', shape), g.input('dy', 'float32', shape)), 'dw');
      return g.toBytes();
    };
    const variants = {
      'dY-as-kernel Conv': await runtime.session(build((g, x, dy) => weightGrad(g, x, shape, dy, shape, [5, 5, 5], attrs))),
      'per-plane GEMMs': await runtime.session(build((g, x, dy) => weightGrad3dByPlanes(g, x, shape, dy, shape, [5, 5, 5], pads))),
    };
    let seed = 1;
    const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5);
    const n = c * side ** 3;
    const feeds = { x: { data: Float32Array.from({ length: n }, rand), dims: shape }, dy: { data: Float32Array.from({ length: n }, rand), dims: shape } };
    const times = new Map<string, number[]>(Object.keys(variants).map((k) => [k, []]));
    const outs: Float32Array[] = [];
    for (let r = -1; r < repeats; r++) {
      for (const [name, s] of Object.entries(variants)) {
        const t = performance.now();
        const out = await s.run(feeds);
        if (r >= 0) times.get(name)!.push(performance.now() - t);
        else outs.push(out['dw']!.data as Float32Array);
      }
    }
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < outs[0]!.length; i++) {
      diff = Math.max(diff, Math.abs(outs[0]![i]! - outs[1]![i]!));
      scale = Math.max(scale, Math.abs(outs[0]![i]!));
    }
    const gflop = (2 * c * c * 125 * side ** 3) / 1e9;
    const ref = median(times.get('dY-as-kernel Conv')!);
    process.stdout.write(`  ${side}^3, ${c} -> ${c} channels (${gflop.toFixed(1)} GFLOP), max |diff| / max |dW| ${(diff / scale).toExponential(1)}:\n`);
    for (const [name, ts] of times) {
      const ms = median(ts);
      process.stdout.write(`    ${name.padEnd(18)} ${ms.toFixed(1).padStart(7)} ms  ${(gflop / (ms / 1e3)).toFixed(0).padStart(4)} GFLOP/s  (${(ref / ms).toFixed(2)}x the Conv)\n`);
    }
    for (const s of Object.values(variants)) await s.release();
  }
}
