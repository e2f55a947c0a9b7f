import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { QueueError } from './errors.js';

/** Where the queue lives: a redis:// or rediss:// (TLS) URL, optionally with user:password and /db. */
export interface RedisTarget {
  url: string;
  /** PEM file with the CA that signed the server's TLS certificate (rediss:// with a private CA). */
  tlsCa?: string;
}

export type RedisTargetLike = string | RedisTarget;

export function asTarget(t: RedisTargetLike): RedisTarget {
  return typeof t === 'string' ? { url: t } : t;
}

/** The URL with its password replaced by ***, for every message, log line and record. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '<unparsable redis URL>';
  }
}

/** Removes the password of `url` wherever it appears in `text` (raw and percent-decoded). */
export function scrubPassword(text: string, url: string): string {
  let pw = '';
  try {
    pw = new URL(url).password;
  } catch {
    return text;
  }
  if (!pw) return text;
  let out = text;
  for (const form of new Set([pw, safeDecode(pw)])) if (form.length > 0) out = out.split(form).join('***');
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** ioredis options for a target (parsed here so the URL string itself is never handed to a library that might log it). */
export function redisOptions(target: RedisTarget): RedisOptions {
  let u: URL;
  try {
    u = new URL(target.url);
  } catch {
    throw new QueueError(`--redis: not a URL (expected redis://[user:password@]host[:port][/db] or rediss://...)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new QueueError(`--redis ${redactRedisUrl(target.url)}: expected a redis:// or rediss:// URL`);
  }
  const db = u.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) throw new QueueError(`--redis ${redactRedisUrl(target.url)}: the path must be a database number`);
  const opts: RedisOptions = {
    host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(db ? { db: Number(db) } : {}),
    ...(u.username ? { username: safeDecode(u.username) } : {}),
    ...(u.password ? { password: safeDecode(u.password) } : {}),
  };
  if (u.protocol === 'rediss:') {
    let ca: Buffer | undefined;
    if (target.tlsCa) {
      try {
        ca = readFileSync(target.tlsCa);
      } catch (e) {
        throw new QueueError(`${target.tlsCa}: cannot read the TLS CA file (${(e as Error).message})`);
      }
    }
    // SNI takes host names only; an address is still checked against the certificate's IP entries.
    opts.tls = { ...(isIP(opts.host!) ? {} : { servername: opts.host }), ...(ca ? { ca } : {}) };
  } else if (target.tlsCa) {
    throw new QueueError(`--tls-ca needs a rediss:// URL (got ${redactRedisUrl(target.url)})`);
  }
  return opts;
}

export interface ConnectOptions {
  /** Reconnect forever (a worker riding out a Redis restart) instead of failing after a few tries. */
  persistent?: boolean;
  /** Called once per distinct connection problem while reconnecting (persistent connections). */
  onProblem?: (message: string) => void;
}

/**
 * An ioredis connection that has answered PING. A server that cannot be reached, a TLS failure or a wrong
 * password gives one QueueError naming the (redacted) URL and the reason.
 */
export async function connectRedis(targetLike: RedisTargetLike, opts: ConnectOptions = {}): Promise<Redis> {
  const target = asTarget(targetLike);
  const where = redactRedisUrl(target.url);
  const client = new Redis({
    ...redisOptions(target),
    lazyConnect: true,
    connectTimeout: 5000,
    // BullMQ's blocking commands must wait out a reconnect instead of failing.
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => (opts.persistent ? Math.min(250 * times, 5000) : times > 3 ? null : 200 * times),
  });
  let lastProblem = '';
  let connected = false;
  client.on('error', (err: Error) => {
    const msg = scrubPassword(err.message, target.url);
    if (connected && opts.persistent && msg !== lastProblem) opts.onProblem?.(`Redis at ${where}: ${msg} (reconnecting)`);
    lastProblem = msg;
  });
  client.on('ready', () => {
    if (connected && lastProblem) opts.onProblem?.(`Redis at ${where}: connected again`);
    lastProblem = '';
  });
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    client.disconnect();
    const reason = scrubPassword(lastProblem || (e as Error).message, target.url);
    throw new QueueError(`cannot use Redis at ${where}: ${reason}`);
  }
  connected = true;
  return client;
}
