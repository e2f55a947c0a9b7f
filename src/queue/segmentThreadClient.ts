import { Worker } from 'node:worker_threads';
import { UnrecoverableError } from 'bullmq';
import type { SegmentJobData } from './spec.js';
import type { FromThread, SegmentOutcome, SegmentThreadConfig, ToThread } from './segmentThread.js';

const THREAD_FILE = new URL('./segmentThread.js', import.meta.url);

/** The BullMQ side's handle on one segmentation thread: one loaded model, one job at a time. */
export class SegmentThread {
  dead = false;
  private pending: { resolve: (o: SegmentOutcome) => void; reject: (e: Error) => void; onProgress: (d: number, t: number) => void } | undefined;
  private released: Promise<void> | undefined;

  private constructor(private readonly worker: Worker) {}

  /** Starts a thread and waits until its model is loaded (a missing or bad checkpoint throws its error here). */
  static start(config: SegmentThreadConfig, onNotice: (m: string) => void): Promise<SegmentThread> {
    const worker = new Worker(THREAD_FILE, { workerData: config });
    const t = new SegmentThread(worker);
    return new Promise((resolve, reject) => {
      let ready = false;
      worker.on('message', (m: FromThread) => {
        if (m.kind === 'notice') onNotice(m.message);
        else if (!ready) {
          if (m.kind === 'ready') {
            ready = true;
            resolve(t);
          } else if (m.kind === 'failed') {
            void worker.terminate();
            reject(new Error(m.message));
          }
        } else t.onMessage(m);
      });
      const die = (err: Error) => {
        t.dead = true;
        if (!ready) reject(err);
        t.pending?.reject(err);
        t.pending = undefined;
      };
      worker.on('error', die);
      worker.on('exit', (code) => {
        if (!t.released) die(new Error(`the segmentation thread exited (code ${code})`));
      });
    });
  }

  private onMessage(m: FromThread): void {
    const p = this.pending;
    if (!p) return;
    if (m.kind === 'progress') p.onProgress(m.done, m.total);
    else if (m.kind === 'done') {
      this.pending = undefined;
      p.resolve(m.outcome);
    } else if (m.kind === 'failed') {
      this.pending = undefined;
      // A bad input fails its own job at once, with the error `sab segment` prints; anything else is retried.
      p.reject(m.inputError ? new UnrecoverableError(m.message) : new Error(m.message));
    }
  }

  run(spec: SegmentJobData, onProgress: (done: number, total: number) => void): Promise<SegmentOutcome> {
    if (this.pending) throw new Error('segmentation thread is busy');
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject, onProgress };
      this.worker.postMessage({ kind: 'job', spec } satisfies ToThread);
    });
  }

  /** Frees the model's sessions and ends the thread. */
  release(): Promise<void> {
    this.released ??= this.dead
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          this.worker.once('exit', () => resolve());
          // The thread answers once ONNX Runtime has freed its sessions; then it is ended for sure.
          this.worker.on('message', (m: FromThread) => {
            if (m.kind === 'released') void this.worker.terminate();
          });
          this.worker.postMessage({ kind: 'release' } satisfies ToThread);
        });
    return this.released;
  }
}
