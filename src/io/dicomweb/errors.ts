/** One clear DICOMweb failure: names the (credential-free) URL and the problem. */
export class DicomwebError extends Error {
  override name = 'DicomwebError';
  constructor(
    readonly url: string,
    readonly problem: string,
    readonly status?: number,
  ) {
    super(`${url}: ${problem}`);
  }
}

/** A URL without user:password@ and without query values that look like secrets, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    for (const k of [...u.searchParams.keys()]) if (/token|key|secret|pass|auth/i.test(k)) u.searchParams.set(k, '***');
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}
