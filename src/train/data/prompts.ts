import { connectedComponents26 } from '../../metrics/components.js';
import { toEncoderFrame } from '../../pipeline/prompts.js';
import { PromptLabel, packPromptTokens } from '../../model/promptEncoder.js';

export class PromptSamplingError extends Error {
  override name = 'PromptSamplingError';
}

/** SAM prompt token labels (as the prompt encoder's point_embeddings table is indexed). */

export interface HybridPromptOptions {
  /** Share of iterations that are prompted (paper 4.2.1: 30%); the rest are automatic. */
  promptedFraction?: number;
  /** What each of the M prompts is: a point, a box, or either with equal odds (default). */
  kind?: 'points' | 'boxes' | 'mixed';
  /** M is drawn uniformly from K .. K + maxExtraPrompts (default 2). */
  maxExtraPrompts?: number;
  /** Box corners move by up to this fraction of the box side (default 0.1), then clamp to the slice. */
  boxJitter?: number;
  /** Encoder input size (the 1024 frame). */
  encoderSize?: number;
}

/** Prompt tokens for the decoder in the encoder frame: coords [P, 2] (x, y), labels [P] (SAM's rule). */
export interface PromptTokens {
  coords: Float32Array;
  labels: Float32Array;
  count: number;
}

export interface SampledPrompts {
  mode: 'auto' | 'prompted';
  /** rows x cols 0/1: the full mask (automatic) or the union of the selected regions (prompted). */
  target: Uint8Array;
  /** Number of 8-connected foreground regions in the mask (not computed for automatic iterations). */
  regionCount?: number;
  /** Selected region labels (1-based, scan order of first pixel); empty in automatic mode. */
  selected: number[];
  /** Positive points in slice pixel coordinates (row, col). */
  points: [number, number][];
  /** Boxes in slice pixel coordinates [r0, c0, r1, c1] (inclusive pixel positions, possibly fractional after jitter). */
  boxes: [number, number, number, number][];
  /** The prompts in the 1024 frame, as one decoder call; undefined in automatic mode. */
  tokens?: PromptTokens;
}

/** The per-iteration choice of paper 4.2.1: prompted with probability `fraction` (0.3), else automatic. */
export function isPromptedIteration(rand: () => number, fraction = 0.3): boolean {
  return rand() < fraction;
}

const randInt = (rand: () => number, lo: number, hi: number): number => lo + Math.min(Math.floor(rand() * (hi - lo + 1)), hi - lo);

/** Fisher-Yates on a copy; the first k entries are a uniform k-subset. */
function shuffled(values: number[], rand: () => number): number[] {
  const a = [...values];
  for (let i = a.length - 1; i > 0; i--) {
    const j = randInt(rand, 0, i);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/**
 * Prompt tokens for one decoder call in SAM's layout: points first, then the two corners (labels 2
 * and 3) of every box; with no box, one padding token. SAM's box embedding is exactly such a corner
 * pair, so several boxes in one call are several corner pairs.
 */
export function promptTokens(framePoints: [number, number][], frameBoxes: [number, number, number, number][]): PromptTokens {
  const t: [number, number, number][] = framePoints.map(([x, y]) => [x, y, PromptLabel.positive]);
  for (const [x0, y0, x1, y1] of frameBoxes) t.push([x0, y0, PromptLabel.boxTopLeft], [x1, y1, PromptLabel.boxBottomRight]);
  if (frameBoxes.length === 0) t.push([0, 0, PromptLabel.padding]);
  return packPromptTokens(t);
}

function checkMask(mask: Uint8Array, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) throw new PromptSamplingError(`slice size ${rows}x${cols} is invalid`);
  if (mask.length !== rows * cols) throw new PromptSamplingError(`mask has ${mask.length} pixels, expected ${rows}x${cols}`);
}

/**
 * Prompted sample (paper 4.2.1): the mask's 8-connected regions are found; K regions are picked at
 * random with 1 <= K < N (when the mask has a single region, K = N = 1: that region is the only
 * choice); M >= K prompts are spread over them so that each selected region gets at least one; each
 * prompt is a positive point drawn uniformly inside its region or the region's tight box with jitter.
 * The target is the union of the selected regions. An empty mask has nothing to prompt: the sample
 * falls back to automatic mode with the (empty) full mask as target.
 */
export function samplePromptedTarget(mask: Uint8Array, rows: number, cols: number, rand: () => number, opts: HybridPromptOptions = {}): SampledPrompts {
  checkMask(mask, rows, cols);
  const bin = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) bin[i] = mask[i] ? 1 : 0;
  // 8-connectivity in a plane is 26-connectivity on a one-slice volume (x = column, y = row).
  const cc = connectedComponents26(bin, [cols, rows, 1]);
  const n = cc.count;
  if (n === 0) return { mode: 'auto', target: bin, regionCount: 0, selected: [], points: [], boxes: [] };

  const k = n === 1 ? 1 : randInt(rand, 1, n - 1);
  const selected = shuffled(Array.from({ length: n }, (_, i) => i + 1), rand).slice(0, k).sort((a, b) => a - b);
  const m = k + randInt(rand, 0, Math.max(0, Math.floor(opts.maxExtraPrompts ?? 2)));
  // Region of each prompt: every selected region once, the rest at random.
  const owners = [...selected];
  while (owners.length < m) owners.push(selected[randInt(rand, 0, k - 1)]!);

  const kind = opts.kind ?? 'mixed';
  const jitter = opts.boxJitter ?? 0.1;
  const points: [number, number][] = [];
  const boxes: [number, number, number, number][] = [];
  for (const label of owners) {
    const asBox = kind === 'boxes' || (kind === 'mixed' && rand() < 0.5);
    if (asBox) {
      const b = cc.boxes.subarray(6 * (label - 1), 6 * label); // [cmin, rmin, 0, cmax, rmax, 0]
      const [c0, r0, c1, r1] = [b[0]!, b[1]!, b[3]!, b[4]!];
      const h = r1 - r0 + 1;
      const w = c1 - c0 + 1;
      const move = (v: number, side: number, max: number) => Math.min(Math.max(v + (2 * rand() - 1) * jitter * side, 0), max);
      const nr0 = move(r0, h, rows - 1);
      const nc0 = move(c0, w, cols - 1);
      const nr1 = move(r1, h, rows - 1);
      const nc1 = move(c1, w, cols - 1);
      boxes.push([Math.min(nr0, nr1), Math.min(nc0, nc1), Math.max(nr0, nr1), Math.max(nc0, nc1)]);
    } else {
      // The j-th pixel (scan order) of the region, j uniform.
      let j = randInt(rand, 0, cc.sizes[label]! - 1);
      for (let p = 0; p < cc.labels.length; p++) {
        if (cc.labels[p] === label && j-- === 0) {
          points.push([Math.floor(p / cols), p % cols]);
          break;
        }
      }
    }
  }
  const keep = new Uint8Array(n + 1);
  for (const s of selected) keep[s] = 1;
  const target = new Uint8Array(mask.length);
  for (let p = 0; p < target.length; p++) target[p] = keep[cc.labels[p]!]!;

  const size = opts.encoderSize ?? 1024;
  const framePoints = points.map(([r, c]) => {
    const f = toEncoderFrame({ points: [[r, c, 1]] }, rows, cols, size).points![0]!;
    return [f[0], f[1]] as [number, number];
  });
  const frameBoxes = boxes.map((box) => toEncoderFrame({ points: [], box }, rows, cols, size).box!);
  return { mode: 'prompted', target, regionCount: n, selected, points, boxes, tokens: promptTokens(framePoints, frameBoxes) };
}

/** One training iteration's target and prompts: prompted with probability promptedFraction, else automatic with the full mask. */
export function sampleHybridPrompts(mask: Uint8Array, rows: number, cols: number, rand: () => number, opts: HybridPromptOptions = {}): SampledPrompts {
  checkMask(mask, rows, cols);
  if (isPromptedIteration(rand, opts.promptedFraction ?? 0.3)) return samplePromptedTarget(mask, rows, cols, rand, opts);
  const target = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) target[i] = mask[i] ? 1 : 0;
  return { mode: 'auto', target, selected: [], points: [], boxes: [] };
}
