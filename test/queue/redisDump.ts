import { connectRedis } from '../../src/queue/redis.js';

/** Every string value stored in Redis (all keys, all types), to search for the password. */
export async function everythingInRedis(url: string, ca?: string): Promise<string> {
  const r = await connectRedis({ url, ...(ca ? { tlsCa: ca } : {}) });
  try {
    const parts: string[] = [];
    for (const key of await r.keys('*')) {
      parts.push(key);
      const type = await r.type(key);
      if (type === 'string') parts.push((await r.get(key)) ?? '');
      else if (type === 'hash') parts.push(JSON.stringify(await r.hgetall(key)));
      else if (type === 'list') parts.push(JSON.stringify(await r.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await r.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await r.zrange(key, '0', '-1')));
      else if (type === 'stream') parts.push(JSON.stringify(await r.xrange(key, '-', '+')));
    }
    return parts.join('\n');
  } finally {
    r.disconnect();
  }
}
