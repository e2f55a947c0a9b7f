import type { Command } from 'commander';
import type { CleanState, QueueCounts, QueueStatus } from '../../queue/status.js';
import type { QueueTarget } from '../../queue/connection.js';
import { DEFAULT_QUEUE, type SegmentJobOptions } from '../../queue/spec.js';
import { OUTPUT_FORMATS, type OutputFormat } from '../../segment/inputs.js';
import type { MaskCleanupOptions } from '../../segment/segmentFile.js';
import { FILL_HOLES, integerOption, KEEP_LARGEST, MIN_SIZE, SERIES, SLICES, VOLUME_INDEX } from '../parse.js';
import { parseAxis } from './segment.js';

// bullmq and ioredis load only when a queue command runs: importing them took ~0.5 s of every `sab` process.
const enqueueLib = () => import('../../queue/enqueue.js');
const statusLib = () => import('../../queue/status.js');

interface TargetCliOptions {
  redis?: string;
  queue: string;
  tlsCa?: string;
  json?: boolean;
}

/** --redis, --queue and --tls-ca on every queue command; the URL may come from $SAB_REDIS to keep a password out of `ps`. */
export function withTargetOptions(cmd: Command): Command {
  return cmd
    .option('--redis <url>', 'Redis URL: redis://[user:password@]host[:port][/db], rediss:// for TLS (default: $SAB_REDIS)')
    .option('--queue <name>', 'queue name', DEFAULT_QUEUE)
    .option('--tls-ca <file>', 'rediss://: PEM file of the CA that signed the server certificate');
}

export function targetOf(opts: TargetCliOptions): QueueTarget {
  const url = opts.redis ?? process.env['SAB_REDIS'];
  if (!url) throw new Error('--redis URL is required (or set SAB_REDIS)');
  return { redis: { url, ...(opts.tlsCa ? { tlsCa: opts.tlsCa } : {}) }, queue: opts.queue };
}

interface AddCliOptions extends TargetCliOptions, MaskCleanupOptions {
  out: string;
  attention: boolean;
  axis: string;
  slices?: string;
  probabilities?: boolean;
  series?: string;
  volumeIndex?: number;
  format?: string;
  attempts: number;
  backoff: number;
}

function jobOptions(opts: AddCliOptions): SegmentJobOptions {
  if (opts.format !== undefined && !OUTPUT_FORMATS.includes(opts.format as OutputFormat)) {
    throw new Error(`--format ${opts.format}: expected one of ${OUTPUT_FORMATS.join(', ')}`);
  }
  if (opts.slices !== undefined && !/^\d*:\d*$/.test(opts.slices)) throw new Error(`--slices ${opts.slices}: expected a:b (e.g. 10:40)`);
  return {
    attention: opts.attention,
    axis: parseAxis(opts.axis),
    ...(opts.slices ? { slices: opts.slices } : {}),
    ...(opts.keepLargest ? { keepLargest: opts.keepLargest === true ? 1 : opts.keepLargest } : {}),
    ...(opts.minSize ? { minSize: opts.minSize } : {}),
    ...(opts.fillHoles ? { fillHoles: true } : {}),
    ...(opts.probabilities ? { probabilities: true } : {}),
    ...(opts.series ? { series: opts.series } : {}),
    ...(opts.volumeIndex !== undefined ? { volumeIndex: opts.volumeIndex } : {}),
    ...(opts.format ? { format: opts.format as OutputFormat } : {}),
  };
}

function countsLine(c: QueueCounts): string {
  return `${c.waiting} waiting, ${c.active} active, ${c.delayed} delayed (retry backoff), ${c.completed} completed, ${c.failed} failed`;
}

function duration(s: number): string {
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function printStatus(s: QueueStatus): void {
  const out: string[] = [`queue ${s.queue} at ${s.redis}: ${countsLine(s.counts)}; ${s.workers} worker connection(s)`];
  for (const a of s.active) {
    const prog = a.slicesTotal ? `${a.slicesDone}/${a.slicesTotal} slices` : 'starting';
    out.push(`  active  ${a.jobId}  ${a.input}: ${prog} on ${a.worker ?? '?'}`);
  }
  for (const f of s.failed) out.push(`  failed  ${f.jobId}  ${f.input}: ${f.reason}`);
  out.push(
    s.jobsPerHour === null
      ? 'throughput: not enough finished jobs yet'
      : `throughput ${s.jobsPerHour} jobs/h${s.etaSeconds !== null ? `, ETA ${duration(s.etaSeconds)}` : ''}`,
  );
  process.stdout.write(`${out.join('\n')}\n`);
}

export function register(program: Command): void {
  const queue = program
    .command('queue')
    .description('Distributed batch segmentation: put volumes on a BullMQ queue in Redis for `sab worker`s on any number of machines');

  withTargetOptions(
    queue
      .command('add')
      .description('Queue one segmentation job per input volume (a folder expands to its volumes, as `sab segment folder/`)')
      .argument('<inputs...>', 'volumes, folders of volumes, DICOM folders, or quoted globs, on storage every worker can read')
      .requiredOption('--out <dir>', 'output folder on shared storage (masks named as `sab segment folder/` names them, plus results.jsonl)'),
  )
    .option('--no-attention', '2D-only mode: no VNet depth attention')
    .option('--axis <n>', 'slicing axis in voxel order (official: 2)', '2')
    .option(...SLICES)
    .option(...KEEP_LARGEST)
    .option(...MIN_SIZE)
    .option(...FILL_HOLES)
    .option('--probabilities', 'also write <name>_bone_probabilities (float32) next to each mask')
    .option(...SERIES)
    .option(...VOLUME_INDEX)
    .option('--format <ext>', `output format: ${OUTPUT_FORMATS.join(', ')} (default: the input's; dcm = DICOM-SEG, DICOM inputs only)`)
    .option('--attempts <n>', 'tries per job before it fails (a bad input fails at once)', integerOption('--attempts', 1), 3)
    .option('--backoff <s>', 'seconds before the first retry, doubled for each further one', integerOption('--backoff', 0), 10)
    .option('--json', 'print the added and existing jobs as JSON')
    .action(async (inputs: string[], opts: AddCliOptions) => {
      const res = await (await enqueueLib()).enqueueSegmentation(inputs, {
        ...targetOf(opts),
        outDir: opts.out,
        options: jobOptions(opts),
        attempts: opts.attempts,
        backoffSeconds: opts.backoff,
        onInput: opts.json || !process.stderr.isTTY ? undefined : (n, total) => process.stderr.write(`\rhashing inputs ${n}/${total}`),
      });
      if (!opts.json && process.stderr.isTTY) process.stderr.write('\n');
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(res, null, 1)}\n`);
        return;
      }
      for (const j of res.existing) process.stdout.write(`exists  ${j.jobId}  ${j.input} (${j.state})\n`);
      process.stdout.write(
        `queued ${res.added.length} new job(s)` +
          (res.existing.length ? `; ${res.existing.length} already queued or done, not added again` : '') +
          '\n',
      );
    });

  withTargetOptions(queue.command('status').description('Counts, active jobs with progress and worker, failed jobs with reasons, throughput and ETA'))
    .option('--json', 'machine-readable JSON')
    .action(async (opts: TargetCliOptions) => {
      const s = await (await statusLib()).queueStatus(targetOf(opts));
      if (opts.json) process.stdout.write(`${JSON.stringify(s, null, 1)}\n`);
      else printStatus(s);
    });

  withTargetOptions(
    queue.command('wait').description('Block until nothing is waiting or active; exit 1 if any job failed, 2 on --timeout'),
  )
    .option('--timeout <s>', 'give up after s seconds', integerOption('--timeout', 0))
    .option('--json', 'print the final counts as JSON')
    .action(async (opts: TargetCliOptions & { timeout?: number }) => {
      const quiet = opts.json || !process.stderr.isTTY;
      const res = await (await statusLib()).waitForQueue(targetOf(opts), {
        ...(opts.timeout !== undefined ? { timeoutSeconds: opts.timeout } : {}),
        ...(quiet ? {} : { onChange: (c: QueueCounts) => process.stderr.write(`${countsLine(c)}\n`) }),
      });
      if (opts.json) process.stdout.write(`${JSON.stringify(res, null, 1)}\n`);
      else process.stdout.write(`${res.timedOut ? 'timed out' : 'done'}: ${countsLine(res.counts)}\n`);
      if (res.timedOut) {
        process.stderr.write(`sab: error: --timeout ${opts.timeout} s passed with jobs still waiting or active\n`);
        process.exitCode = 2;
      } else if (res.counts.failed > 0) process.exitCode = 1;
    });

  withTargetOptions(queue.command('retry').description('Move every failed job back to waiting'))
    .action(async (opts: TargetCliOptions) => {
      const n = await (await statusLib()).retryFailed(targetOf(opts));
      process.stdout.write(`moved ${n} failed job(s) back to waiting\n`);
    });

  withTargetOptions(
    queue
      .command('clean')
      .description('Remove finished jobs from Redis (completed by default); outputs and results.jsonl stay, and workers never redo a recorded result'),
  )
    .option('--failed', 'remove failed jobs instead of completed ones')
    .option('--all', 'remove completed and failed jobs')
    .option('--grace <s>', 'only jobs finished more than s seconds ago', integerOption('--grace', 0), 0)
    .action(async (opts: TargetCliOptions & { failed?: boolean; all?: boolean; grace: number }) => {
      const states: CleanState[] = opts.all ? ['completed', 'failed'] : opts.failed ? ['failed'] : ['completed'];
      const n = await (await statusLib()).cleanQueue(targetOf(opts), states, opts.grace);
      process.stdout.write(`removed ${states.map((s) => `${n[s]} ${s}`).join(', ')} job(s)\n`);
    });
}
