// Messages -> series. Patches of one posting are found by threading
// (In-Reply-To/References up to the cover letter or patch 1/N), with a
// fallback for patches sent without threading headers; postings that are
// versions of one another (same b4 change-id, or same author and title) are
// folded so only the newest is reviewed; replies are never patches. Every
// input message and failure ends up in `accounting` exactly once.
import { createHash } from 'node:crypto';
import type { Assembly, Disposition, Message, ParseFailure, Series } from '../types.js';
import { versionKeys } from './identity.js';

type Kind = 'patch' | 'cover' | 'reply' | 'other';

interface Entry {
  msg: Message;
  /** Position in the input, for stable ordering. */
  order: number;
  kind: Kind;
  disposition?: Disposition;
}

interface Posting {
  key: string;
  version: number;
  covers: Entry[];
  patches: Entry[];
  warnings: string[];
  /** Set once the posting is turned into a series. */
  series?: Series;
  /** The reviewed series this posting ended up as (itself, or the newer one that replaced it). */
  resolvedId?: string;
}

/** Longer than any real series (the longest on the lists run to a few hundred). */
const MAX_SERIES_LENGTH = 2000;

/** Unthreaded patches further apart than this are not taken for one posting. */
const FALLBACK_WINDOW_MS = 60 * 60 * 1000;

export function seriesIdFor(rootMessageId: string): string {
  return 's-' + createHash('sha256').update(rootMessageId).digest('hex').slice(0, 16);
}

function isPatchLike(m: Message): boolean {
  if (m.tags.isReply) return false;
  if (m.tags.isPatch) return true;
  // `[RFC] foo` or `[net-next 1/2] foo` carrying a diff: a patch whose sender dropped PATCH.
  return m.diff !== null && (m.tags.rfc || m.tags.resend || m.tags.index !== null);
}

function classify(m: Message): Kind {
  if (m.tags.isReply) return 'reply';
  if (isPatchLike(m)) return m.tags.index === 0 ? 'cover' : 'patch';
  return 'other';
}

function time(m: Message): number | null {
  if (!m.date) return null;
  const t = Date.parse(m.date);
  return Number.isNaN(t) ? null : t;
}

/** The message a message answers: In-Reply-To, else the last reference. */
function parentId(m: Message): string | null {
  return m.inReplyTo ?? m.references[m.references.length - 1] ?? null;
}

function describe(e: Entry): string {
  const t = e.msg.tags;
  return t.index === null ? `[PATCH]` : `${t.index}/${t.total}`;
}

function sameContent(a: Message, b: Message): boolean {
  return a.diff === b.diff && a.commitMessage === b.commitMessage;
}

function byDateThenOrder(a: Entry, b: Entry): number {
  const ta = time(a.msg);
  const tb = time(b.msg);
  if (ta !== null && tb !== null && ta !== tb) return ta - tb;
  return a.order - b.order;
}

class UnionFind {
  private parent: number[];
  constructor(n: number) {
    this.parent = Array.from({ length: n }, (_, i) => i);
  }
  find(i: number): number {
    while (this.parent[i] !== i) {
      this.parent[i] = this.parent[this.parent[i]!]!;
      i = this.parent[i]!;
    }
    return i;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.parent[Math.max(ra, rb)] = Math.min(ra, rb);
  }
}

export function assembleSeries(messages: Message[], failures: ParseFailure[] = []): Assembly {
  const entries: Entry[] = messages.map((msg, order) => ({ msg, order, kind: classify(msg) }));
  const byId = new Map<string, Entry>();
  for (const e of entries) {
    const first = byId.get(e.msg.messageId);
    if (first) e.disposition = { kind: 'duplicate', of: first.msg.messageId };
    else byId.set(e.msg.messageId, e);
  }
  const unique = entries.filter((e) => !e.disposition);

  // 1. Postings by threading.
  const postings = new Map<string, Posting>();
  const postingOf = new Map<Entry, Posting>();
  const getPosting = (key: string, version: number) => {
    let p = postings.get(key);
    if (!p) postings.set(key, (p = { key, version, covers: [], patches: [], warnings: [] }));
    return p;
  };
  for (const e of unique) {
    if (e.kind !== 'patch' && e.kind !== 'cover') continue;
    const t = e.msg.tags;
    let key: string;
    if (e.kind === 'patch' && t.total === null) {
      key = `lone\0${e.msg.messageId}`; // a lone [PATCH] is a posting of its own
    } else {
      // Walk up while the parent is part of the same posting: same version, and
      // a cover letter, or a patch of the same length (deep threading).
      let x = e;
      const seen = new Set<Entry>([e]);
      let anchor: string;
      let anchorIsCover = false;
      for (;;) {
        if (x.kind === 'cover') {
          anchor = x.msg.messageId;
          anchorIsCover = true;
          break;
        }
        const pid = parentId(x.msg);
        if (pid === null) {
          anchor = x.msg.messageId;
          break;
        }
        const parent = byId.get(pid);
        if (!parent) {
          anchor = pid; // e.g. the cover letter, missing from the input
          break;
        }
        const pt = parent.msg.tags;
        const compatible =
          !seen.has(parent) &&
          (parent.kind === 'cover' || parent.kind === 'patch') &&
          pt.version === t.version &&
          (parent.kind === 'cover' || pt.total === t.total);
        if (!compatible) {
          anchor = x.msg.messageId;
          break;
        }
        seen.add(parent);
        x = parent;
      }
      key = `${anchor}\0v${t.version}\0${anchorIsCover ? '*' : t.total}`;
    }
    const p = getPosting(key, t.version);
    (e.kind === 'cover' ? p.covers : p.patches).push(e);
    postingOf.set(e, p);
  }

  // 2. Fallback: patches sent without any threading headers, grouped by author,
  // version and length when they were sent close together.
  const unthreaded = (e: Entry) => e.msg.inReplyTo === null && e.msg.references.length === 0;
  const singles = [...postings.values()]
    .filter(
      (p) =>
        p.covers.length === 0 &&
        p.patches.length === 1 &&
        unthreaded(p.patches[0]!) &&
        (p.patches[0]!.msg.tags.total ?? 0) >= 2,
    )
    .sort((a, b) => byDateThenOrder(a.patches[0]!, b.patches[0]!));
  const groupKey = (e: Entry) =>
    `${e.msg.from.address.toLowerCase()}\0${e.msg.tags.version}\0${e.msg.tags.total}\0${e.msg.tags.rfc}`;
  for (const single of singles) {
    // A single may have become the host of others meanwhile: then it stays.
    if (postings.get(single.key) !== single || single.patches.length !== 1) continue;
    const e = single.patches[0]!;
    const t = time(e.msg);
    let best: Posting | null = null;
    let bestGap = Infinity;
    for (const host of postings.values()) {
      if (host === single || host.patches.length + host.covers.length === 0) continue;
      const ref = host.covers[0] ?? host.patches[0]!;
      if (groupKey(ref) !== groupKey(e)) continue;
      if (host.patches.some((h) => h.msg.tags.index === e.msg.tags.index)) continue;
      const members = [...host.covers, ...host.patches];
      const gaps = members.map((m) => {
        const mt = time(m.msg);
        return t === null && mt === null
          ? 0
          : t === null || mt === null
            ? Infinity
            : Math.abs(mt - t);
      });
      const gap = Math.min(...gaps);
      if (gap <= FALLBACK_WINDOW_MS && gap < bestGap) {
        best = host;
        bestGap = gap;
      }
    }
    if (!best) continue;
    best.patches.push(e);
    postingOf.set(e, best);
    postings.delete(single.key);
    best.warnings.push(
      `patch ${describe(e)} <${e.msg.messageId}> has no In-Reply-To/References; grouped with this series by author, version, length and date`,
    );
  }

  // 3. Each posting becomes a series.
  const warnDup = (p: Posting, text: string) => p.warnings.push(text);
  for (const p of postings.values()) {
    p.covers.sort(byDateThenOrder);
    p.patches.sort(byDateThenOrder);
    const cover = p.covers[0] ?? null;
    for (const extra of p.covers.slice(1)) {
      if (sameContent(extra.msg, cover!.msg))
        extra.disposition = { kind: 'duplicate', of: cover!.msg.messageId };
      else {
        extra.disposition = {
          kind: 'not-a-patch',
          reason: `a second, different cover letter in the same posting; <${cover!.msg.messageId}> was used`,
        };
        warnDup(p, `two different cover letters; <${extra.msg.messageId}> was left out`);
      }
    }
    const byIndex = new Map<number, Entry>();
    for (const e of p.patches) {
      const index = e.msg.tags.index ?? 1;
      const kept = byIndex.get(index);
      if (!kept) {
        byIndex.set(index, e);
        continue;
      }
      if (sameContent(kept.msg, e.msg)) {
        e.disposition = { kind: 'duplicate', of: kept.msg.messageId };
      } else {
        e.disposition = {
          kind: 'not-a-patch',
          reason: `a second, different patch ${describe(e)} in the same posting; <${kept.msg.messageId}> was used`,
        };
        warnDup(
          p,
          `two different patches ${describe(e)}: <${kept.msg.messageId}> was used, <${e.msg.messageId}> left out`,
        );
      }
    }
    const patches = [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, e]) => e);
    const root = cover ?? patches[0]!;
    const totals = [
      ...new Set(
        [cover, ...patches].flatMap((e) =>
          e && e.msg.tags.total !== null ? [e.msg.tags.total] : [],
        ),
      ),
    ];
    let expected: number | null = totals.length ? Math.max(...totals) : null;
    if (totals.length > 1) {
      p.warnings.push(
        `subjects disagree on the series length (${totals.join(', ')}); expecting ${expected}`,
      );
    }
    if (patches.every((e) => e.msg.tags.total === null) && !cover) expected = null;
    for (const e of patches) {
      const i = e.msg.tags.index ?? 1;
      if (expected !== null && i > expected)
        p.warnings.push(`patch ${describe(e)} is numbered beyond the series length ${expected}`);
    }
    if (cover?.msg.diff) p.warnings.push('the cover letter carries a diff; it is not applied');
    const present = new Set(patches.map((e) => e.msg.tags.index ?? 1));
    const missing: number[] = [];
    const implausible = expected !== null && expected > MAX_SERIES_LENGTH;
    if (implausible) {
      // "[PATCH 1/99999999]" must not make us list a hundred million missing parts.
      p.warnings.push(`series length ${expected} is implausible; missing parts are not listed`);
    } else if (expected !== null) {
      for (let i = 1; i <= expected; i++) if (!present.has(i)) missing.push(i);
    }
    const firstWith = <K extends 'baseCommit' | 'changeId'>(k: K) =>
      cover?.msg[k] ?? patches.find((e) => e.msg[k] !== null)?.msg[k] ?? null;
    const id = seriesIdFor(root.msg.messageId);
    p.series = {
      id,
      title: root.msg.tags.title,
      version: root.msg.tags.version,
      rfc: root.msg.tags.rfc,
      resend: root.msg.tags.resend,
      author: root.msg.from,
      cover: cover?.msg ?? null,
      patches: patches.map((e) => e.msg),
      expected,
      missing,
      complete: missing.length === 0 && patches.length > 0 && !implausible,
      baseCommit: firstWith('baseCommit'),
      changeId: firstWith('changeId'),
      supersedes: [],
      replies: [],
    };
    p.resolvedId = id;
    if (cover) cover.disposition ??= { kind: 'cover', seriesId: id };
    for (const e of patches)
      e.disposition ??= { kind: 'patch', seriesId: id, index: e.msg.tags.index ?? 1 };
  }

  // 4. Versions: postings sharing a version key (identity.ts: the change-id, or
  // the author with the series title or the first patch's title).
  const list = [...postings.values()];
  const uf = new UnionFind(list.length);
  const byKey = new Map<string, number>();
  list.forEach((p, i) => {
    for (const k of versionKeys(p.series!)) {
      const j = byKey.get(k);
      if (j === undefined) byKey.set(k, i);
      else uf.union(i, j);
    }
  });
  const families = new Map<number, Posting[]>();
  list.forEach((p, i) => {
    const r = uf.find(i);
    const f = families.get(r) ?? [];
    f.push(p);
    families.set(r, f);
  });
  const postedAt = (p: Posting) => {
    const ts = [...p.covers, ...p.patches]
      .map((e) => time(e.msg))
      .filter((t): t is number => t !== null);
    return ts.length ? Math.max(...ts) : -Infinity;
  };
  const firstOrder = (p: Posting) => Math.min(...[...p.covers, ...p.patches].map((e) => e.order));
  const reviewed: Series[] = [];
  for (const family of families.values()) {
    family.sort(
      (a, b) => b.version - a.version || postedAt(b) - postedAt(a) || firstOrder(b) - firstOrder(a),
    );
    const winner = family[0]!;
    const ws = winner.series!;
    reviewed.push(ws);
    for (const old of family.slice(1)) {
      const os = old.series!;
      const members = [...old.covers, ...old.patches].filter(
        (e) => e.disposition?.kind === 'cover' || e.disposition?.kind === 'patch',
      );
      const sameVersion = old.version === winner.version;
      const identical =
        os.patches.length === ws.patches.length &&
        os.patches.every((m, i) => m.diff === ws.patches[i]!.diff);
      if (sameVersion && (os.resend || ws.resend || identical)) {
        // The same version posted again (RESEND): the newest posting is the one reviewed.
        for (const e of members) {
          const counterpart =
            e.kind === 'cover'
              ? ws.cover
              : ws.patches.find((m) => (m.tags.index ?? 1) === (e.msg.tags.index ?? 1));
          e.disposition = {
            kind: 'duplicate',
            of: (counterpart ?? ws.cover ?? ws.patches[0]!).messageId,
          };
        }
        old.resolvedId = ws.id;
        (ws.warnings ??= []).push(
          `also posted as <${(os.cover ?? os.patches[0]!).messageId}> (same version); this newest posting is used`,
        );
      } else {
        for (const e of members)
          e.disposition = { kind: 'superseded', seriesId: ws.id, byVersion: ws.version };
        ws.supersedes.push({
          id: os.id,
          version: os.version,
          messageIds: members.map((e) => e.msg.messageId),
        });
        old.resolvedId = os.id;
      }
    }
    ws.supersedes.sort((a, b) => b.version - a.version);
  }
  for (const p of list) if (p.warnings.length) (p.series!.warnings ??= []).push(...p.warnings);

  // 5. Replies, and whatever else is neither patch nor cover.
  const seriesById = new Map(reviewed.map((s) => [s.id, s]));
  const findPosting = (m: Message): Posting | null => {
    const queue = [...(m.inReplyTo ? [m.inReplyTo] : []), ...[...m.references].reverse()];
    const seen = new Set<string>();
    while (queue.length) {
      const id = queue.shift()!;
      if (seen.has(id)) continue;
      seen.add(id);
      const e = byId.get(id);
      if (!e) continue;
      const p = postingOf.get(e);
      if (p) return p;
      if (e.msg.inReplyTo) queue.push(e.msg.inReplyTo);
      queue.push(...[...e.msg.references].reverse());
    }
    return null;
  };
  for (const e of unique) {
    if (e.disposition) continue;
    const p = findPosting(e.msg);
    const seriesId = p?.resolvedId ?? null;
    if (e.kind === 'reply' || p) {
      e.disposition = { kind: 'reply', seriesId };
      const s = seriesId ? seriesById.get(seriesId) : undefined;
      if (s) s.replies.push(e.msg.messageId);
      continue;
    }
    e.disposition = { kind: 'not-a-patch', reason: notAPatchReason(e.msg) };
  }

  // 6. Accounting: every message and every failure, exactly once, in input order;
  // a failure goes where it was in its file (a broken mbox entry between its neighbours).
  const accounting: Assembly['accounting'] = entries.map((e) => ({
    messageId: e.msg.messageId,
    origin: e.msg.origin,
    subject: e.msg.subject,
    disposition: e.disposition!,
  }));
  for (const f of failures) {
    const entry: Assembly['accounting'][number] = {
      messageId: f.messageId ?? null,
      origin: f.origin,
      subject: f.subject ?? null,
      disposition: { kind: 'failed', reason: f.reason },
    };
    const sameFile = (i: number) => accounting[i]!.origin.file === f.origin.file;
    let at = accounting.findIndex(
      (a, i) => sameFile(i) && (a.origin.index ?? 0) > (f.origin.index ?? 0),
    );
    if (at < 0) {
      for (let i = accounting.length - 1; i >= 0; i--)
        if (sameFile(i)) {
          at = i + 1;
          break;
        }
    }
    if (at < 0) accounting.push(entry);
    else accounting.splice(at, 0, entry);
  }

  const orderOf = new Map(entries.map((e) => [e.msg, e.order]));
  const firstIn = (s: Series) =>
    Math.min(
      ...[s.cover, ...s.patches].filter((m): m is Message => !!m).map((m) => orderOf.get(m)!),
    );
  const series = reviewed.sort((a, b) => firstIn(a) - firstIn(b));
  return { series, accounting };
}

function notAPatchReason(m: Message): string {
  const tags = m.tags.prefixes.length
    ? `subject tags [${m.tags.prefixes.join(' ')}] do not mark a patch`
    : 'no [PATCH] tag in the subject';
  if (m.diff !== null) return `${tags}, though it carries a diff; not in a patch thread`;
  return `${tags} and not in a patch thread`;
}
