import type { Command } from 'commander';
import { existsSync, realpathSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { loadCheckpoint } from '../../checkpoint/load-checkpoint.js';
import { writeSafetensors } from '../../checkpoint/safetensors.js';
import type { StateDict } from '../../checkpoint/tensor.js';
import { writeFileAtomic } from '../../io/atomic.js';

/** Output writers by file extension; add '.onnx' etc. here. */
const WRITERS: Record<string, (dict: StateDict) => Uint8Array> = {
  '.safetensors': (dict) => writeSafetensors(dict),
};

function samePath(a: string, b: string): boolean {
  const real = (p: string): string => (existsSync(p) ? realpathSync(p) : resolve(p));
  return real(a) === real(b);
}

export function register(program: Command): void {
  program
    .command('convert')
    .description('Convert a checkpoint (PyTorch .pth or safetensors) to another format, chosen by the output extension.')
    .argument('<checkpoint>', 'input checkpoint file')
    .requiredOption('-o, --output <file>', `output file (${Object.keys(WRITERS).join(', ')})`)
    .action((input: string, opts: { output: string }) => {
      const ext = extname(opts.output).toLowerCase();
      const write = WRITERS[ext];
      if (!write) throw new Error(`${opts.output}: unsupported output format '${ext || '(no extension)'}' (supported: ${Object.keys(WRITERS).join(', ')})`);
      if (samePath(input, opts.output)) throw new Error(`${opts.output}: refusing to overwrite the input checkpoint`);
      const dict = loadCheckpoint(input);
      const bytes = write(dict);
      writeFileAtomic(opts.output, bytes, [input]);
      let tensorBytes = 0;
      for (const t of dict.values()) tensorBytes += t.data.byteLength;
      process.stdout.write(`wrote ${opts.output}: ${dict.size} tensors, ${tensorBytes} bytes of tensor data, ${bytes.length} bytes in all\n`);
    });
}
