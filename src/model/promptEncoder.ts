import type { StateDict } from '../checkpoint/tensor.js';
import type { GraphBuilder, Value } from '../graph/builder.js';
import { Params, type ParamSpec } from './decoderParams.js';

/**
 * SAM prompt encoder (points and boxes; mask prompts are not used by SegmentAnyBone and are left out,
 * so `prompt_encoder.mask_downscaling.*` is never read).
 */

/** Side of the square encoder-input frame that prompt coordinates are given in. */
export const PROMPT_FRAME = 1024;
/** Side of the image-embedding grid. */
export const EMBED_GRID = 64;
/** Channels of the embedding, of every prompt token and of the positional encoding. */
export const EMBED_DIM = 256;

const PREFIX = 'prompt_encoder.';
const GAUSSIAN = `${PREFIX}pe_layer.positional_encoding_gaussian_matrix`;
const NOT_A_POINT = `${PREFIX}not_a_point_embed.weight`;
const NO_MASK = `${PREFIX}no_mask_embed.weight`;
const pointEmbedding = (label: number): string => `${PREFIX}point_embeddings.${label}.weight`;

/** Label values of prompt tokens: padding, negative / positive point, box top-left / bottom-right corner. */
export const PromptLabel = { padding: -1, negative: 0, positive: 1, boxTopLeft: 2, boxBottomRight: 3 } as const;

export function promptEncoderParamSpecs(): ParamSpec[] {
  return [
    { key: GAUSSIAN, shape: [2, EMBED_DIM / 2] },
    ...[0, 1, 2, 3].map((i) => ({ key: pointEmbedding(i), shape: [1, EMBED_DIM] })),
    { key: NOT_A_POINT, shape: [1, EMBED_DIM] },
    { key: NO_MASK, shape: [1, EMBED_DIM] },
  ];
}

/** Keys of the prompt encoder that the graph deliberately does not use (mask prompts). */
export function isUnusedPromptEncoderKey(key: string): boolean {
  return key.startsWith(`${PREFIX}mask_downscaling.`);
}

/**
 * Random-Fourier positional encoding of coordinates in [0,1] (last axis = (x, y)):
 * [sin, cos] of 2*pi * (2c - 1) @ G -> last axis EMBED_DIM.
 */
export function positionalEncoding(g: GraphBuilder, sd: StateDict, coords01: Value): Value {
  const p = new Params(g, sd);
  const centred = g.sub(g.mul(coords01, g.scalar(2)), g.scalar(1));
  const proj = g.mul(g.matmul(centred, p.value(GAUSSIAN)), g.scalar(Math.fround(2 * Math.PI)));
  return g.concat([g.op('Sin', [proj]), g.op('Cos', [proj])], -1);
}

/** Positional encoding of the embedding grid's pixel centres as tokens [1, 64*64, 256] (token = row*64 + col). */
export function denseImagePeTokens(g: GraphBuilder, sd: StateDict): Value {
  const n = EMBED_GRID;
  const grid = new Float32Array(n * n * 2);
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < n; col++) {
      grid[(row * n + col) * 2] = (col + 0.5) / n;
      grid[(row * n + col) * 2 + 1] = (row + 0.5) / n;
    }
  }
  // All inputs are constant, so ONNX Runtime folds this at session creation.
  return positionalEncoding(g, sd, g.constant(grid, [1, n * n, 2]));
}

/** SAM's get_dense_pe() layout [1, 256, 64, 64] from the token layout. */
export function denseImagePeNchw(g: GraphBuilder, peTokens: Value): Value {
  return g.reshape(g.transpose(peTokens, [0, 2, 1]), [1, EMBED_DIM, EMBED_GRID, EMBED_GRID]);
}

/**
 * Sparse prompt tokens [N, P, 256] from point coordinates [N, P, 2] (encoder-input pixels, x then y)
 * and float labels [N, P] (see PromptLabel). Box corners arrive as points labelled 2 and 3.
 * Padding tokens get no positional encoding, only the not-a-point embedding.
 */
export function sparsePromptEmbeddings(g: GraphBuilder, sd: StateDict, coords: Value, labels: Value): Value {
  const p = new Params(g, sd);
  // +0.5: SAM shifts prompts to the pixel centre before normalising by the frame size.
  const coords01 = g.div(g.add(coords, g.scalar(0.5)), g.scalar(PROMPT_FRAME));
  const pe = positionalEncoding(g, sd, coords01);
  const labelsLast = g.unsqueeze(labels, [-1]);
  const isPadding = g.op('Equal', [labelsLast, g.scalar(PromptLabel.padding)]);
  const positioned = g.op('Where', [isPadding, g.scalar(0), pe]);
  // One-hot over the labels [-1, 0, 1, 2, 3] picks each token's learned embedding from a [5, 256] table.
  const oneHot = g.op('Cast', [g.op('Equal', [labelsLast, g.constant([-1, 0, 1, 2, 3], [5])])], { to: 1 });
  const table = g.concat([NOT_A_POINT, ...[0, 1, 2, 3].map(pointEmbedding)].map((k) => p.value(k)), 0);
  return g.add(positioned, g.matmul(oneHot, table));
}

/** The dense prompt embedding (no mask prompt): no_mask_embed as a [1, 256] row, broadcast over grid tokens. */
export function noMaskEmbedding(g: GraphBuilder, sd: StateDict): Value {
  return new Params(g, sd).value(NO_MASK);
}

export class PromptError extends Error {
  override name = 'PromptError';
}

/** User prompts in the 1024x1024 encoder-input frame: points as [x, y, label] (label 1 positive, 0 negative). */
export interface Prompts {
  points?: readonly (readonly [number, number, number])[];
  box?: readonly [number, number, number, number];
}

export interface EncodedPrompts {
  /** [1, P, 2] point coordinates, x then y. */
  coords: Float32Array;
  /** [1, P] labels: -1 padding, 0/1 points, 2/3 box corners. */
  labels: Float32Array;
  /** P, the number of prompt tokens. */
  count: number;
}

/**
 * Flatten points and an optional box into the decoder graph's prompt inputs, with SAM's rule:
 * points first; then the two box corners (labels 2, 3) if there is a box, else one padding point.
 */
export function encodePrompts(prompts: Prompts): EncodedPrompts {
  const points = prompts.points ?? [];
  const box = prompts.box;
  if (points.length === 0 && !box) {
    throw new PromptError('no prompt given: pass points and/or a box, or use the automatic (no-prompt) mode');
  }
  const tokens: [number, number, number][] = [];
  points.forEach(([x, y, label], i) => {
    if (!Number.isFinite(x) || !Number.isFinite(y)) throw new PromptError(`point ${i} has a non-finite coordinate`);
    if (label !== PromptLabel.negative && label !== PromptLabel.positive) {
      throw new PromptError(`point ${i} has label ${label}; expected 1 (positive) or 0 (negative)`);
    }
    tokens.push([x, y, label]);
  });
  if (box) {
    const [x0, y0, x1, y1] = box;
    if (![x0, y0, x1, y1].every(Number.isFinite)) throw new PromptError('box has a non-finite coordinate');
    tokens.push([x0, y0, PromptLabel.boxTopLeft], [x1, y1, PromptLabel.boxBottomRight]);
  } else {
    tokens.push([0, 0, PromptLabel.padding]);
  }
  return packPromptTokens(tokens);
}

/** (x, y, label) tokens -> the decoder graph's point_coords / point_labels arrays. */
export function packPromptTokens(tokens: readonly (readonly [number, number, number])[]): EncodedPrompts {
  const coords = new Float32Array(tokens.length * 2);
  const labels = new Float32Array(tokens.length);
  tokens.forEach(([x, y, label], i) => {
    coords[2 * i] = x;
    coords[2 * i + 1] = y;
    labels[i] = label;
  });
  return { coords, labels, count: tokens.length };
}
