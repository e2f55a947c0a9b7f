import { randomBytes } from 'node:crypto';

/** The boundary parameter of a multipart Content-Type. */
function boundaryOf(contentType: string): string | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

/** The bodies of a multipart/related response (WADO-RS), each part's headers dropped. */
export function parseMultipart(body: Buffer, contentType: string): Buffer[] {
  const boundary = boundaryOf(contentType);
  if (!boundary) throw new Error(`expected a multipart response, got Content-Type ${contentType || '(none)'}`);
  const delim = Buffer.from(`--${boundary}`);
  const parts: Buffer[] = [];
  let pos = body.indexOf(delim);
  while (pos >= 0) {
    const after = pos + delim.length;
    if (body[after] === 0x2d && body[after + 1] === 0x2d) break; // closing --boundary--
    const headerEnd = body.indexOf('\r\n\r\n', after);
    if (headerEnd < 0) throw new Error('truncated multipart response (part headers never end)');
    const next = body.indexOf(delim, headerEnd + 4);
    if (next < 0) throw new Error('truncated multipart response (no closing boundary)');
    // The part body ends before the CRLF that precedes the next delimiter.
    let end = next;
    if (body[end - 2] === 0x0d && body[end - 1] === 0x0a) end -= 2;
    parts.push(body.subarray(headerEnd + 4, end));
    pos = next;
  }
  return parts;
}

/** A multipart/related body of DICOM instances for STOW-RS, and its Content-Type. */
export function buildMultipart(instances: readonly Uint8Array[]): { body: Buffer; contentType: string } {
  const boundary = `sab-${randomBytes(12).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const inst of instances) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\nContent-Length: ${inst.length}\r\n\r\n`), Buffer.from(inst.buffer, inst.byteOffset, inst.byteLength), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` };
}
