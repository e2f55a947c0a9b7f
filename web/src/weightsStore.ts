/** The weights cached in the browser (IndexedDB), so they are read from disk only once. */

export type WeightsRole = 'sam' | 'vnet';

export interface StoredWeights {
  role: WeightsRole;
  name: string;
  bytes: Uint8Array;
}

const DB = 'segment-any-bone';
const STORE = 'weights';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'role' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('cannot open IndexedDB'));
  });
}

async function inStore<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    });
  } finally {
    db.close();
  }
}

export async function saveWeights(w: StoredWeights): Promise<void> {
  await inStore('readwrite', (s) => s.put(w));
}

export async function loadAllWeights(): Promise<StoredWeights[]> {
  try {
    return (await inStore('readonly', (s) => s.getAll())) as StoredWeights[];
  } catch {
    return []; // private mode or storage disabled: no cache, load from files each time
  }
}

export async function forgetWeights(): Promise<void> {
  await inStore('readwrite', (s) => s.clear());
}
