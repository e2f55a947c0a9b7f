import { Command } from 'commander';
import { readFileSync } from 'node:fs';

interface CommandModule {
  register(program: Command): void;
}

/**
 * Every sub-command, in the order help lists them, with the module that defines it. A module is imported only
 * when its command runs (or help lists them all): importing all of them cost ~0.3 s of every process, most of
 * it modules (DICOM codecs, HTTP server, trainer) the command at hand never uses.
 */
const COMMANDS: ReadonlyArray<readonly [string, () => Promise<CommandModule>]> = [
  ['convert', () => import('./commands/convert.js')],
  ['info', () => import('./commands/info.js')],
  ['segment', () => import('./commands/segment.js')],
  ['weights', () => import('./commands/weights.js')],
  ['trace', () => import('./commands/trace.js')],
  ['evaluate', () => import('./commands/evaluate.js')],
  ['stats', () => import('./commands/stats.js')],
  ['mesh', () => import('./commands/mesh.js')],
  ['preview', () => import('./commands/preview.js')],
  ['phantom', () => import('./commands/phantom.js')],
  ['serve', () => import('./commands/serve.js')],
  ['finetune', () => import('./commands/finetune.js')],
  ['queue', () => import('./commands/queue.js')],
  ['worker', () => import('./commands/worker.js')],
  ['dicomweb', () => import('./commands/dicomweb.js')],
  ['transfer-labels', () => import('./commands/transfer-labels.js')],
];

export const COMMAND_NAMES: readonly string[] = COMMANDS.map(([name]) => name);

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * The command an argument list runs: its first word that is not an option (sab's own options take no value).
 * Undefined for `sab`, `sab --help`, `sab help …` and unknown words, which need every command registered
 * (help lists them; commander suggests the nearest name for a typo).
 */
export function commandOf(args: readonly string[]): string | undefined {
  const word = args.find((a) => !a.startsWith('-'));
  return word !== undefined && COMMAND_NAMES.includes(word) ? word : undefined;
}

/**
 * The `sab` command tree for `args` (the words after `sab`). Each sub-command lives in its own module and only
 * composes the library; only the command `args` names is loaded, or all of them when none is named.
 */
export async function buildProgram(args: readonly string[] = process.argv.slice(2)): Promise<Command> {
  const program = new Command();
  program
    .name('sab')
    .description('SegmentAnyBone: segment every bone in an MRI volume (MobileSAM + depth attention on ONNX Runtime).')
    .version(packageVersion())
    .showHelpAfterError();
  const chosen = commandOf(args);
  // `sab --version` prints and exits before any command is looked at.
  const versionOnly = chosen === undefined && args.some((a) => a === '-V' || a === '--version') && !args.some((a) => a === '-h' || a === '--help');
  const wanted = versionOnly ? [] : COMMANDS.filter(([name]) => chosen === undefined || name === chosen);
  const modules = await Promise.all(wanted.map(([, load]) => load()));
  for (const m of modules) m.register(program);
  return program;
}
