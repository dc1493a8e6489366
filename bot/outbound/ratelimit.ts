// Rate limits for replies: per list and per recipient, as sliding windows in
// Redis (a sorted set of send times per limited thing). A reply is admitted only
// when every limit it falls under has room, and then counts against all of
// them at once (one Lua script, so concurrent senders cannot overshoot).
import type { Redis } from 'ioredis';

export interface Limit {
  key: string;
  max: number;
  windowMs: number;
}

const SCRIPT = `
local now = tonumber(ARGV[1])
local member = ARGV[2]
local n = #KEYS
local wait = 0
for i = 1, n do
  local max = tonumber(ARGV[1 + 2 * i])
  local win = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - win)
  if redis.call('ZSCORE', KEYS[i], member) == false and redis.call('ZCARD', KEYS[i]) >= max then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    local w = 1000
    if oldest[2] then w = tonumber(oldest[2]) + win - now end
    if w > wait then wait = w end
  end
end
if wait > 0 then return wait end
for i = 1, n do
  redis.call('ZADD', KEYS[i], now, member)
  redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[2 + 2 * i]))
end
return 0
`;

export class RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  limitKey(kind: 'list' | 'rcpt', name: string): string {
    return `${this.prefix}:svc:rate:${kind}:${name.toLowerCase()}`;
  }

  /**
   * Take one slot in every limit for `member` (idempotent per member). Returns
   * 0 when admitted, else how many ms to wait before trying again.
   */
  async take(member: string, limits: Limit[], now = Date.now()): Promise<number> {
    const active = limits.filter((l) => l.max > 0 || l.max === 0);
    const args: (string | number)[] = [now, member];
    for (const l of active) args.push(l.max, l.windowMs);
    const res = await this.redis.eval(SCRIPT, active.length, ...active.map((l) => l.key), ...args);
    return Number(res);
  }

  /** Give back the slot (the send failed before the server took it). */
  async release(member: string, limits: Limit[]): Promise<void> {
    const m = this.redis.multi();
    for (const l of limits) m.zrem(l.key, member);
    await m.exec();
  }
}
