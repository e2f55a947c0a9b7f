import { randomBytes } from 'node:crypto';

/** A new DICOM UID under the UUID-derived root 2.25 (PS3.5 B.2): no registered org root needed. */
export function newUid(): string {
  return `2.25.${BigInt(`0x${randomBytes(16).toString('hex')}`).toString()}`;
}

/** DICOM DA and TM values for "now". */
export function dicomNow(): { date: string; time: string } {
  const d = new Date();
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return { date: `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}`, time: `${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}` };
}
