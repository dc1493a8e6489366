// The service's GitHub state in Redis, beside ServiceState's (same prefix,
// `<prefix>:svc:gh:...`, same retention): the newest head per PR (set by the
// webhook, read before anything is fetched or posted, so a stale head is
// never reviewed or reported), per review the PR head it is of, its check
// run and how many annotation batches were sent (a retried job goes on where
// it stopped), and the API's health (rate limit, failures in a row, the last
// error) for /healthz and /metrics, and the review under way per PR. Also
// the keys: a PR's key and a review key per PR head and round.
import type { Redis } from 'ioredis';
import type { ApiEvents } from '../bot/github/client.js';
import type { PrRef } from '../bot/github/pr.js';
import { hashOf, type GithubTarget } from './jobs.js';
import type { ServiceState } from './state.js';

/** A PR's key: a hash of owner/repo#N (job ids may not hold `/` `#` `:`). */
export const prKeyOf = (r: PrRef): string =>
  hashOf(`gh\0${r.owner.toLowerCase()}\0${r.repo.toLowerCase()}\0${r.number}`, 16);

/** The review of one PR head in one round (`a` automatic, `c<comment id>` asked for). */
export const githubReviewKey = (r: PrRef, headSha: string, round: string): string =>
  `gh-${prKeyOf(r)}-${headSha.slice(0, 12)}-${round}`;

export interface GithubApiStatus {
  rateLimit: { remaining: number | null; reset: number | null };
  /** Seconds-since-epoch until which a rate limit was said to hold, or null. */
  limitedUntil: number | null;
  failuresInRow: number;
  lastError: { at: string; status: number; route: string; message: string } | null;
}

export class GithubState {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    readonly ttl: number,
  ) {}

  key(...parts: string[]): string {
    return `${this.prefix}:svc:gh:${parts.join(':')}`;
  }

  /** The newest head the webhooks told of, per PR. */
  async setHead(prKey: string, sha: string): Promise<void> {
    await this.redis.set(this.key('head', prKey), sha, 'EX', this.ttl);
  }
  head(prKey: string): Promise<string | null> {
    return this.redis.get(this.key('head', prKey));
  }

  /** The review under way for a PR (the newest head's), to drop an older one's. */
  async setCurrentReview(prKey: string, reviewKey: string): Promise<void> {
    await this.redis.set(this.key('current', prKey), reviewKey, 'EX', this.ttl);
  }
  currentReview(prKey: string): Promise<string | null> {
    return this.redis.get(this.key('current', prKey));
  }

  async putTarget(reviewKey: string, t: GithubTarget): Promise<void> {
    await this.redis.set(this.key('target', reviewKey), JSON.stringify(t), 'EX', this.ttl);
  }
  async target(reviewKey: string): Promise<GithubTarget | null> {
    const s = await this.redis.get(this.key('target', reviewKey));
    return s === null ? null : (JSON.parse(s) as GithubTarget);
  }

  /** The PR's page on GitHub (its html_url), for the review's report page. */
  async putPrUrl(reviewKey: string, url: string): Promise<void> {
    await this.redis.set(this.key('prurl', reviewKey), url, 'EX', this.ttl);
  }
  prUrl(reviewKey: string): Promise<string | null> {
    return this.redis.get(this.key('prurl', reviewKey));
  }

  async setCheckRun(reviewKey: string, id: number): Promise<void> {
    await this.redis.set(this.key('check', reviewKey), String(id), 'EX', this.ttl);
  }
  async checkRun(reviewKey: string): Promise<number | null> {
    const s = await this.redis.get(this.key('check', reviewKey));
    return s === null ? null : Number(s);
  }
  async setBatches(reviewKey: string, n: number): Promise<void> {
    await this.redis.set(this.key('batches', reviewKey), String(n), 'EX', this.ttl);
  }
  async batches(reviewKey: string): Promise<number> {
    return Number((await this.redis.get(this.key('batches', reviewKey))) ?? 0);
  }
  /** Whether a review's results were posted (true once; a retried job posts nothing twice). */
  async markPosted(reviewKey: string): Promise<void> {
    await this.redis.set(this.key('posted', reviewKey), '1', 'EX', this.ttl);
  }
  async isPosted(reviewKey: string): Promise<boolean> {
    return (await this.redis.exists(this.key('posted', reviewKey))) === 1;
  }

  /** The API events, kept for /healthz and counted for /metrics (best effort: never fails a request). */
  apiEvents(state: ServiceState, log: (l: string) => void): ApiEvents {
    const k = this.key('api');
    const quiet = (p: Promise<unknown>) => void p.catch(() => {});
    return {
      ok: ({ remaining, reset }) => {
        const m = this.redis.multi().hset(k, 'failuresInRow', '0');
        if (remaining !== null) m.hset(k, 'remaining', String(remaining));
        if (reset !== null) m.hset(k, 'reset', String(reset));
        quiet(m.exec());
      },
      rateLimited: ({ kind, retryAfterSec, retry, route }) => {
        quiet(state.count('github_rate_limited'));
        quiet(
          this.redis.hset(k, 'limitedUntil', String(Math.ceil(Date.now() / 1000) + retryAfterSec)),
        );
        if (!retry) log(`GitHub ${kind} rate limit on ${route}: the job will be retried later`);
      },
      failed: ({ status, route, message }) => {
        quiet(state.count('github_api_failed'));
        quiet(
          this.redis
            .multi()
            .hincrby(k, 'failuresInRow', 1)
            .hset(
              k,
              'lastError',
              JSON.stringify({
                at: new Date().toISOString(),
                status,
                route,
                message: message.slice(0, 500),
              }),
            )
            .exec(),
        );
      },
    };
  }

  async apiStatus(): Promise<GithubApiStatus> {
    const h = await this.redis.hgetall(this.key('api'));
    const n = (v: string | undefined) => (v === undefined ? null : Number(v));
    return {
      rateLimit: { remaining: n(h.remaining), reset: n(h.reset) },
      limitedUntil: n(h.limitedUntil),
      failuresInRow: Number(h.failuresInRow ?? 0),
      lastError: h.lastError ? (JSON.parse(h.lastError) as GithubApiStatus['lastError']) : null,
    };
  }
}
