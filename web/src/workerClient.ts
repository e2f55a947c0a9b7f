import type { RequestName, Requests, WorkerMessage } from './protocol.js';

type Pending = {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onProgress?: (done: number, total: number, stage: string) => void;
};

/** Promise-based calls into the model worker. */
export class ModelWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  onNotice: (message: string) => void = () => {};

  constructor() {
    this.worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'sab-model' });
    this.worker.onmessage = (ev: MessageEvent<WorkerMessage>) => this.receive(ev.data);
    this.worker.onerror = (ev) => {
      const err = new Error(`model worker failed: ${ev.message || 'unknown error'}`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
  }

  call<K extends RequestName>(
    type: K,
    args: Requests[K]['args'],
    options: { transfer?: Transferable[]; onProgress?: Pending['onProgress'] } = {},
  ): Promise<Requests[K]['result']> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const p: Pending = { resolve: resolve as (v: unknown) => void, reject };
      if (options.onProgress) p.onProgress = options.onProgress;
      this.pending.set(id, p);
      this.worker.postMessage({ id, type, args }, options.transfer ?? []);
    });
  }

  private receive(m: WorkerMessage): void {
    if (m.kind === 'notice') {
      this.onNotice(m.message);
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.kind === 'progress') p.onProgress?.(m.done, m.total, m.stage);
    else {
      this.pending.delete(m.id);
      if (m.kind === 'result') p.resolve(m.result);
      else p.reject(new Error(m.message));
    }
  }
}
