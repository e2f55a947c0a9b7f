/**
 * A ZIP writer laid out the way PyTorch's PyTorchStreamWriter (miniz) writes torch.save archives:
 * STORED entries, general-purpose flags 0x0808 (data descriptor + UTF-8), DOS time/date 0, sizes
 * and CRC in a trailing data descriptor, every record's data 64-byte aligned through an "FB" extra
 * field padded with 'Z', and a Zip64 end record before the classic one. Archives up to 4 GiB only.
 */

const ALIGNMENT = 64;
const U32_MAX = 0xffffffff;

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, reflected 0xEDB88320), as zip stores it. */
export function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  const t = crcTable;
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface ZipRecord {
  name: string;
  data: Uint8Array;
}

interface Placed {
  name: Uint8Array;
  offset: number;
  crc: number;
  size: number;
}

/**
 * Serialise records (in the given order) as one torch-style archive, returned as chunks to write in order: the small
 * headers, padding, data
 * descriptors and directory in buffers of their own, each record's data as the record's own array (not copied), so a
 * large checkpoint goes to disk without a second copy of its tensors in memory.
 */
export function torchZipChunks(records: readonly ZipRecord[]): Uint8Array[] {
  const enc = new TextEncoder();
  const placed: Placed[] = [];
  const chunks: Uint8Array[] = [];
  let cursor = 0;
  for (const r of records) {
    const name = enc.encode(r.name);
    const headerEnd = cursor + 30 + name.length + 4; // the FB extra's own 4 header bytes
    const padding = (ALIGNMENT - (headerEnd % ALIGNMENT)) % ALIGNMENT;
    const header = new Uint8Array(30 + name.length + 4 + padding);
    const view = new DataView(header.buffer);
    view.setUint32(0, 0x04034b50, true);
    view.setUint16(4, 0, true); // version needed (miniz writes 0)
    view.setUint16(6, 0x0808, true);
    // method, time, date, crc, sizes: zero (method STORED; the rest lives in the data descriptor)
    view.setUint16(26, name.length, true);
    view.setUint16(28, padding + 4, true);
    header.set(name, 30);
    let p = 30 + name.length;
    header[p] = 0x46; // 'F'
    header[p + 1] = 0x42; // 'B'
    view.setUint16(p + 2, padding, true);
    header.fill(0x5a, p + 4, p + 4 + padding); // 'Z'
    const crc = crc32(r.data);
    const descriptor = new Uint8Array(16);
    const d = new DataView(descriptor.buffer);
    d.setUint32(0, 0x08074b50, true);
    d.setUint32(4, crc, true);
    d.setUint32(8, r.data.length, true);
    d.setUint32(12, r.data.length, true);
    chunks.push(header, r.data, descriptor);
    placed.push({ name, offset: cursor, crc, size: r.data.length });
    cursor += header.length + r.data.length + 16;
  }
  const centralSize = placed.reduce((s, e) => s + 46 + e.name.length, 0);
  const centralAt = cursor;
  const total = centralAt + centralSize + 56 + 20 + 22;
  if (total > U32_MAX) throw new Error(`checkpoint archive would be ${total} bytes; archives over 4 GiB are not supported`);

  const tail = new Uint8Array(centralSize + 56 + 20 + 22);
  const view = new DataView(tail.buffer);
  let p = 0;
  for (const e of placed) {
    view.setUint32(p, 0x02014b50, true);
    // made-by 0, needed 0
    view.setUint16(p + 8, 0x0808, true);
    view.setUint32(p + 16, e.crc, true);
    view.setUint32(p + 20, e.size, true);
    view.setUint32(p + 24, e.size, true);
    view.setUint16(p + 28, e.name.length, true);
    view.setUint32(p + 42, e.offset, true);
    tail.set(e.name, p + 46);
    p += 46 + e.name.length;
  }
  const zip64At = centralAt + p;
  const n = BigInt(placed.length);
  view.setUint32(p, 0x06064b50, true);
  view.setBigUint64(p + 4, 44n, true);
  view.setUint16(p + 12, 0x031e, true); // made by: unix, 3.0 (as miniz writes)
  view.setUint16(p + 14, 0x002d, true); // needed: 4.5 (zip64)
  view.setBigUint64(p + 24, n, true);
  view.setBigUint64(p + 32, n, true);
  view.setBigUint64(p + 40, BigInt(centralSize), true);
  view.setBigUint64(p + 48, BigInt(centralAt), true);
  p += 56;
  view.setUint32(p, 0x07064b50, true);
  view.setBigUint64(p + 8, BigInt(zip64At), true);
  view.setUint32(p + 16, 1, true);
  p += 20;
  view.setUint32(p, 0x06054b50, true);
  const count = Math.min(placed.length, 0xffff);
  view.setUint16(p + 8, count, true);
  view.setUint16(p + 10, count, true);
  view.setUint32(p + 12, centralSize, true);
  view.setUint32(p + 16, centralAt, true);
  chunks.push(tail);
  return chunks;
}
