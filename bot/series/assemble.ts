// Messages -> series. Patches of one posting are found by threading
// (In-Reply-To/References up to the cover letter or patch 1/N), with a
// fallback for patches sent without threading headers; postings that are
// versions of one another (same b4 change-id, or same author and title) are
// folded so only the newest is reviewed; replies are never patches. Every
// input message and failure ends up in `accounting` exactly once.
//
// Everything here is linear (or n log n) in the number of messages: threads
// are followed through maps with memoised answers, never walked again per
// message, so a 20,000-deep reply chain or a flood of unthreaded patches
// costs what 20,000 ordinary messages cost. Hostile shapes (reference cycles,
// a message replying to itself) end deterministically.
import { createHash } from 'node:crypto';
import { describeOrigin } from '../util/origin.js';
import { resolveLimits, type InputLimits } from '../limits.js';
import type { Assembly, Disposition, Message, ParseFailure, Series } from '../types.js';
import { messageKind, unthreadedKey, UNTHREADED_WINDOW_MS, type MessageKind } from './identity.js';
import { versionFamilies, versionReasons, type VersionNode } from './versions.js';

type Kind = MessageKind;

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

/** Unthreaded patches further apart than this are not taken for one posting (the service's too). */
const FALLBACK_WINDOW_MS = UNTHREADED_WINDOW_MS;

/**
 * An unthreaded patch looks at no more than this many of its nearest
 * neighbours in time for a posting to join (a flood of look-alike patches
 * must not make the search quadratic).
 */
const FALLBACK_CANDIDATES = 64;

export function seriesIdFor(rootMessageId: string): string {
  return 's-' + createHash('sha256').update(rootMessageId).digest('hex').slice(0, 16);
}

/**
 * What a message is to the assembler: identity.ts messageKind, except that a
 * message answering another without a Re: subject (no patch, no cover) is
 * 'other' here: it is a reply only when a patch thread takes it (step 5),
 * else not a patch.
 */
function classify(m: Message): Kind {
  const kind = messageKind(m);
  return kind === 'reply' && !m.tags.isReply ? 'other' : kind;
}

/** Parsed dates, once per message (sorting a 100k-patch flood compares dates millions of times). */
const times = new WeakMap<Message, number | null>();

function time(m: Message): number | null {
  let t = times.get(m);
  if (t === undefined) {
    const parsed = m.date ? Date.parse(m.date) : NaN;
    t = Number.isNaN(parsed) ? null : parsed;
    times.set(m, t);
  }
  return t;
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

/**
 * Two messages with one Message-ID are the same mail (delivered twice, e.g.
 * through two lists) when subject, sender and diff agree and one text is the
 * other with something appended (a list footer); else the ids conflict.
 */
function sameMail(a: Message, b: Message): string | null {
  if (a.subject !== b.subject) return 'the subjects differ';
  if (a.from.address.toLowerCase() !== b.from.address.toLowerCase()) return 'the senders differ';
  if (a.diff !== b.diff) return 'the diffs differ';
  const x = a.commitMessage;
  const y = b.commitMessage;
  if (x !== y && !x.startsWith(y) && !y.startsWith(x)) return 'the texts differ';
  return null;
}

/** At most this many assembly notes per series are listed; the rest are counted. */
const MAX_NOTES = 50;

function boundedNotes(notes: string[]): string[] {
  if (notes.length <= MAX_NOTES) return notes;
  return [...notes.slice(0, MAX_NOTES - 1), `... and ${notes.length - MAX_NOTES + 1} more notes`];
}

function minOf(xs: Iterable<number>): number {
  let m = Infinity;
  for (const x of xs) if (x < m) m = x;
  return m;
}

function maxOf(xs: Iterable<number>): number {
  let m = -Infinity;
  for (const x of xs) if (x > m) m = x;
  return m;
}

function byDateThenOrder(a: Entry, b: Entry): number {
  const ta = time(a.msg);
  const tb = time(b.msg);
  if (ta !== null && tb !== null && ta !== tb) return ta - tb;
  return a.order - b.order;
}

export interface AssembleOptions {
  limits?: Partial<InputLimits>;
}

export function assembleSeries(
  messages: Message[],
  failures: ParseFailure[] = [],
  opts: AssembleOptions = {},
): Assembly {
  const limits = resolveLimits(opts.limits);
  const entries: Entry[] = messages.map((msg, order) => ({ msg, order, kind: classify(msg) }));
  const byId = new Map<string, Entry>();
  const idConflicts: { first: Entry; other: Entry }[] = [];
  for (const e of entries) {
    const first = byId.get(e.msg.messageId);
    if (!first) {
      byId.set(e.msg.messageId, e);
      continue;
    }
    const differs = sameMail(first.msg, e.msg);
    if (differs === null) e.disposition = { kind: 'duplicate', of: first.msg.messageId };
    else {
      e.disposition = {
        kind: 'id-conflict',
        of: first.msg.messageId,
        reason: `Message-ID <${first.msg.messageId}> is already used by another message (${describeOrigin(first.msg.origin)}) and ${differs}; this one was not used`,
      };
      idConflicts.push({ first, other: e });
    }
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
  // Where a patch's posting is anchored: walk up while the parent is part of
  // the same posting (same version, and a cover letter or a patch of the same
  // length: deep threading). Every entry on a walk shares the answer (they
  // all have the same version and length), so it is remembered for each and
  // no chain is walked twice.
  type Anchor = { id: string; cover: boolean };
  const anchors = new Map<Entry, Anchor>();
  const anchorOf = (e: Entry): Anchor => {
    const t = e.msg.tags;
    const path: Entry[] = [];
    const onPath = new Set<Entry>();
    let x = e;
    let res: Anchor;
    for (;;) {
      const known = anchors.get(x);
      if (known) {
        res = known;
        break;
      }
      if (x.kind === 'cover') {
        res = { id: x.msg.messageId, cover: true };
        break;
      }
      path.push(x);
      onPath.add(x);
      const pid = parentId(x.msg);
      if (pid === null) {
        res = { id: x.msg.messageId, cover: false };
        break;
      }
      const parent = byId.get(pid);
      if (!parent) {
        res = { id: pid, cover: false }; // e.g. the cover letter, missing from the input
        break;
      }
      const pt = parent.msg.tags;
      const compatible =
        (parent.kind === 'cover' || parent.kind === 'patch') &&
        pt.version === t.version &&
        (parent.kind === 'cover' || pt.total === t.total);
      if (!compatible) {
        res = { id: x.msg.messageId, cover: false };
        break;
      }
      if (onPath.has(parent)) {
        // A reference cycle: anchor the whole cycle at its earliest message.
        const cycle = path.slice(path.indexOf(parent));
        const first = cycle.reduce((a, b) => (b.order < a.order ? b : a));
        res = { id: first.msg.messageId, cover: false };
        break;
      }
      x = parent;
    }
    for (const p of path) anchors.set(p, res);
    return res;
  };
  for (const e of unique) {
    if (e.kind !== 'patch' && e.kind !== 'cover') continue;
    const t = e.msg.tags;
    let key: string;
    if (e.kind === 'patch' && t.total === null) {
      key = `lone\0${e.msg.messageId}`; // a lone [PATCH] is a posting of its own
    } else {
      const a = anchorOf(e);
      key = `${a.id}\0v${t.version}\0${a.cover ? '*' : t.total}`;
    }
    const p = getPosting(key, t.version);
    (e.kind === 'cover' ? p.covers : p.patches).push(e);
    postingOf.set(e, p);
  }

  // 2. Fallback: patches sent without any threading headers, grouped by author,
  // version and length when they were sent close together: each joins the
  // posting of its nearest neighbour in time (within the window) that lacks
  // its index. Neighbours are found by binary search in the group's members
  // sorted by time, looking at no more than FALLBACK_CANDIDATES of them.
  const unthreaded = (e: Entry) => e.msg.inReplyTo === null && e.msg.references.length === 0;
  // The same groups the service files such patches by (identity.ts unthreadedKey).
  const groupKey = (e: Entry) => unthreadedKey(e.msg);
  const isSingle = (p: Posting) =>
    p.covers.length === 0 &&
    p.patches.length === 1 &&
    unthreaded(p.patches[0]!) &&
    (p.patches[0]!.msg.tags.total ?? 0) >= 2;
  const singles = [...postings.values()]
    .filter(isSingle)
    .sort((a, b) => byDateThenOrder(a.patches[0]!, b.patches[0]!));
  if (singles.length > 0) {
    // Members of every posting, by the group of the posting's first message.
    interface Member {
      e: Entry;
      t: number | null;
    }
    const groups = new Map<string, { timed: Member[]; untimed: Member[] }>();
    const singleGroups = new Set(singles.map((p) => groupKey(p.patches[0]!)));
    for (const p of postings.values()) {
      const g = groupKey(p.covers[0] ?? p.patches[0]!);
      if (!singleGroups.has(g)) continue;
      let group = groups.get(g);
      if (!group) groups.set(g, (group = { timed: [], untimed: [] }));
      for (const e of [...p.covers, ...p.patches]) {
        const t = time(e.msg);
        (t === null ? group.untimed : group.timed).push({ e, t });
      }
    }
    for (const group of groups.values())
      group.timed.sort((a, b) => a.t! - b.t! || a.e.order - b.e.order);
    const indexes = new Map<Posting, Set<number | null>>();
    const indexesOf = (p: Posting) => {
      let set = indexes.get(p);
      if (!set) indexes.set(p, (set = new Set(p.patches.map((h) => h.msg.tags.index))));
      return set;
    };
    const lowerBound = (xs: Member[], t: number) => {
      let lo = 0;
      let hi = xs.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (xs[mid]!.t! < t) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    for (const single of singles) {
      // A single may have become the host of others meanwhile: then it stays.
      if (postings.get(single.key) !== single || single.patches.length !== 1) continue;
      const e = single.patches[0]!;
      const group = groups.get(groupKey(e))!;
      const t = time(e.msg);
      const fits = (m: Member): Posting | null => {
        const host = postingOf.get(m.e)!;
        if (host === single) return null;
        return indexesOf(host).has(e.msg.tags.index) ? null : host;
      };
      let best: Posting | null = null;
      if (t === null) {
        // Without a date, only members without one are as close (the first that fits).
        for (const m of group.untimed.slice(0, FALLBACK_CANDIDATES + 1)) {
          if ((best = fits(m))) break;
        }
      } else {
        let right = lowerBound(group.timed, t);
        let left = right - 1;
        for (let looked = 0; looked < FALLBACK_CANDIDATES; looked++) {
          const l = left >= 0 ? group.timed[left]! : null;
          const r = right < group.timed.length ? group.timed[right]! : null;
          if (!l && !r) break;
          const gl = l ? t - l.t! : Infinity;
          const gr = r ? r.t! - t : Infinity;
          // The nearer one; on a tie the one earlier in the input.
          const takeLeft = gl < gr || (gl === gr && l!.e.order < r!.e.order);
          const m = takeLeft ? l! : r!;
          if (takeLeft) left--;
          else right++;
          if (Math.min(gl, gr) > FALLBACK_WINDOW_MS) break;
          if ((best = fits(m))) break;
        }
      }
      if (!best) continue;
      best.patches.push(e);
      indexesOf(best).add(e.msg.tags.index);
      postingOf.set(e, best);
      postings.delete(single.key);
      best.warnings.push(
        `patch ${describe(e)} <${e.msg.messageId}> has no In-Reply-To/References; grouped with this series by author, version, length and date`,
      );
    }
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
    let expected: number | null = totals.length ? maxOf(totals) : null;
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
    const implausible = expected !== null && expected > limits.maxPatchesPerSeries;
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
    if (patches.length > limits.maxPatchesPerSeries)
      p.series.refused = `the series has ${patches.length} patches, more than maxPatchesPerSeries (${limits.maxPatchesPerSeries}); not applied or reviewed`;
    p.resolvedId = id;
    if (cover) cover.disposition ??= { kind: 'cover', seriesId: id };
    for (const e of patches)
      e.disposition ??= { kind: 'patch', seriesId: id, index: e.msg.tags.index ?? 1 };
  }

  // 4. Versions (versions.ts): postings sharing a strong key (identity.ts:
  // the change-id, or the author with the series or first patch title), a
  // title the newer one's changelog says was renamed, or the same change at
  // consecutive versions. The newest of a family is reviewed; each older one
  // says which links made it older.
  const list = [...postings.values()];
  const postedAt = new Map<Posting, number>();
  const firstOrder = new Map<Posting, number>();
  const nodes: VersionNode[] = list.map((p) => {
    const members = [...p.covers, ...p.patches];
    const times = members.map((e) => time(e.msg)).filter((t): t is number => t !== null);
    postedAt.set(p, times.length ? maxOf(times) : -Infinity);
    firstOrder.set(p, minOf(members.map((e) => e.order)));
    return {
      series: p.series!,
      first: times.length ? minOf(times) : null,
      last: times.length ? maxOf(times) : null,
      notes: p.warnings,
    };
  });
  const { families, links } = versionFamilies(nodes);
  const at = new Map(list.map((p, i) => [p, i]));
  const byNewest = (a: number, b: number) => {
    const pa = list[a]!;
    const pb = list[b]!;
    return (
      pb.version - pa.version ||
      postedAt.get(pb)! - postedAt.get(pa)! ||
      firstOrder.get(pb)! - firstOrder.get(pa)!
    );
  };
  for (const f of families) f.sort(byNewest);
  const reasons = versionReasons(
    nodes,
    links,
    families.map((f) => f[0]!),
  );
  const reviewed: Series[] = [];
  const superseded: Series[] = [];
  /** The series that superseded a posting, for its replies' reasons. */
  const supersededBy = new Map<Posting, Series>();
  for (const family of families.map((f) => f.map((i) => list[i]!))) {
    const winner = family[0]!;
    const ws = winner.series!;
    reviewed.push(ws);
    const winnerByIndex = new Map(ws.patches.map((m) => [m.tags.index ?? 1, m]));
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
            e.kind === 'cover' ? ws.cover : winnerByIndex.get(e.msg.tags.index ?? 1);
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
        const reason = reasons.get(at.get(old)!) ?? 'same series';
        for (const e of members)
          e.disposition = { kind: 'superseded', seriesId: ws.id, byVersion: ws.version, reason };
        ws.supersedes.push({
          id: os.id,
          version: os.version,
          messageIds: members.map((e) => e.msg.messageId),
          reason,
        });
        old.resolvedId = os.id;
        superseded.push(os);
        supersededBy.set(old, ws);
      }
    }
    ws.supersedes.sort((a, b) => b.version - a.version);
  }
  for (const { first, other } of idConflicts) {
    const p = postingOf.get(first);
    if (p)
      p.warnings.push(
        `Message-ID <${first.msg.messageId}> is also used by a different message (${describeOrigin(other.msg.origin)}); the first one was used`,
      );
  }
  for (const p of list) {
    if (!p.warnings.length) continue;
    // (no push(...spread): a flood can leave 100,000 notes, past the argument limit)
    const notes = (p.series!.warnings ??= []);
    for (const w of boundedNotes(p.warnings)) notes.push(w);
  }

  // 5. Replies, and whatever else is neither patch nor cover: the posting of
  // the nearest message up the thread that belongs to one (In-Reply-To first,
  // then References from the last). Answers are remembered per Message-ID and
  // the walk is iterative, so a 20,000-deep reply chain is one pass.
  const seriesById = new Map(reviewed.map((s) => [s.id, s]));
  const threadMemo = new Map<string, Posting | null>();
  const inProgress = new Set<string>();
  const parentsOf = (m: Message): string[] => {
    const out = new Set<string>();
    if (m.inReplyTo) out.add(m.inReplyTo);
    for (let i = m.references.length - 1; i >= 0; i--) out.add(m.references[i]!);
    out.delete(m.messageId);
    return [...out];
  };
  const direct = (id: string): Posting | null => {
    const e = byId.get(id);
    return e ? (postingOf.get(e) ?? null) : null;
  };
  const threadPosting = (start: Message): Posting | null => {
    interface Frame {
      id: string;
      parents: string[];
      i: number;
    }
    const stack: Frame[] = [];
    /** The answer for `id` when known at once, else undefined (a frame was pushed). */
    const enter = (id: string, m?: Message): Posting | null | undefined => {
      const known = threadMemo.get(id);
      if (known !== undefined) return known;
      if (inProgress.has(id)) return null; // a reference cycle
      const msg = m ?? byId.get(id)?.msg;
      if (!msg) return null;
      const own = direct(id);
      if (own && !m) return own;
      const parents = parentsOf(msg);
      for (const pid of parents) {
        const p = direct(pid);
        if (p) {
          threadMemo.set(id, p);
          return p;
        }
      }
      inProgress.add(id);
      stack.push({ id, parents, i: 0 });
      return undefined;
    };
    const first = enter(start.messageId, start);
    if (first !== undefined) return first;
    let result: Posting | null = null;
    while (stack.length) {
      const f = stack[stack.length - 1]!;
      if (result === null && f.i < f.parents.length) {
        const r = enter(f.parents[f.i++]!);
        if (r !== undefined) result = r;
        continue;
      }
      // This frame is answered: by a parent's result, or null when none had one.
      threadMemo.set(f.id, result);
      inProgress.delete(f.id);
      stack.pop();
    }
    return result;
  };
  const replyReason = (m: Message, p: Posting | null): string => {
    if (p) {
      const s = p.series!;
      const newer = supersededBy.get(p);
      const what = `"${s.title}"${s.version > 1 ? ` v${s.version}` : ''}`;
      return newer
        ? `reply in the thread of ${what}, which v${newer.version} supersedes (${newer.id})`
        : `reply in the thread of ${what} (${p.resolvedId ?? s.id})`;
    }
    const parent = parentId(m);
    if (parent === null || parent === m.messageId)
      return 'a reply that names no message it answers (no In-Reply-To or References)';
    if (!byId.has(parent)) return `reply to <${parent}>, which is not in the input`;
    const missing = parentsOf(m).find((id) => !byId.has(id));
    return missing
      ? `reply in a thread whose patches are not in the input (<${missing}> is missing)`
      : `reply in a thread with no patch in the input (it answers <${parent}>)`;
  };
  for (const e of unique) {
    if (e.disposition) continue;
    const p = threadPosting(e.msg);
    const seriesId = p?.resolvedId ?? null;
    if (e.kind === 'reply' || p) {
      e.disposition = { kind: 'reply', seriesId, reason: replyReason(e.msg, p) };
      const s = seriesId ? seriesById.get(seriesId) : undefined;
      if (s) s.replies.push(e.msg.messageId);
      continue;
    }
    e.disposition = { kind: 'not-a-patch', reason: notAPatchReason(e.msg) };
  }

  // 6. Accounting: every message and every failure, exactly once, in input order;
  // a failure goes where it was in its file (a broken mbox entry between its
  // neighbours: before the first message of its file with a higher index,
  // else after the last message of its file, else at the end). One merge pass.
  type Account = Assembly['accounting'][number];
  const accountOf = (e: Entry): Account => {
    const a: Account = {
      messageId: e.msg.messageId,
      origin: e.msg.origin,
      subject: e.msg.subject,
      disposition: e.disposition!,
    };
    if (e.msg.warnings.length) a.warnings = e.msg.warnings;
    return a;
  };
  const failureAccount = (f: ParseFailure): Account => ({
    messageId: f.messageId ?? null,
    origin: f.origin,
    subject: f.subject ?? null,
    disposition: { kind: 'failed', reason: f.reason },
  });
  const pendingByFile = new Map<string, { f: ParseFailure; seq: number }[]>();
  failures.forEach((f, seq) => {
    const list = pendingByFile.get(f.origin.file) ?? [];
    list.push({ f, seq });
    pendingByFile.set(f.origin.file, list);
  });
  for (const list of pendingByFile.values())
    list.sort((a, b) => (a.f.origin.index ?? 0) - (b.f.origin.index ?? 0) || a.seq - b.seq);
  const lastOfFile = new Map<string, number>();
  entries.forEach((e, i) => lastOfFile.set(e.msg.origin.file, i));
  const cursor = new Map<string, number>();
  const accounting: Account[] = [];
  const flush = (file: string, below: number) => {
    const list = pendingByFile.get(file);
    if (!list) return;
    let k = cursor.get(file) ?? 0;
    while (k < list.length && (list[k]!.f.origin.index ?? 0) < below)
      accounting.push(failureAccount(list[k++]!.f));
    cursor.set(file, k);
  };
  entries.forEach((e, i) => {
    const file = e.msg.origin.file;
    flush(file, e.msg.origin.index ?? 0);
    accounting.push(accountOf(e));
    if (lastOfFile.get(file) === i) flush(file, Infinity);
  });
  // Failures of files no message came from, in their own order.
  const rest = failures
    .map((f, seq) => ({ f, seq }))
    .filter(({ f }) => !lastOfFile.has(f.origin.file));
  for (const { f } of rest) accounting.push(failureAccount(f));

  const orderOf = new Map(entries.map((e) => [e.msg, e.order]));
  const firstIn = new Map(
    reviewed.map((s) => [
      s,
      minOf([s.cover, ...s.patches].filter((m): m is Message => !!m).map((m) => orderOf.get(m)!)),
    ]),
  );
  const series = reviewed.sort((a, b) => firstIn.get(a)! - firstIn.get(b)!);
  return superseded.length ? { series, accounting, superseded } : { series, accounting };
}

function notAPatchReason(m: Message): string {
  const tags = m.tags.prefixes.length
    ? `subject tags [${m.tags.prefixes.join(' ')}] do not mark a patch`
    : 'no [PATCH] tag in the subject';
  if (m.diff !== null) return `${tags}, though it carries a diff; not in a patch thread`;
  return `${tags} and not in a patch thread`;
}
