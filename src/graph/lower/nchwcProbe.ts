import { GraphBuilder } from '../builder.js';
import { lowerConvsToNchwc } from './convNchwc.js';

/** What the probe needs of a session (the runtime's Session, without importing the runtime). */
interface ProbeSession {
  run(feeds: Record<string, { data: Float32Array; dims: readonly number[] }>): Promise<Record<string, { data: unknown }>>;
  release(): Promise<void>;
}

/** Channel blocks MLAS uses: 16 (AVX-512), 8 (AVX2), 4 (128-bit SIMD). */
const BLOCKS = [16, 8, 4];
const C = 16;
const SHAPE = [1, C, 3, 5, 6];
const W_SHAPE = [C, C, 3, 3, 3];

function convGraph(block: number | null): Uint8Array {
  const g = new GraphBuilder(block ? `nchwc_probe_${block}` : 'nchwc_probe_ref');
  const x = g.input('x', 'float32', SHAPE);
  const w = g.input('w', 'float32', W_SHAPE);
  g.output(g.conv(x, w, null, { pads: [1, 0, 1, 1, 2, 0] }), 'y');
  if (block && lowerConvsToNchwc(g, { block, minVoxels: 1 }) !== 1) throw new Error('nchwc probe: conv not lowered');
  return g.toBytes();
}

function fill(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 4294967296 - 0.5;
  }
  return out;
}

/**
 * MLAS's NCHWc block size on this machine, found by running one small 3-D conv both ways (plain Conv, and lowered
 * with each candidate block's filter layout) and keeping the block whose result matches; null when the provider has
 * no NCHWc kernels or none matches. ONNX Runtime does not expose the block size, and a wrong filter layout would
 * give wrong numbers silently, so the lowering is used only where this check passed.
 */
export async function probeNchwcBlock(open: (model: Uint8Array, label: string) => Promise<ProbeSession>): Promise<number | null> {
  const feeds = {
    x: { data: fill(SHAPE.reduce((a, b) => a * b), 1), dims: SHAPE },
    w: { data: fill(W_SHAPE.reduce((a, b) => a * b), 2), dims: W_SHAPE },
  };
  const run = async (model: Uint8Array, label: string): Promise<Float32Array> => {
    const s = await open(model, label);
    try {
      return (await s.run(feeds))['y']!.data as Float32Array;
    } finally {
      await s.release();
    }
  };
  const ref = await run(convGraph(null), 'nchwc probe reference');
  for (const block of BLOCKS) {
    let got: Float32Array;
    try {
      got = await run(convGraph(block), `nchwc probe ${block}`);
    } catch {
      return null; // no NCHWc kernels in this build or on this provider
    }
    if (got.length === ref.length && got.every((v, i) => Math.abs(v - ref[i]!) <= 1e-5)) return block;
  }
  return null;
}
