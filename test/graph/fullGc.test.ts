import { PerformanceObserver, constants } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { fullGarbageCollection } from '../../src/graph/fullGc.js';

describe('fullGarbageCollection', () => {
  it('runs a full (mark-compact) collection within the call, without --expose-gc', async () => {
    fullGarbageCollection(); // the first call also finds the collector (creating a context may collect by itself)
    const entries: { kind: number; start: number }[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) entries.push({ kind: (e.detail as { kind: number }).kind, start: e.startTime });
    });
    observer.observe({ entryTypes: ['gc'] });
    let t0 = 0;
    let t1 = 0;
    try {
      t0 = performance.now();
      fullGarbageCollection();
      t1 = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 50)); // gc entries are delivered asynchronously
    } finally {
      observer.disconnect();
    }
    // Nothing else runs during the synchronous call, so a major collection that started inside it is its own.
    const within = entries.filter((e) => e.kind === constants.NODE_PERFORMANCE_GC_MAJOR && e.start >= t0 && e.start <= t1);
    expect(within.length).toBeGreaterThanOrEqual(1);
  });
});
