import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { locationTableMarkdown } from '../../metrics/index.js';
import { finetune, type FinetuneProgress, type FinetuneStages } from '../../train/loop/index.js';

interface FinetuneCliOptions {
  data: string;
  weights?: string;
  out: string;
  stage: string;
  iterations?: number;
  epochs?: number;
  batch: number;
  lr: number;
  warmup: number;
  checkpointEvery?: number;
  resume?: boolean;
  seed: number;
  threads?: number;
  device: string;
  valEvery?: number;
  valSlices: number;
  augment: boolean;
  evaluate: boolean;
  json?: boolean;
}

const int = (what: string, min = 1) => (raw: string): number => {
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new Error(`${what} must be an integer >= ${min}, got '${raw}'`);
  return v;
};

const positive = (what: string) => (raw: string): number => {
  const v = Number(raw);
  if (!(v > 0) || !Number.isFinite(v)) throw new Error(`${what} must be a positive number, got '${raw}'`);
  return v;
};

/** Iterations bar with ETA on a terminal (stderr); a line per validation otherwise. */
function reporter(quiet: boolean): { update(p: FinetuneProgress): void; stop(): void } {
  const tty = !quiet && process.stderr.isTTY;
  const bar = tty
    ? new cliProgress.SingleBar(
        { format: 'stage {stage} [{bar}] {value}/{total} iterations | loss {loss} | val DSC {dsc} | ETA {eta_formatted}', stream: process.stderr, hideCursor: true, etaBuffer: 20 },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let stage = 0;
  let dsc = '-';
  return {
    update(p) {
      if (p.valDsc !== undefined) dsc = p.valDsc.toFixed(3);
      const payload = { stage: p.stage, loss: p.loss.toFixed(4), dsc };
      if (bar) {
        if (p.stage !== stage) {
          if (stage) bar.stop();
          bar.start(p.total, p.iteration, payload);
          stage = p.stage;
        } else bar.update(p.iteration, payload);
      } else if (!quiet && p.valDsc !== undefined) {
        process.stderr.write(`sab finetune: stage ${p.stage} iteration ${p.iteration}/${p.total} loss ${payload.loss} val DSC ${dsc}\n`);
      }
    },
    stop() {
      if (bar && stage) bar.stop();
      stage = 0;
    },
  };
}

export function register(program: Command): void {
  program
    .command('finetune')
    .description(
      "Fine-tune SegmentAnyBone on your own image/mask pairs, in the paper's two stages: (1) encoder + decoder adapters and the VNet, " +
        '(2) attention fusion + decoder with hybrid prompting over cached embeddings. Writes bone_sam.pth / atten.pth (+ .safetensors) ' +
        'loadable by `sab segment --weights OUTDIR`, resumable checkpoints, and a loss/DSC log (CSV + PNG).',
    )
    .requiredOption('--data <dir|csv>', 'folder of image/mask pairs (NIfTI/NRRD; optional cases.csv with image,mask,location,sequence,split) or a case CSV')
    .option('--weights <dir>', 'starting weights: folder with bone_sam.pth and atten.pth (default: $SAB_WEIGHTS, then the user cache; not needed with --resume)')
    .requiredOption('-o, --out <dir>', 'output folder (weights, checkpoint/, logs)')
    .option('--stage <1|2|both>', 'which stage(s) to run', 'both')
    .option('--iterations <n>', 'iterations per stage (default: --epochs x train slices / batch)', int('--iterations'))
    .option('--epochs <e>', 'epochs per stage when --iterations is not given (default 10)', int('--epochs'))
    .option('--batch <n>', 'slices (stage 1 VNet: volumes) per iteration', int('--batch'), 8)
    .option('--lr <rate>', 'AdamW base learning rate', positive('--lr'), 5e-4)
    .option('--warmup <n>', 'linear warm-up iterations', int('--warmup', 0), 200)
    .option('--checkpoint-every <n>', 'write a resumable checkpoint every n iterations (default: each epoch)', int('--checkpoint-every'))
    .option('--resume', 'continue the run whose checkpoint is in the output folder')
    .option('--seed <s>', 'random seed (sampling, augmentation, prompts)', int('--seed', 0), 0)
    .option('--threads <n>', 'ONNX Runtime threads (default: all cores)', int('--threads'))
    .option('--device <cpu|cuda>', 'execution provider', 'cpu')
    .option('--val-every <n>', 'validate every n iterations (default: each epoch)', int('--val-every'))
    .option('--val-slices <n>', 'validation slices per val case (evenly spaced)', int('--val-slices'), 8)
    .option('--no-augment', 'no augmentation')
    .option('--no-evaluate', 'skip the closing whole-volume evaluation of the validation split')
    .option('--json', 'print a JSON summary (no progress bar)')
    .action(async (opts: FinetuneCliOptions) => {
      if (opts.device !== 'cpu' && opts.device !== 'cuda') throw new Error(`--device ${opts.device}: expected cpu or cuda`);
      if (!['1', '2', 'both'].includes(opts.stage)) throw new Error(`--stage ${opts.stage}: expected 1, 2 or both`);
      const progress = reporter(Boolean(opts.json));
      // Ctrl-C: finish the iteration, write a checkpoint, exit; a second Ctrl-C exits at once.
      const abort = new AbortController();
      const onSigint = () => {
        if (abort.signal.aborted) process.exit(130);
        process.stderr.write('\nsab finetune: stopping after this iteration (checkpoint follows; --resume continues)\n');
        abort.abort();
      };
      process.on('SIGINT', onSigint);
      try {
        const res = await finetune({
          data: opts.data,
          ...(opts.weights !== undefined ? { weights: opts.weights } : {}),
          outDir: opts.out,
          stages: opts.stage as FinetuneStages,
          ...(opts.iterations !== undefined ? { iterations: opts.iterations } : {}),
          ...(opts.epochs !== undefined ? { epochs: opts.epochs } : {}),
          batch: opts.batch,
          lr: opts.lr,
          warmup: opts.warmup,
          ...(opts.checkpointEvery !== undefined ? { checkpointEvery: opts.checkpointEvery } : {}),
          resume: Boolean(opts.resume),
          seed: opts.seed,
          ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
          device: opts.device as 'cpu' | 'cuda',
          ...(opts.valEvery !== undefined ? { valEvery: opts.valEvery } : {}),
          valSlices: opts.valSlices,
          augment: opts.augment,
          evaluate: opts.evaluate,
          signal: abort.signal,
          onProgress: (p) => progress.update(p),
          onNotice: (m) => process.stderr.write(`sab: ${m}\n`),
        });
        progress.stop();
        if (opts.json) {
          process.stdout.write(JSON.stringify(res, null, 1) + '\n');
          return;
        }
        for (const s of res.stages) {
          const first = s.valDsc[0];
          const last = s.valDsc.at(-1);
          const dsc = first && last ? `, val DSC ${first.dsc.toFixed(3)} (iteration ${first.iteration}) -> ${last.dsc.toFixed(3)} (iteration ${last.iteration})` : '';
          process.stdout.write(`stage ${s.stage}: ${s.losses.length} iterations run, last loss ${s.losses.at(-1)?.toFixed(4) ?? '-'}${dsc}\n`);
          if (s.best) process.stdout.write(`  best checkpoint: val DSC ${s.best.valDsc.toFixed(3)} at iteration ${s.best.iteration} -> ${res.outDir}/checkpoint_best_stage${s.stage}/\n`);
        }
        if (res.evaluation) {
          process.stdout.write(`\nfinal weights on the validation split (whole volumes, as sab segment; ${res.outDir}/validation_cases.csv):\n`);
          process.stdout.write(locationTableMarkdown(res.evaluation.table));
        }
        process.stdout.write(res.stopped ? `stopped; checkpoint in ${res.outDir}/checkpoint (continue with --resume)\n` : `wrote ${res.outDir}/bone_sam.pth and atten.pth (+ .safetensors)\n`);
      } finally {
        progress.stop();
        process.off('SIGINT', onSigint);
      }
    });
}
