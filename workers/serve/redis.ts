// Connecting to Redis. The service cannot do anything without it, so a missing
// Redis is reported at once (within ~2 s) with how to start one, instead of
// ioredis' default of retrying forever in the background.
import { Redis } from 'ioredis';

export class RedisUnavailableError extends Error {}

export function redisHint(url: string): string {
  let port = '6379';
  try {
    port = new URL(url).port || '6379';
  } catch {
    // keep the default
  }
  return (
    `cannot reach Redis at ${url}. pcibot worker/serve need a Redis server; start one with\n` +
    `  redis-server --daemonize yes --port ${port} --save '' --appendonly yes\n` +
    `or point PCIBOT_REDIS_URL (or redis.url in the config) at a running one. ` +
    `(pcibot review does not need Redis.)`
  );
}

/**
 * Open a Redis connection suitable for BullMQ (maxRetriesPerRequest: null) and
 * check it answers PING within `timeoutMs`. Once up, the connection reconnects
 * by itself if Redis goes away later.
 */
export async function connectRedis(
  url: string,
  opts: { timeoutMs?: number; name?: string } = {},
): Promise<Redis> {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const client = new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    connectionName: opts.name,
    // Reconnect in the background only after the first successful connection.
    retryStrategy: (times) => Math.min(times * 200, 5000),
  });
  // Errors are surfaced through the promise below and through health checks; an
  // 'error' event without a listener would crash the process.
  client.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        await client.connect();
        await client.ping();
      })(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    client.disconnect();
    throw new RedisUnavailableError(
      `${redisHint(url)}\n(${(err as Error).message || String(err)})`,
    );
  } finally {
    clearTimeout(timer);
  }
  return client;
}
