// The service's own state in Redis, next to BullMQ's queues: the messages seen
// (patches and covers in full, everything else as a small record), threads
// ("buckets") collecting the parts of a series as they arrive, per review key
// the series, its applied state, analysis, verify outcome, ReviewResult and
// record (and whether it was dropped), the lineage of series versions (to say
// what v(N-1) findings vN fixes), series skipped as out of scope, quiet flags,
// and counters for /metrics. All keys live under `<prefix>:svc:` and expire
// after the configured retention; processors reach Redis only through this
// class (and BullMQ's queues).
import type { Redis } from 'ioredis';
import type { AnalyseOutput } from './analyse/analyse.js';
import {
  lineageKeys,
  strongLineageKeys,
  UNTHREADED_WINDOW_MS,
  type BucketPlan,
} from '../bot/series/identity.js';
import { resultJson } from './report/json.js';
import type { ReviewResult } from './report/types.js';
import type { Applied, Finding, Message, ParseFailure, Series } from '../bot/types.js';
import type { VerifyOutcome } from '../bot/verify/series.js';
import { genSuffix } from './jobs.js';

export interface MessageMeta {
  messageId: string;
  subject: string;
  from: string;
  list: string;
  /** The thread bucket the message was filed under, when it is part of a series. */
  bucket: string | null;
  kind: 'patch' | 'cover' | 'reply' | 'other';
  inReplyTo?: string | null;
  references?: string[];
  /** Read in a backfill (see IngestJob). */
  backfill?: boolean;
}

/** What the service remembers of a finished review (also what /healthz and tests read). */
export interface ReviewRecord {
  reviewKey: string;
  seriesId: string;
  title: string;
  version: number;
  round: string;
  list: string;
  status: 'reviewed' | 'superseded';
  partial: boolean;
  missing: number[];
  /** Findings per patch index (0 = series level). */
  findings: Record<number, Finding[]>;
  /** Findings of the previous reviewed version that this version no longer has. */
  fixed: { version: number; findings: Pick<Finding, 'rule' | 'file' | 'title'>[] } | null;
  replies: string[];
  /** Why the replies were not queued (too old, a backfill), when they were not. */
  held?: string;
  at: string;
}

export interface LineageEntry {
  reviewKey: string;
  seriesId: string;
  status: 'scheduled' | 'reviewed' | 'dropped';
  /** rule + file + title of each finding, when reviewed. */
  findings?: Pick<Finding, 'rule' | 'file' | 'title'>[];
  /**
   * Stored under a key that is not one of its series' strong keys (a title it
   * was renamed from, a change signature): a link through it is weak for
   * whoever reads it (ServiceState.versions). Set by setLineage.
   */
  weak?: boolean;
}

export type Counter =
  | 'messages_ingested'
  | 'messages_duplicate'
  | 'messages_failed'
  | 'series_reviewed'
  | 'series_skipped'
  | 'series_superseded'
  | 'replies_sent'
  | 'replies_outbox'
  | 'replies_suppressed'
  | 'replies_unknown'
  | 'replies_rate_limited'
  | 'replies_held'
  | 'replies_resolved'
  | 'triggers_honoured'
  | 'triggers_ignored'
  | 'triggers_too_old'
  | 'notices_sent'
  | 'redis_state_lost'
  | 'apply_failed'
  | 'github_deliveries'
  | 'github_deliveries_duplicate'
  | 'github_signature_rejected'
  | 'github_events_ignored'
  | 'github_commands_refused'
  | 'github_stale_heads'
  | 'github_skipped'
  | 'github_reviews_posted'
  | 'github_rate_limited'
  | 'github_api_failed';

/** ServiceState.fileInBucket's step: KEYS thread, group; ARGV own, role, ttl (s), window (ms). */
const FILE_IN_BUCKET = `
local role = ARGV[2]
local open = nil
local openFirst = false
if role ~= '' then
  local v = redis.call('GET', KEYS[2])
  if v then
    local sp = string.find(v, ' ', 1, true)
    if sp then open = string.sub(v, 1, sp - 1); openFirst = true else open = v end
  end
end
local bucket = redis.call('GET', KEYS[1])
if not bucket then
  if open and (role == 'part' or not openFirst) then bucket = open else bucket = ARGV[1] end
end
redis.call('SET', KEYS[1], bucket, 'EX', tonumber(ARGV[3]))
if role == 'first' then
  redis.call('SET', KEYS[2], bucket .. ' 1', 'PX', tonumber(ARGV[4]))
elseif role == 'part' then
  if open then redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]))
  else redis.call('SET', KEYS[2], bucket, 'PX', tonumber(ARGV[4])) end
end
return bucket
`;

export class ServiceState {
  readonly ttl: number;
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    retentionDays = 60,
  ) {
    this.ttl = retentionDays * 86400;
  }

  key(...parts: string[]): string {
    return `${this.prefix}:svc:${parts.join(':')}`;
  }

  private async setJson(key: string, value: unknown): Promise<void> {
    await this.redis.set(key, JSON.stringify(value), 'EX', this.ttl);
  }
  private async getJson<T>(key: string): Promise<T | null> {
    const s = await this.redis.get(key);
    return s === null ? null : (JSON.parse(s) as T);
  }

  // -- Redis's generation (bot/lore/follow.ts FollowState.generation, jobs.ts genSuffix)
  /** The generation marker Redis holds (null: none, Redis lost its state). */
  generation(): Promise<string | null> {
    return this.redis.get(this.key('generation'));
  }
  /**
   * Why a job made in `generation` is an orphan, or null when it is not (or
   * has no generation): Redis lost its state since the job was made, and what
   * the job finds (or got of it: it may be a replayed write) is not the state
   * it was made for. The follower walks the archive again from its durable
   * cursor and the work is done again under the new generation's ids.
   */
  async orphan(generation: string | undefined): Promise<string | null> {
    if (!generation) return null;
    const now = await this.generation();
    if (now === generation) return null;
    return `made in Redis generation ${generation}, Redis now ${now ? `at ${now}` : 'without one'} (it lost its state): left to the walk of the archive again`;
  }

  // -- messages (the done marker and the claim of a review are per generation: see orphan)
  async isIngested(msgKey: string, generation?: string): Promise<boolean> {
    return (await this.redis.exists(this.key('done', msgKey + genSuffix(generation)))) === 1;
  }
  async markIngested(msgKey: string, generation?: string): Promise<void> {
    await this.redis.set(this.key('done', msgKey + genSuffix(generation)), '1', 'EX', this.ttl);
  }
  async putMessage(msgKey: string, msg: Message, meta: MessageMeta): Promise<void> {
    const m = this.redis.multi();
    if (meta.kind === 'patch' || meta.kind === 'cover')
      m.set(this.key('msg', msgKey), JSON.stringify(msg), 'EX', this.ttl);
    m.set(this.key('meta', msgKey), JSON.stringify(meta), 'EX', this.ttl);
    await m.exec();
  }
  getMessage(msgKey: string): Promise<Message | null> {
    return this.getJson<Message>(this.key('msg', msgKey));
  }
  getMeta(msgKey: string): Promise<MessageMeta | null> {
    return this.getJson<MessageMeta>(this.key('meta', msgKey));
  }

  // -- thread buckets
  /**
   * The bucket a patch or cover letter is filed under (identity.ts BucketPlan;
   * the same steps as fileInBucket there), decided and remembered in one
   * atomic step, so that workers ingesting parts of one thread at once agree:
   * the thread's bucket by its root Message-ID (`thread-bucket:<root>`), and
   * an unthreaded group's open bucket (`unthreaded:<group>`, "<bucket> 1" once
   * a 1/N is in it, kept UNTHREADED_WINDOW_MS after its last patch).
   */
  async fileInBucket(plan: BucketPlan): Promise<string> {
    const u = plan.unthreaded;
    const res = await this.redis.eval(
      FILE_IN_BUCKET,
      2,
      this.key('thread-bucket', plan.root),
      u ? this.key('unthreaded', u.group) : '',
      plan.own,
      u ? (u.first ? 'first' : 'part') : '',
      String(this.ttl),
      String(UNTHREADED_WINDOW_MS),
    );
    return String(res);
  }
  async addToBucket(bucket: string, msgKey: string, now = Date.now()): Promise<number> {
    const m = this.redis.multi();
    m.sadd(this.key('bucket', bucket), msgKey);
    m.expire(this.key('bucket', bucket), this.ttl);
    m.set(this.key('bucket-first', bucket), String(now), 'EX', this.ttl, 'NX');
    m.get(this.key('bucket-first', bucket));
    const res = await m.exec();
    return Number(res?.[3]?.[1] ?? now);
  }
  async bucketMessages(bucket: string): Promise<Message[]> {
    const keys = await this.redis.smembers(this.key('bucket', bucket));
    if (keys.length === 0) return [];
    const vals = await this.redis.mget(keys.sort().map((k) => this.key('msg', k)));
    return vals.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as Message);
  }
  async bucketFirstSeen(bucket: string): Promise<number | null> {
    const v = await this.redis.get(this.key('bucket-first', bucket));
    return v === null ? null : Number(v);
  }

  // -- reviews
  putSeries(reviewKey: string, s: Series): Promise<void> {
    return this.setJson(this.key('series', reviewKey), s);
  }
  getSeries(reviewKey: string): Promise<Series | null> {
    return this.getJson<Series>(this.key('series', reviewKey));
  }
  putApplied(reviewKey: string, a: Applied | null): Promise<void> {
    return this.setJson(this.key('applied', reviewKey), { applied: a });
  }
  async getApplied(reviewKey: string): Promise<{ applied: Applied | null } | null> {
    return this.getJson<{ applied: Applied | null }>(this.key('applied', reviewKey));
  }
  putAnalysis(reviewKey: string, a: AnalyseOutput): Promise<void> {
    return this.setJson(this.key('analysis', reviewKey), a);
  }
  getAnalysis(reviewKey: string): Promise<AnalyseOutput | null> {
    return this.getJson<AnalyseOutput>(this.key('analysis', reviewKey));
  }
  putVerify(reviewKey: string, v: VerifyOutcome): Promise<void> {
    return this.setJson(this.key('verify', reviewKey), v);
  }
  getVerify(reviewKey: string): Promise<VerifyOutcome | null> {
    return this.getJson<VerifyOutcome>(this.key('verify', reviewKey));
  }
  /** The ReviewResult, stored as its canonical JSON (workers/report/json.ts resultJson). */
  async putResult(reviewKey: string, r: ReviewResult): Promise<void> {
    await this.redis.set(this.key('result', reviewKey), resultJson(r), 'EX', this.ttl);
  }
  /** The ReviewResult's JSON exactly as stored. */
  getResultJson(reviewKey: string): Promise<string | null> {
    return this.redis.get(this.key('result', reviewKey));
  }
  async getResult(reviewKey: string): Promise<ReviewResult | null> {
    const s = await this.getResultJson(reviewKey);
    return s === null ? null : (JSON.parse(s) as ReviewResult);
  }
  /** A review that is not to happen any more (superseded), with why. */
  async markDropped(reviewKey: string, why: string): Promise<void> {
    await this.redis.set(this.key('dropped', reviewKey), why, 'EX', this.ttl);
  }
  async isDropped(reviewKey: string): Promise<boolean> {
    return (await this.redis.exists(this.key('dropped', reviewKey))) === 1;
  }
  /** Record a series version as skipped (out of scope); true the first time only. */
  async markSkipped(seriesId: string, version: number, reason: string): Promise<boolean> {
    return (
      (await this.redis.set(
        this.key('skipped', seriesId, String(version)),
        reason,
        'EX',
        this.ttl,
        'NX',
      )) === 'OK'
    );
  }
  async putReview(r: ReviewRecord): Promise<void> {
    const m = this.redis.multi();
    m.set(this.key('review', r.reviewKey), JSON.stringify(r), 'EX', this.ttl);
    m.zadd(this.key('reviews'), Date.now(), r.reviewKey);
    await m.exec();
  }
  getReview(reviewKey: string): Promise<ReviewRecord | null> {
    return this.getJson<ReviewRecord>(this.key('review', reviewKey));
  }
  async listReviews(): Promise<ReviewRecord[]> {
    const keys = await this.redis.zrange(this.key('reviews'), 0, -1);
    const out: ReviewRecord[] = [];
    for (const k of keys) {
      const r = await this.getReview(k);
      if (r) out.push(r);
    }
    return out;
  }
  /** Claim a review key (true the first time only). */
  async claimReview(reviewKey: string, generation?: string): Promise<boolean> {
    return (
      (await this.redis.set(
        this.key('scheduled', reviewKey + genSuffix(generation)),
        '1',
        'EX',
        this.ttl,
        'NX',
      )) === 'OK'
    );
  }
  async isScheduled(reviewKey: string, generation?: string): Promise<boolean> {
    return (
      (await this.redis.exists(this.key('scheduled', reviewKey + genSuffix(generation)))) === 1
    );
  }

  // -- lineage (versions of one series). A series has several lineage keys
  // (bot/series/identity.ts: change-id, author + titles), as the assembler
  // folds versions on any of them: entries are written under every key and
  // read from all of them (the first key's entry wins for a version; see
  // versions() for the assembler's guards against two parents or children).
  async lineage(keys: string | readonly string[]): Promise<Map<number, LineageEntry>> {
    const out = new Map<number, LineageEntry>();
    for (const k of typeof keys === 'string' ? [keys] : keys) {
      const h = await this.redis.hgetall(this.key('lineage', k));
      for (const [v, json] of Object.entries(h))
        if (!out.has(parseInt(v, 10))) out.set(parseInt(v, 10), JSON.parse(json) as LineageEntry);
    }
    return out;
  }
  /**
   * The versions of a series' lineage as the assembler links them, never two
   * parents (or children) of one version: an entry under one of the `strong`
   * keys (identity.ts strongLineageKeys: change-id, the author's titles) that
   * is a strong key of its own series too is taken, the first key's first; a version found only under the other keys
   * (a renamed title, the same change at a consecutive version) is taken when
   * exactly one series has it and, seen from that series, this one is the
   * only one at this version (`self`); else it is `ambiguous` (with the
   * series ids), as the assembler links none of those either.
   */
  async versions(
    keys: readonly string[],
    strong: readonly string[],
    self?: { seriesId: string; version: number },
  ): Promise<{ versions: Map<number, LineageEntry>; ambiguous: Map<number, string[]> }> {
    const strongSet = new Set(strong);
    const byStrong = new Map<number, LineageEntry>();
    const byWeak = new Map<number, Map<string, LineageEntry>>();
    for (const k of keys) {
      const h = await this.redis.hgetall(this.key('lineage', k));
      for (const [v, json] of Object.entries(h)) {
        const version = parseInt(v, 10);
        const e = JSON.parse(json) as LineageEntry;
        // Strong for both: one of this series' strong keys, and one of the writer's.
        if (strongSet.has(k) && !e.weak) {
          if (!byStrong.has(version)) byStrong.set(version, e);
          continue;
        }
        const seen = byWeak.get(version) ?? new Map<string, LineageEntry>();
        if (!seen.has(e.seriesId)) seen.set(e.seriesId, e);
        byWeak.set(version, seen);
      }
    }
    const versions = new Map(byStrong);
    const ambiguous = new Map<number, string[]>();
    for (const [v, seen] of byWeak) {
      if (versions.has(v)) continue;
      const [only] = seen.values();
      if (seen.size === 1 && (!self || v === self.version || (await this.onlyOne(only!, self))))
        versions.set(v, only!);
      else ambiguous.set(v, [...seen.keys()].sort());
    }
    return { versions, ambiguous };
  }

  /** Whether the series of `e`, looking back (or forward) at `self`'s version, finds only `self`'s series. */
  private async onlyOne(
    e: LineageEntry,
    self: { seriesId: string; version: number },
  ): Promise<boolean> {
    const other = await this.getSeries(e.reviewKey);
    if (!other) return true;
    const { versions, ambiguous } = await this.versions(
      lineageKeys(other),
      strongLineageKeys(other),
    );
    if (ambiguous.has(self.version)) return false;
    const seen = versions.get(self.version);
    return !seen || seen.seriesId === self.seriesId;
  }

  /** Record a version under each of `keys`; those not in `strong` (default: all strong) as weak. */
  async setLineage(
    keys: string | readonly string[],
    version: number,
    e: LineageEntry,
    strong?: readonly string[],
  ): Promise<void> {
    const m = this.redis.multi();
    const base = { ...e };
    delete base.weak;
    for (const k of typeof keys === 'string' ? [keys] : keys) {
      // A weak entry is kept per series (`<version>/<series id>`): two series
      // naming one old title must both be seen, to see that the link is ambiguous.
      if (strong && !strong.includes(k))
        m.hset(
          this.key('lineage', k),
          `${version}/${e.seriesId}`,
          JSON.stringify({ ...base, weak: true }),
        );
      else m.hset(this.key('lineage', k), String(version), JSON.stringify(base));
      m.expire(this.key('lineage', k), this.ttl);
    }
    await m.exec();
  }

  // -- quiet (per thread bucket; `rule` silences one rule only)
  async setQuiet(bucket: string, rule: string | null): Promise<void> {
    await this.redis.sadd(this.key('quiet', bucket), rule ?? '*');
    await this.redis.expire(this.key('quiet', bucket), this.ttl);
  }
  async quietRules(bucket: string): Promise<Set<string>> {
    return new Set(await this.redis.smembers(this.key('quiet', bucket)));
  }

  // -- apply health: reviews in a row whose apply failed outright (the tree is unusable?)
  async applyOutcome(ok: boolean): Promise<number> {
    const k = this.key('apply-fail-streak');
    if (ok) {
      await this.redis.set(k, '0');
      return 0;
    }
    return this.redis.incr(k);
  }
  async applyFailStreak(): Promise<number> {
    return Number((await this.redis.get(this.key('apply-fail-streak'))) ?? 0);
  }

  // -- logs and counters
  async recordFailure(f: ParseFailure & { list: string }): Promise<void> {
    await this.redis.lpush(
      this.key('failures'),
      JSON.stringify({ ...f, at: new Date().toISOString() }),
    );
    await this.redis.ltrim(this.key('failures'), 0, 999);
  }
  async recordTrigger(t: Record<string, unknown>): Promise<void> {
    await this.redis.lpush(
      this.key('triggers'),
      JSON.stringify({ ...t, at: new Date().toISOString() }),
    );
    await this.redis.ltrim(this.key('triggers'), 0, 999);
  }
  async triggers(): Promise<Record<string, unknown>[]> {
    return (await this.redis.lrange(this.key('triggers'), 0, -1)).map((s) => JSON.parse(s));
  }
  async count(c: Counter, by = 1): Promise<void> {
    await this.redis.hincrby(this.key('counters'), c, by);
  }
  async counters(): Promise<Record<string, number>> {
    const h = await this.redis.hgetall(this.key('counters'));
    return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]));
  }

  /** Delete every key of this prefix (BullMQ's and ours): for tests. */
  static async wipe(redis: Redis, prefix: string): Promise<number> {
    let cursor = '0';
    let n = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) n += await redis.del(...keys);
    } while (cursor !== '0');
    return n;
  }
}
