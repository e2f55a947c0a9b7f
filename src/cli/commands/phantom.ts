import type { Command } from 'commander';
import { parseNumbers } from '../parse.js';
import { writePhantomSet } from '../../train/data/index.js';
import type { Vec3 } from '../../volume/types.js';

const integer = (what: string) => (raw: string): number => {
  const v = Number(raw);
  if (!Number.isInteger(v)) throw new Error(`${what} must be an integer, got '${raw}'`);
  return v;
};

export function register(program: Command): void {
  program
    .command('phantom')
    .description('Write synthetic MRI-like volumes with bone masks (cortex dark, marrow bright, noise, bias field) for tests and demos, plus a cases.csv.')
    .requiredOption('-o, --out <dir>', 'output folder (created if missing)')
    .option('--n <count>', 'number of cases', integer('--n'), 8)
    .option('--seed <s>', 'random seed (same seed, same bytes)', integer('--seed'), 0)
    .option('--size <i,j,k>', 'volume size in voxels', '96,96,48')
    .option('--json', 'print a JSON summary')
    .action((opts: { out: string; n: number; seed: number; size: string; json?: boolean }) => {
      const dims = parseNumbers(opts.size, 3, '--size') as Vec3;
      const summary = writePhantomSet(opts.out, { count: opts.n, seed: opts.seed, dims });
      if (opts.json) {
        process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
        return;
      }
      for (const c of summary.cases) process.stdout.write(`${c.image}  ${c.mask}  ${c.sequence}  ${c.split}  ${c.bones} bones\n`);
      process.stdout.write(`wrote ${summary.cases.length} cases and ${summary.csv}\n`);
    });
}
