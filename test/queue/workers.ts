import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { CLI } from '../cli/helpers.js';

/** A `sab worker` child process whose log the test can wait on. */
export interface WorkerProcess {
  child: ChildProcess;
  log(): string;
  /** Resolves when the log matches `re` (rejects after `timeoutMs`). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnWorker(args: string[], env: NodeJS.ProcessEnv = {}): WorkerProcess {
  const child = spawn(process.execPath, [CLI, 'worker', ...args], {
    env: { ...process.env, SAB_WEIGHTS: '', SAB_REDIS: '', XDG_CACHE_HOME: path.join(os.tmpdir(), 'sab-test-empty-cache'), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    log += d;
    for (const w of [...waiters]) if (w.re.test(log)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    log: () => log,
    exited,
    waitFor(re, timeoutMs = 120_000) {
      if (re.test(log)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`worker log never matched ${re}:\n${log}`)), timeoutMs);
        waiters.push({ re, resolve: () => (clearTimeout(timer), resolve()) });
        void exited.then(() => setTimeout(() => re.test(log) || reject(new Error(`worker exited before ${re}:\n${log}`)), 50));
      });
    },
  };
}
