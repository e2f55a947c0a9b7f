import type { OpRecord } from './builder.js';

// Lookups for passes that rewrite or inspect a built graph (quantization, BatchNorm statistics).

/** Value name -> the node that writes it. */
export function producersOf(records: readonly OpRecord[]): Map<string, OpRecord> {
  const producer = new Map<string, OpRecord>();
  for (const r of records) for (const o of r.outputs) producer.set(o, r);
  return producer;
}

/** Value name -> the nodes that read it, in graph order. */
export function consumersOf(records: readonly OpRecord[]): Map<string, OpRecord[]> {
  const readers = new Map<string, OpRecord[]>();
  for (const r of records) {
    for (const i of r.inputs) {
      if (!i) continue;
      const list = readers.get(i);
      if (list) list.push(r);
      else readers.set(i, [r]);
    }
  }
  return readers;
}
