import { existsSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The two files of the official release: the SAM part (+ attention fusion) and the depth-attention VNet. */
export const WEIGHT_FILES = ['bone_sam.pth', 'atten.pth'] as const;
export type WeightFile = (typeof WEIGHT_FILES)[number];

export const WEIGHTS_LICENSE =
  'The SegmentAnyBone weights are licensed CC BY-NC 4.0 by their authors (Mazurowski Lab, Duke University): non-commercial use only, with attribution.';

export const WEIGHTS_HOW_TO =
  'Download bone_sam.pth and atten.pth from the SegmentAnyBone release (https://github.com/mazurowski-lab/SegmentAnyBone, ' +
  '"Model Checkpoints" link), then run `sab weights install bone_sam.pth atten.pth`, or pass --weights DIR, or set SAB_WEIGHTS=DIR.';

export class WeightsError extends Error {
  override name = 'WeightsError';
}

/** Per-user cache: $XDG_CACHE_HOME/segment-any-bone, else ~/.cache/segment-any-bone (%LOCALAPPDATA% on Windows). */
export function userWeightsDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['XDG_CACHE_HOME']) return path.join(env['XDG_CACHE_HOME'], 'segment-any-bone');
  if (process.platform === 'win32' && env['LOCALAPPDATA']) return path.join(env['LOCALAPPDATA'], 'segment-any-bone');
  return path.join(os.homedir(), '.cache', 'segment-any-bone');
}

export interface WeightPaths {
  dir: string;
  boneSam: string;
  atten: string | undefined;
}

/**
 * Finds the weights: `--weights DIR`, then $SAB_WEIGHTS, then the user cache. The first place that has
 * bone_sam.pth wins (atten.pth is optional there: without it only 2D-only mode can run).
 */
export function locateWeights(explicitDir?: string, env: NodeJS.ProcessEnv = process.env): WeightPaths {
  const candidates: { dir: string; why: string }[] = [];
  if (explicitDir) candidates.push({ dir: explicitDir, why: '--weights' });
  else {
    if (env['SAB_WEIGHTS']) candidates.push({ dir: env['SAB_WEIGHTS'], why: '$SAB_WEIGHTS' });
    candidates.push({ dir: userWeightsDir(env), why: 'user cache' });
  }
  for (const { dir } of candidates) {
    const boneSam = path.join(dir, 'bone_sam.pth');
    if (isFile(boneSam)) {
      const atten = path.join(dir, 'atten.pth');
      return { dir, boneSam, atten: isFile(atten) ? atten : undefined };
    }
  }
  const looked = candidates.map((c) => `${c.dir} (${c.why})`).join(', ');
  throw new WeightsError(`model weights not found: no bone_sam.pth in ${looked}. ${WEIGHTS_HOW_TO}`);
}

function isFile(p: string): boolean {
  return existsSync(p) && statSync(p).isFile();
}
