import { loadCheckpoint } from '../checkpoint/index.js';
import type { GraphBuilder } from '../graph/builder.js';
import { createNodeRuntime } from '../graph/index.js';
import { attentionMapsForAllSlices } from '../model/depthAttention.js';
import { VNET_INPUT, VNET_INPUT_DIMS, VNET_SIGMOID, buildVNetGraph, type VNetBatchNormMode } from '../model/vnet.js';
import { GOLDEN } from './_fixtures.js';

const WARMUP = 1;
const REPEATS = 5;
/** Slices of the public wrist volume (the attention maps are computed for each of them). */
const SLICES = 74;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Multiply-accumulates of every Conv / ConvTranspose in the graph, from its build-time shapes. */
function convMacs(g: GraphBuilder): number {
  let macs = 0;
  for (const r of g.records) {
    if (r.opType !== 'Conv' && r.opType !== 'ConvTranspose') continue;
    const w = g.values.get(r.inputs[1]!)!.shape as number[];
    const perWeight = w.reduce((p, d) => p * d, 1);
    if (r.opType === 'Conv') {
      const y = g.values.get(r.outputs[0]!)!.shape as number[];
      macs += (perWeight / w[0]!) * y.reduce((p, d) => p * d, 1);
    } else {
      const x = g.values.get(r.inputs[0]!)!.shape as number[];
      macs += (perWeight / w[0]!) * x.reduce((p, d) => p * d, 1);
    }
  }
  return macs;
}

/** VNet ms per 64^3 volume for each BatchNorm mode, after warm-up, on the CPU provider. */
export async function run(): Promise<void> {
  const sd = loadCheckpoint(`${GOLDEN}atten.pth`);
  const input = new Float32Array(VNET_INPUT_DIMS.reduce((p, d) => p * d, 1));
  for (let i = 0; i < input.length; i++) input[i] = Math.sin(i * 0.001) * 0.9;
  const runtime = createNodeRuntime({});
  for (const bnMode of ['batchstats', 'eval'] as VNetBatchNormMode[]) {
    let t0 = performance.now();
    const g = buildVNetGraph(sd, { bnMode });
    const session = await runtime.session(g.toBytes(), g.name);
    const openMs = performance.now() - t0;
    const times: number[] = [];
    let sigmoid: Float32Array = new Float32Array(0);
    for (let i = 0; i < WARMUP + REPEATS; i++) {
      t0 = performance.now();
      const out = await session.run({ [VNET_INPUT]: { data: input, dims: VNET_INPUT_DIMS } });
      if (i >= WARMUP) times.push(performance.now() - t0);
      sigmoid = out[VNET_SIGMOID]!.data as Float32Array;
    }
    await session.release();
    t0 = performance.now();
    attentionMapsForAllSlices(sigmoid, SLICES);
    const mapsMs = performance.now() - t0;
    const ms = median(times);
    const gmacs = convMacs(g) / 1e9;
    console.log(
      `vnet ${bnMode.padEnd(10)} ${ms.toFixed(0).padStart(6)} ms/volume (median of ${REPEATS}, min ${Math.min(...times).toFixed(0)}) ` +
        `| build+open ${openMs.toFixed(0)} ms | ${gmacs.toFixed(1)} GMAC conv -> ${((2 * gmacs) / (ms / 1000)).toFixed(0)} GFLOP/s ` +
        `| ${SLICES} attention maps ${mapsMs.toFixed(1)} ms | target <= 1500 ms`,
    );
  }
}
