import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** One PyTorch VNet training step, as `vnet_step.py` prints it. */
export interface TorchStep {
  torch: string;
  parameters: number;
  /** zero_grad + forward + loss + backward, median ms. */
  stepMs: number;
  adamwMs: number;
  /** train-mode forward + loss under no_grad, median ms. */
  forwardMs: number;
  peakRssMiB: number;
}

export type TorchReference = { ok: true; python: string; step: TorchStep } | { ok: false; reason: string };

const exec = promisify(execFile);
// The script stays in src/ (tsc copies no .py); from dist/bench/pytorch/ that is ../../../src/bench/pytorch/.
const SCRIPT = fileURLToPath(new URL('../../../src/bench/pytorch/vnet_step.py', import.meta.url));

/** Pythons to try in order: SAB_BENCH_PYTHON, then the one on PATH, then Debian's (where `python3-torch` installs). */
function candidates(): string[] {
  const env = process.env['SAB_BENCH_PYTHON'];
  return [...new Set([...(env ? [env] : []), 'python3', '/usr/bin/python3'])];
}

async function hasTorch(python: string): Promise<boolean> {
  try {
    await exec(python, ['-c', 'import torch'], { timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Times the PyTorch VNet step in a child Python (same threads and repeats as ours), or says why it could not.
 * A failure of the script itself is an error: a reference that silently went missing would read as "no PyTorch".
 */
export async function pytorchVNetStep(threads: number, repeats: number): Promise<TorchReference> {
  for (const python of candidates()) {
    if (!(await hasTorch(python))) continue;
    const { stdout } = await exec(python, [SCRIPT, String(threads), String(repeats)], { maxBuffer: 1 << 20 });
    const line = stdout.trim().split('\n').at(-1) ?? '';
    try {
      return { ok: true, python, step: JSON.parse(line) as TorchStep };
    } catch {
      throw new Error(`${SCRIPT}: expected one JSON line, got ${JSON.stringify(line.slice(0, 200))}`);
    }
  }
  return {
    ok: false,
    reason: `no Python with torch among ${candidates().join(', ')} (Debian: apt-get install python3-torch libopenblas0-pthread; or set SAB_BENCH_PYTHON)`,
  };
}
