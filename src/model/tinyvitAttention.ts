import type { StateDict } from '../checkpoint/tensor.js';
import type { GraphBuilder, Value } from '../graph/builder.js';
import { layerNorm, linear, param } from './layers.js';

/** Index table from each (query, key) token pair of a window to its learned relative-offset bias. */
export interface AttentionBiasIndex {
  /** Row-major [T, T] table, T = height * width tokens. */
  idxs: Int32Array;
  /** Number of distinct offsets (the column count of `attention_biases`). */
  offsets: number;
}

/**
 * TinyViT's relative-position bias index (the non-persistent `attention_bias_idxs` buffer, not
 * stored in checkpoints): tokens are the window's (row, col) points in row-major order; each pair
 * maps to the offset (|drow|, |dcol|), and offsets are numbered in order of first appearance while
 * scanning query-major, key-minor.
 */
export function attentionBiasIndex(height: number, width: number): AttentionBiasIndex {
  const t = height * width;
  const idxs = new Int32Array(t * t);
  const seen = new Map<number, number>();
  for (let p = 0; p < t; p++) {
    const pr = Math.floor(p / width);
    const pc = p % width;
    for (let q = 0; q < t; q++) {
      const key = Math.abs(pr - Math.floor(q / width)) * width + Math.abs(pc - (q % width));
      let id = seen.get(key);
      if (id === undefined) {
        id = seen.size;
        seen.set(key, id);
      }
      idxs[p * t + q] = id;
    }
  }
  return { idxs, offsets: seen.size };
}

export interface WindowAttentionSpec {
  /** Token grid of the stage (fixed sizes). */
  height: number;
  width: number;
  channels: number;
  heads: number;
  window: number;
}

/**
 * TinyViT windowed attention on a channels-last map x [N, H, W, C]; returns [N, H, W, C] (after
 * `proj`). As in TinyViT, the map is zero-padded at the bottom/right to a multiple of the window
 * BEFORE the attention's LayerNorm, so padded tokens become LN(0) = beta and take part as keys
 * (there is no mask); their outputs are cropped away. Partition, head split and window reverse are
 * one Transpose each way. `proj` is per token, so it runs after the crop (same result, fewer tokens).
 */
export function windowAttention(g: GraphBuilder, sd: StateDict, x: Value, prefix: string, s: WindowAttentionSpec): Value {
  const { height: h, width: w, channels: c, heads, window: ws } = s;
  const kd = c / heads;
  if (!Number.isInteger(kd)) throw new Error(`${prefix}: ${c} channels do not split into ${heads} heads`);
  const padB = (ws - (h % ws)) % ws;
  const padR = (ws - (w % ws)) % ws;
  const ph = h + padB;
  const pw = w + padR;
  const nh = ph / ws;
  const nw = pw / ws;
  const t = ws * ws;

  const xp = padB || padR ? g.op('Pad', [x, g.int64s([0, 0, 0, 0, 0, padB, padR, 0])]) : x;
  const qkv = linear(g, sd, layerNorm(g, sd, xp, `${prefix}.norm`), `${prefix}.qkv`); // [N, pH, pW, 3C]
  // qkv channels are grouped per head: [q_h | k_h | v_h] for h = 0..heads-1.
  const grid = g.reshape(qkv, [-1, nh, ws, nw, ws, heads, 3 * kd]);
  const windows = g.reshape(g.transpose(grid, [0, 1, 3, 5, 2, 4, 6]), [-1, heads, t, 3 * kd]);
  const [q, k, v] = g.opMulti('Split', [windows, g.int64s([kd, kd, kd])], 3, { axis: 3 }) as [Value, Value, Value];

  const bias = g.op('Gather', [param(g, sd, `${prefix}.attention_biases`), biasIndexConstant(g, ws)], { axis: 1 }); // [heads, T, T]
  const scores = g.add(g.mul(g.matmul(q, g.transpose(k, [0, 1, 3, 2])), g.scalar(kd ** -0.5)), bias);
  const out = g.matmul(g.softmax(scores, -1), v); // [N*nH*nW, heads, T, kd]

  const back = g.transpose(g.reshape(out, [-1, nh, nw, heads, ws, ws, kd]), [0, 1, 4, 2, 5, 3, 6]);
  let y = g.reshape(back, [-1, ph, pw, c]);
  if (padB || padR) y = g.slice(y, [0, 0], [h, w], [1, 2]);
  return linear(g, sd, y, `${prefix}.proj`);
}

const indexConstants = new WeakMap<GraphBuilder, Map<number, Value>>();

/** The [T, T] int64 index table of a square window, one initializer per graph and window size. */
function biasIndexConstant(g: GraphBuilder, ws: number): Value {
  let perGraph = indexConstants.get(g);
  if (!perGraph) indexConstants.set(g, (perGraph = new Map()));
  let v = perGraph.get(ws);
  if (!v) {
    const t = ws * ws;
    const data = BigInt64Array.from(attentionBiasIndex(ws, ws).idxs, (i) => BigInt(i));
    v = g.initializer(g.uniqueName(`attention_bias_idxs_${ws}x${ws}`), { dtype: 'int64', shape: [t, t], data });
    perGraph.set(ws, v);
  }
  return v;
}
