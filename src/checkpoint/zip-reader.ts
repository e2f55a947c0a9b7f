import { inflateSync } from 'fflate';
import { CheckpointError } from './errors.js';

/**
 * Minimal ZIP central-directory reader. torch.save writes STORED (uncompressed) entries, so
 * returning subarray views of the file bytes avoids copying the whole archive (as fflate's
 * unzipSync would); DEFLATE entries are inflated on demand. Supports Zip64 sizes/offsets.
 */
export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const EOCD64_LOCATOR_SIG = 0x07064b50;
const EOCD64_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;

export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly fileName: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.readCentralDirectory();
  }

  private fail(problem: string): never {
    throw new CheckpointError(this.fileName, problem);
  }

  private u64(at: number): number {
    const v = this.view.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail('zip64 field too large');
    return Number(v);
  }

  private findEndOfCentralDirectory(): number {
    const n = this.bytes.length;
    // EOCD is 22 bytes plus a comment of at most 65535 bytes.
    const stop = Math.max(0, n - 22 - U16_MAX);
    for (let p = n - 22; p >= stop; p--) {
      if (this.view.getUint32(p, true) === EOCD_SIG && p + 22 + this.view.getUint16(p + 20, true) <= n) return p;
    }
    return this.fail('truncated or damaged zip archive: end-of-central-directory record not found');
  }

  private readCentralDirectory(): void {
    const n = this.bytes.length;
    if (n < 22) this.fail(`truncated zip archive (${n} bytes)`);
    const eocd = this.findEndOfCentralDirectory();
    let count = this.view.getUint16(eocd + 10, true);
    let cdSize = this.view.getUint32(eocd + 12, true);
    let cdOffset = this.view.getUint32(eocd + 16, true);
    if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
      const loc = eocd - 20;
      if (loc < 0 || this.view.getUint32(loc, true) !== EOCD64_LOCATOR_SIG) this.fail('zip64 end-of-central-directory locator missing');
      const e64 = this.u64(loc + 8);
      if (e64 + 56 > n || this.view.getUint32(e64, true) !== EOCD64_SIG) this.fail('zip64 end-of-central-directory record missing');
      count = this.u64(e64 + 32);
      cdSize = this.u64(e64 + 40);
      cdOffset = this.u64(e64 + 48);
    }
    if (cdOffset + cdSize > n) this.fail('truncated zip archive: central directory lies past the end of the file');
    const decoder = new TextDecoder();
    let p = cdOffset;
    for (let i = 0; i < count; i++) {
      if (p + 46 > n || this.view.getUint32(p, true) !== CENTRAL_SIG) this.fail(`damaged zip archive: central directory entry ${i} is invalid`);
      const method = this.view.getUint16(p + 10, true);
      let compressedSize = this.view.getUint32(p + 20, true);
      let size = this.view.getUint32(p + 24, true);
      const nameLen = this.view.getUint16(p + 28, true);
      const extraLen = this.view.getUint16(p + 30, true);
      const commentLen = this.view.getUint16(p + 32, true);
      let localHeaderOffset = this.view.getUint32(p + 42, true);
      if (p + 46 + nameLen + extraLen + commentLen > n) this.fail(`damaged zip archive: central directory entry ${i} runs past the end of the file`);
      const name = decoder.decode(this.bytes.subarray(p + 46, p + 46 + nameLen));
      // Zip64 extended information: only the fields saturated in the fixed header are present, in this order.
      let e = p + 46 + nameLen;
      const extraEnd = e + extraLen;
      while (e + 4 <= extraEnd) {
        const id = this.view.getUint16(e, true);
        const len = this.view.getUint16(e + 2, true);
        if (id === 0x0001) {
          let q = e + 4;
          const fieldEnd = Math.min(extraEnd, e + 4 + len);
          const next = (): number => (q + 8 <= fieldEnd ? this.u64((q += 8) - 8) : this.fail(`damaged zip archive: zip64 field of entry ${i} is too short`));
          if (size === U32_MAX) size = next();
          if (compressedSize === U32_MAX) compressedSize = next();
          if (localHeaderOffset === U32_MAX) localHeaderOffset = next();
        }
        e += 4 + len;
      }
      this.entries.set(name, { name, method, compressedSize, size, localHeaderOffset });
      p = extraEnd + commentLen;
    }
  }

  /** Entry bytes: a view into the archive for STORED entries, a fresh buffer for DEFLATE ones. */
  read(entry: ZipEntry): Uint8Array {
    const at = entry.localHeaderOffset;
    if (at + 30 > this.bytes.length || this.view.getUint32(at, true) !== LOCAL_SIG) {
      this.fail(`truncated or damaged zip archive: local header of ${entry.name} is missing`);
    }
    // The local header's extra field may differ from the central one (torch pads it to align data).
    const start = at + 30 + this.view.getUint16(at + 26, true) + this.view.getUint16(at + 28, true);
    const end = start + entry.compressedSize;
    if (end > this.bytes.length) this.fail(`truncated zip archive: ${entry.name} ends past the end of the file`);
    const raw = this.bytes.subarray(start, end);
    if (entry.method === 0) return raw;
    if (entry.method === 8) {
      // Deflate expands at most ~1032:1, so a larger declared size is damage, refused before allocating it.
      if (entry.size > raw.length * 1032 + 1024) this.fail(`damaged zip archive: ${entry.name} declares ${entry.size} bytes from ${raw.length} compressed`);
      try {
        return inflateSync(raw, { out: new Uint8Array(entry.size) });
      } catch (err) {
        this.fail(`cannot inflate ${entry.name}: ${(err as Error).message}`);
      }
    }
    return this.fail(`${entry.name} uses unsupported zip compression method ${entry.method}`);
  }
}
