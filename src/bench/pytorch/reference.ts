import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** One PyTorch training step, as `vnet_step.py`, `stage1_step.py` and `stage2_step.py` print it. */
export interface TorchStep {
  torch: string;
  parameters: number;
  /** zero_grad + forward + loss + backward, median ms. */
  stepMs: number;
  adamwMs: number;
  /** train-mode forward + loss under no_grad, median ms. */
  forwardMs: number;
  peakRssMiB: number;
  /** The BLAS/LAPACK libraries the timed process had mapped (empty off Linux and for wheels bundling MKL). */
  blas: string[];
}

export type TorchReference =
  | { ok: true; python: string; step: TorchStep; /** set when torch's BLAS is a slow one: its times are no reference */ blasWarning?: string }
  | { ok: false; reason: string };

/**
 * Why the BLAS libraries a torch process has mapped make its times no reference, or undefined. Debian's
 * `python3-torch` calls whatever `libblas.so.3` the alternatives system points at; without an optimised BLAS
 * installed that is netlib's reference implementation (`…/blas/libblas.so.3`), which ran a stage-2 batch-8 step
 * ~15x slower than ours (round nine). Wheels that bundle MKL map no separate BLAS, so an empty list is fine.
 */
export function slowBlasWarning(mapped: readonly string[]): string | undefined {
  const optimised = mapped.some((p) => /openblas|mkl|blis|atlas/i.test(p));
  const reference = mapped.find((p) => /\/blas\/libblas\.so/.test(p));
  return reference && !optimised
    ? `torch runs on the reference BLAS ${reference}, so its times are no reference (Debian: apt-get install libopenblas0-pthread)`
    : undefined;
}

/**
 * The PyTorch steps the bench can time: the VNet (batch 1; `vnet_step.py`), stage 1 (TinyViT encoder + mask decoder
 * from the image, adapters trained, at any batch; `stage1_step.py`) and stage 2 (fusion + adapted mask decoder from
 * cached embeddings at any batch; `stage2_step.py`).
 */
export type TorchModel = 'vnet' | 'sam1' | 'sam2';

const exec = promisify(execFile);
// The scripts stay in src/ (tsc copies no .py); from dist/bench/pytorch/ that is ../../../src/bench/pytorch/.
const scriptPath = (name: string) => fileURLToPath(new URL(`../../../src/bench/pytorch/${name}`, import.meta.url));
export const TORCH_SCRIPTS: Record<TorchModel, string> = {
  vnet: scriptPath('vnet_step.py'),
  sam1: scriptPath('stage1_step.py'),
  sam2: scriptPath('stage2_step.py'),
};
const STAGE1_ITERATION_SCRIPT = scriptPath('stage1_iteration.py');

/** One PyTorch stage-1 iteration (SAM step + AdamW, then VNet step + AdamW, one process), as `stage1_iteration.py` prints it. */
export interface TorchIteration {
  torch: string;
  iterationMs: number;
  peakRssMiB: number;
  blas: string[];
}

export type TorchIterationReference =
  | { ok: true; python: string; iteration: TorchIteration; blasWarning?: string }
  | { ok: false; reason: string };

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

let found: Promise<string | undefined> | undefined;

/** The first candidate Python that imports torch (looked up once per process), or undefined. */
export function torchPython(): Promise<string | undefined> {
  found ??= (async () => {
    for (const python of candidates()) if (await hasTorch(python)) return python;
    return undefined;
  })();
  return found;
}

/** The Python with torch that times the references, or why there is none. */
async function findTorch(): Promise<{ ok: true; python: string } | { ok: false; reason: string }> {
  const python = await torchPython();
  return python
    ? { ok: true, python }
    : { ok: false, reason: `no Python with torch among ${candidates().join(', ')} (Debian: apt-get install python3-torch libopenblas0-pthread; or set SAB_BENCH_PYTHON)` };
}

/**
 * Runs one reference script and reads the one JSON line it prints last, with the warning its BLAS calls for. A failure
 * of the script itself is an error: a reference that silently went missing would read as "no PyTorch".
 */
async function runTorchScript<T extends { blas: string[] }>(python: string, script: string, args: string[]): Promise<{ result: T; blasWarning?: string }> {
  const { stdout } = await exec(python, [script, ...args], { maxBuffer: 1 << 20 });
  const line = stdout.trim().split('\n').at(-1) ?? '';
  let result: T;
  try {
    result = JSON.parse(line) as T;
  } catch {
    throw new Error(`${script}: expected one JSON line, got ${JSON.stringify(line.slice(0, 200))}`);
  }
  const blasWarning = slowBlasWarning(result.blas);
  return { result, ...(blasWarning ? { blasWarning } : {}) };
}

/**
 * Times one PyTorch step in a child Python (same threads and repeats as ours; for stages 1 and 2 the same batch and,
 * given `weights`, the same checkpoint), or says why it could not.
 */
export async function pytorchStep(model: TorchModel, threads: number, repeats: number, batch = 1, weights?: string): Promise<TorchReference> {
  const found = await findTorch();
  if (!found.ok) return found;
  const { python } = found;
  if (model === 'vnet' && batch !== 1) return { ok: false, reason: 'vnet_step.py times batch 1 only' };
  // stage1_step.py and stage2_step.py take the batch and, optionally, the official-format checkpoint our row trains
  // (random weights without).
  const args = [String(threads), String(repeats), ...(model !== 'vnet' ? [String(batch), ...(weights ? [weights] : [])] : [])];
  const { result: step, blasWarning } = await runTorchScript<TorchStep>(python, TORCH_SCRIPTS[model], args);
  return { ok: true, python, step, ...(blasWarning ? { blasWarning } : {}) };
}

/**
 * Times a PyTorch stage-1 iteration in a child Python: both networks and both AdamW states in one process, as a stage-1
 * `sab finetune` iteration holds them, so its peak RSS is the reference for that iteration's (not the sum of two
 * single-step processes' peaks).
 */
export async function pytorchStage1Iteration(threads: number, repeats: number, batch: number, weights?: string): Promise<TorchIterationReference> {
  const found = await findTorch();
  if (!found.ok) return found;
  const { python } = found;
  const args = [String(threads), String(repeats), String(batch), ...(weights ? [weights] : [])];
  const { result: iteration, blasWarning } = await runTorchScript<TorchIteration>(python, STAGE1_ITERATION_SCRIPT, args);
  return { ok: true, python, iteration, ...(blasWarning ? { blasWarning } : {}) };
}
