import { copyFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadCheckpoint } from '../checkpoint/load-checkpoint.js';
import type { StateDict } from '../checkpoint/tensor.js';
import { buildDecoderGraph } from '../model/decoderGraph.js';
import { buildEncoderGraph } from '../model/tinyvit.js';
import { buildVNetGraph } from '../model/vnet.js';
import { WEIGHTS_LICENSE, WeightsError, userWeightsDir, type WeightFile } from './locate.js';

/** Which of the two release files a state_dict is, judged by its keys. */
export function classifyWeights(sd: StateDict): WeightFile | undefined {
  if (sd.has('image_encoder.patch_embed.seq.0.c.weight') || sd.has('mask_decoder.iou_token.weight')) return 'bone_sam.pth';
  if (sd.has('in_tr.conv_block.conv.weight')) return 'atten.pth';
  return undefined;
}

/**
 * Checks a checkpoint really is SegmentAnyBone weights by building the graphs that use it: that
 * validates every key and shape the model needs (missing/unexpected keys are listed in the error).
 */
export function verifyWeights(sd: StateDict, file: string): WeightFile {
  const kind = classifyWeights(sd);
  if (!kind) {
    const some = [...sd.keys()].slice(0, 3).join(', ');
    throw new WeightsError(`${file}: not a SegmentAnyBone checkpoint (keys start ${some || '(none)'})`);
  }
  try {
    if (kind === 'bone_sam.pth') {
      buildEncoderGraph(sd, { batch: 1 });
      buildDecoderGraph(sd, { mode: 'prompt', attention: true });
    } else {
      buildVNetGraph(sd, { bnMode: 'batchstats' });
    }
  } catch (err) {
    throw new WeightsError(`${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return kind;
}

export interface InstallReport {
  dir: string;
  installed: { from: string; to: string; kind: WeightFile }[];
}

/** Verifies each file and copies it (atomically) into the user weights dir under its canonical name. */
export function installWeights(files: string[], dir = userWeightsDir()): InstallReport {
  if (files.length === 0) throw new WeightsError('no files given: sab weights install bone_sam.pth atten.pth');
  const checked = files.map((f) => ({ from: f, kind: verifyWeights(loadCheckpoint(f), f) }));
  const kinds = checked.map((c) => c.kind);
  const dup = kinds.find((k, i) => kinds.indexOf(k) !== i);
  if (dup) throw new WeightsError(`two of the given files are ${dup}; give each file once`);
  mkdirSync(dir, { recursive: true });
  const installed = checked.map(({ from, kind }) => {
    const to = path.join(dir, kind);
    const tmp = `${to}.${process.pid}.tmp`;
    try {
      copyFileSync(from, tmp);
      renameSync(tmp, to);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw new WeightsError(`cannot install ${from} into ${dir}: ${err instanceof Error ? err.message : String(err)}`);
    }
    return { from, to, kind };
  });
  writeFileSync(path.join(dir, 'LICENSE-WEIGHTS.txt'), `${WEIGHTS_LICENSE}\nSource: https://github.com/mazurowski-lab/SegmentAnyBone\n`);
  return { dir, installed };
}
