import type { Command } from 'commander';
import { progressBar } from '../progress.js';
import {
  WEIGHTS_LICENSE,
  downloadWeights,
  installWeights,
  locateWeights,
  userWeightsDir,
  weightsBaseUrl,
  type WeightFile,
} from '../../weights/index.js';

export function register(program: Command): void {
  const weights = program
    .command('weights')
    .description(`Manage the SegmentAnyBone model weights (bone_sam.pth, atten.pth). ${WEIGHTS_LICENSE}`);

  weights
    .command('install')
    .description('Verify checkpoint files and copy them into the user weights folder')
    .argument('<files...>', 'bone_sam.pth and/or atten.pth as downloaded from the official release')
    .option('--dir <dir>', 'install into this folder instead of the user cache')
    .action((files: string[], opts: { dir?: string }) => {
      const report = installWeights(files, opts.dir ?? userWeightsDir());
      for (const f of report.installed) process.stdout.write(`installed ${f.kind} -> ${f.to}\n`);
      process.stdout.write(`${WEIGHTS_LICENSE}\n`);
    });

  weights
    .command('download')
    .description('Download the weights (resumable, sha256-checked) from a mirror into the user weights folder')
    .option('--base-url <url>', 'mirror serving bone_sam.pth and atten.pth (default: $SAB_WEIGHTS_URL)')
    .option('--dir <dir>', 'download into this folder instead of the user cache')
    .option('--sha256 <file=hex>', 'expected checksum, e.g. bone_sam.pth=ab12... (repeatable)', (v: string, prev: string[]) => [...prev, v], [])
    .option('--only <file>', 'download just bone_sam.pth or atten.pth')
    .action(async (opts: { baseUrl?: string; dir?: string; sha256: string[]; only?: string }) => {
      const sha256: Partial<Record<WeightFile, string>> = {};
      for (const s of opts.sha256) {
        const m = /^(bone_sam\.pth|atten\.pth)=([0-9a-fA-F]{64})$/.exec(s);
        if (!m) throw new Error(`--sha256 ${s}: expected bone_sam.pth=<64 hex> or atten.pth=<64 hex>`);
        sha256[m[1] as WeightFile] = m[2]!;
      }
      if (opts.only && opts.only !== 'bone_sam.pth' && opts.only !== 'atten.pth') {
        throw new Error(`--only ${opts.only}: expected bone_sam.pth or atten.pth`);
      }
      const bars = new Map<string, ReturnType<typeof progressBar>>();
      const done = await downloadWeights({
        baseUrl: weightsBaseUrl(opts.baseUrl),
        dir: opts.dir ?? userWeightsDir(),
        sha256,
        ...(opts.only ? { files: [opts.only as WeightFile] } : {}),
        onProgress: ({ file, received, total }) => {
          let bar = bars.get(file);
          if (!bar) bars.set(file, (bar = progressBar(file, false, 'bytes')));
          bar.update(received, total ?? received);
        },
      });
      for (const b of bars.values()) b.stop();
      for (const f of done) process.stdout.write(`downloaded ${f}\n`);
      process.stdout.write(`${WEIGHTS_LICENSE}\n`);
    });

  weights
    .command('where')
    .description('Show which weights `sab segment` would use')
    .option('--weights <dir>', 'folder to check instead of $SAB_WEIGHTS / the user cache')
    .action((opts: { weights?: string }) => {
      const w = locateWeights(opts.weights);
      process.stdout.write(`bone_sam.pth: ${w.boneSam}\natten.pth: ${w.atten ?? '(missing: only --no-attention works)'}\n`);
    });
}
