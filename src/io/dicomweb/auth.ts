/** How requests authenticate: nothing, a bearer token, or HTTP basic. Never printed. */
export type DicomwebAuth = { kind: 'none' } | { kind: 'bearer'; token: string } | { kind: 'basic'; user: string; password: string };

/**
 * Credentials from the environment: SAB_DICOMWEB_TOKEN (bearer) wins over SAB_DICOMWEB_USER and
 * SAB_DICOMWEB_PASSWORD (basic); a user:password@ in the URL is used when the environment has neither.
 */
export function authFromEnv(url: string, env: NodeJS.ProcessEnv = process.env): DicomwebAuth {
  const token = env['SAB_DICOMWEB_TOKEN'];
  if (token) return { kind: 'bearer', token };
  const user = env['SAB_DICOMWEB_USER'];
  if (user) return { kind: 'basic', user, password: env['SAB_DICOMWEB_PASSWORD'] ?? '' };
  try {
    const u = new URL(url);
    if (u.username) return { kind: 'basic', user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
  } catch {
    // not a URL: no credentials in it
  }
  return { kind: 'none' };
}

export function authHeader(auth: DicomwebAuth): Record<string, string> {
  if (auth.kind === 'bearer') return { authorization: `Bearer ${auth.token}` };
  if (auth.kind === 'basic') return { authorization: `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}` };
  return {};
}
