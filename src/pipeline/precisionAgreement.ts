// How far a lower-precision run (the int8 encoder) is from the float32 one, in the figures the README states.
import { confusionCounts, overlapScores } from '../metrics/overlap.js';
import type { SliceOutputs } from './segmentVolume.js';

export interface AgreementFigures {
  /** Slices whose embedding and logits were compared. */
  slices: number;
  /** max |candidate - reference| / max |reference| over the compared image embeddings. */
  embeddingError: number;
  /** The same over the bone logits (low-res, 256x256). */
  logitsError: number;
  /** Fraction of mask voxels on which the two runs agree. */
  maskAgreement: number;
  /** Dice between the two masks (1 when both are empty). */
  dsc: number;
}

/** Running max |a - b| and max |a| of several reference/candidate pairs. */
export class RelativeError {
  private diff = 0;
  private scale = 0;
  add(reference: ArrayLike<number>, candidate: ArrayLike<number>): void {
    if (reference.length !== candidate.length) throw new Error(`RelativeError: ${reference.length} vs ${candidate.length} values`);
    for (let i = 0; i < reference.length; i++) {
      const r = reference[i]!;
      const d = Math.abs(candidate[i]! - r);
      if (d > this.diff) this.diff = d;
      if (Math.abs(r) > this.scale) this.scale = Math.abs(r);
    }
  }
  get value(): number {
    return this.scale > 0 ? this.diff / this.scale : this.diff;
  }
}

/** Voxel agreement and Dice of two 0/1 masks of the same grid. */
export function maskAgreement(reference: Uint8Array, candidate: Uint8Array): { maskAgreement: number; dsc: number } {
  const c = confusionCounts(candidate, reference);
  return { maskAgreement: (c.tp + c.tn) / reference.length, dsc: overlapScores(c).dsc };
}

/**
 * Compares two segmentVolume runs slice by slice through their onSlice hooks: pass `reference` to the
 * first run and `candidate` to the second. Only slices for which `keep` is true are held in memory
 * (a reference embedding is 4 MB), so a whole-volume comparison can sample every n-th slice.
 */
export class PrecisionComparison {
  private readonly held = new Map<number, { embedding: Float32Array; logits: Float32Array }>();
  private readonly embedding = new RelativeError();
  private readonly logits = new RelativeError();
  private compared = 0;

  constructor(private readonly keep: (slice: number) => boolean = () => true) {}

  readonly reference = (s: SliceOutputs): void => {
    if (this.keep(s.index)) this.held.set(s.index, { embedding: s.embedding.slice(), logits: s.boneLogits.slice() });
  };

  readonly candidate = (s: SliceOutputs): void => {
    const ref = this.held.get(s.index);
    if (!ref) return;
    this.embedding.add(ref.embedding, s.embedding);
    this.logits.add(ref.logits, s.boneLogits);
    this.held.delete(s.index);
    this.compared++;
  };

  figures(referenceMask: Uint8Array, candidateMask: Uint8Array): AgreementFigures {
    return {
      slices: this.compared,
      embeddingError: this.embedding.value,
      logitsError: this.logits.value,
      ...maskAgreement(referenceMask, candidateMask),
    };
  }
}
