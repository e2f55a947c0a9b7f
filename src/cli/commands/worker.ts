import type { Command } from 'commander';
import type { ExecutionProvider } from '../../graph/runtime.js';
import { integerOption } from '../parse.js';
import { targetOf, withTargetOptions } from './queue.js';

interface WorkerCliOptions {
  redis?: string;
  queue: string;
  tlsCa?: string;
  weights?: string;
  concurrency: number;
  device: string;
  threads?: number;
  lockSeconds: number;
  drain?: boolean;
  name?: string;
}

export function register(program: Command): void {
  withTargetOptions(
    program
      .command('worker')
      .description(
        'Take segmentation jobs from a `sab queue` until stopped: loads the model once, writes each mask atomically. ' +
          'SIGTERM/SIGINT: finish the current job, then exit 0; a second signal exits at once (the job goes to another worker).',
      ),
  )
    .option('--weights <dir>', 'folder with bone_sam.pth and atten.pth (default: $SAB_WEIGHTS, then ~/.cache/segment-any-bone)')
    .option('--concurrency <n>', 'jobs at once in this process, each in its own thread with its own model', integerOption('--concurrency', 1), 1)
    .option('--device <cpu|cuda>', 'execution provider', 'cpu')
    .option('--threads <n>', 'ONNX Runtime threads (default: all cores)', integerOption('--threads', 1))
    .option('--lock-seconds <s>', 'how long a job of a silent (dead) worker stays claimed before another worker takes it', integerOption('--lock-seconds', 2), 30)
    .option('--drain', 'exit 0 once nothing is waiting, delayed or active (e.g. a cluster batch job)')
    .option('--name <name>', 'worker name shown by `sab queue status` (default host:pid)')
    .action(async (opts: WorkerCliOptions) => {
      if (opts.device !== 'cpu' && opts.device !== 'cuda') throw new Error(`--device ${opts.device}: expected cpu or cuda`);
      const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
      const worker = await (await import('../../queue/worker.js')).startWorker({
        ...targetOf(opts),
        ...(opts.weights ? { weights: opts.weights } : {}),
        device: opts.device as ExecutionProvider,
        ...(opts.threads ? { threads: opts.threads } : {}),
        concurrency: opts.concurrency,
        lockSeconds: opts.lockSeconds,
        ...(opts.drain ? { drain: true } : {}),
        ...(opts.name ? { name: opts.name } : {}),
        log,
      });
      let signals = 0;
      const onSignal = (sig: NodeJS.Signals) => {
        signals++;
        if (signals === 1) {
          log(`${worker.name}: ${sig}: finishing the current job, then exiting (send it again to stop at once)`);
          void worker.stop();
        } else {
          log(`${worker.name}: ${sig} again: exiting now; the unfinished job goes to another worker once its lock expires`);
          process.exit(sig === 'SIGINT' ? 130 : 143);
        }
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      await worker.closed;
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    });
}
