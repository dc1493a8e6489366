// Series identity, defined once for the assembler and the service: what a
// message is to a series (patch, cover letter, reply), which thread bucket the
// service files it under until the assembler sees the whole thread, and which
// postings are versions of one series (the keys the assembler folds versions
// on, and the lineage the service remembers reviews under).
import { createHash } from 'node:crypto';
import { parseUnifiedDiff } from '../mail/diffparse.js';
import { patchIndex, type Message, type Series } from '../types.js';
import { titleAliases, type TitleAlias } from './changelog.js';

const hashOf = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 24);

export type MessageKind = 'patch' | 'cover' | 'reply' | 'other';

/** A patch or cover letter: PATCH in the subject, or `[RFC]`/`[net-next 1/2]` with a diff; never a Re:. */
export function isPatchLike(m: Message): boolean {
  if (m.tags.isReply) return false;
  if (m.tags.isPatch) return true;
  // `[RFC] foo` or `[net-next 1/2] foo` carrying a diff: a patch whose sender dropped PATCH.
  return m.diff !== null && (m.tags.rfc || m.tags.resend || m.tags.index !== null);
}

/**
 * What a message is to a series: a patch, a cover letter (0/N), a reply (a
 * Re: subject, or anything else that answers another message: it may carry a
 * maintainer's command), or other.
 */
export function messageKind(m: Message): MessageKind {
  if (m.tags.isReply) return 'reply';
  if (isPatchLike(m)) return m.tags.index === 0 ? 'cover' : 'patch';
  return m.inReplyTo ? 'reply' : 'other';
}

/** The thread a message belongs to: its first reference, else what it answers; null for a thread root. */
export function threadRoot(m: Message): string | null {
  return m.references[0] ?? m.inReplyTo;
}

/** Numbered patches sent without threading headers belong together by author, version, length and RFC-ness. */
export function unthreadedKey(m: Message): string {
  return `${m.from.address.toLowerCase()}\0${m.tags.version}\0${m.tags.total}\0${m.tags.rfc}`;
}

/**
 * Unthreaded patches further apart than this are not taken for one posting
 * (the assembler's fallback window; the service keeps a group's bucket open
 * this long after its last patch).
 */
export const UNTHREADED_WINDOW_MS = 60 * 60 * 1000;

/**
 * How the service files a patch or cover letter into a thread bucket (a set
 * of messages the assembler sees together). A thread's bucket is decided by
 * the first of its messages to arrive and kept (ServiceState.fileInBucket,
 * one atomic step in Redis; fileInBucket below is the same steps over a map):
 *
 *  - A message belongs to the thread of its root: its first reference, else
 *    what it answers, else itself. Patch 1/N sent without a cover letter has
 *    no references and is the root of its thread, whose 2..N answer it: all
 *    share one bucket, whichever arrives first.
 *  - A new thread gets a bucket of its own, except for numbered patches
 *    without threading headers (the assembler groups those by author,
 *    version, length and RFC-ness, unthreadedKey(), and time): such a 2..N
 *    joins the bucket its group used last (within UNTHREADED_WINDOW_MS), and
 *    opens one when there is none; such a 1/N starts a bucket of its own
 *    (its 2..N may answer it) unless the group's open bucket has parts
 *    waiting for their 1/N and no 1/N yet.
 */
export interface BucketPlan {
  /** The thread's root Message-ID. */
  root: string;
  /** The bucket a new thread gets. */
  own: string;
  /** For a numbered patch without threading headers: its group, and whether it may start a thread (1/N). */
  unthreaded: { group: string; first: boolean } | null;
}

export function bucketPlan(m: Message): BucketPlan {
  const root = threadRoot(m) ?? m.messageId;
  const loose =
    threadRoot(m) === null &&
    messageKind(m) === 'patch' &&
    m.tags.total !== null &&
    m.tags.total >= 2;
  return {
    root,
    own: hashOf(`thread\0${root}`),
    unthreaded: loose
      ? { group: hashOf(`unthreaded\0${unthreadedKey(m)}`), first: (m.tags.index ?? 1) <= 1 }
      : null,
  };
}

/** The open bucket of an unthreaded group, as kept between messages. */
export interface OpenGroup {
  bucket: string;
  /** Whether a 1/N is in it. */
  first: boolean;
}

/** Where fileInBucket keeps what it decided (ServiceState keeps the same in Redis). */
export interface BucketMemory {
  /** The bucket of a thread, by its root Message-ID. */
  threads: Map<string, string>;
  /** The open bucket of each unthreaded group (expiry is not modelled here). */
  groups: Map<string, OpenGroup>;
}

/** The bucket a message is filed under, given what earlier arrivals decided (see BucketPlan). */
export function fileInBucket(plan: BucketPlan, mem: BucketMemory): string {
  const u = plan.unthreaded;
  const open = u ? mem.groups.get(u.group) : undefined;
  let bucket = mem.threads.get(plan.root);
  if (bucket === undefined) {
    bucket = open && (!u!.first || !open.first) ? open.bucket : plan.own;
    mem.threads.set(plan.root, bucket);
  }
  if (u) {
    if (u.first) mem.groups.set(u.group, { bucket, first: true });
    else if (!open) mem.groups.set(u.group, { bucket, first: false });
  }
  return bucket;
}

/** A fresh BucketMemory. */
export const bucketMemory = (): BucketMemory => ({ threads: new Map(), groups: new Map() });

/**
 * The buckets of messages filed in this order into an empty memory (what the
 * service does when they arrive one after another); patches and covers only.
 */
export function bucketsOf(messages: readonly Message[]): Map<string, Message[]> {
  const mem = bucketMemory();
  const out = new Map<string, Message[]>();
  for (const m of messages) {
    const k = messageKind(m);
    if (k !== 'patch' && k !== 'cover') continue;
    const b = fileInBucket(bucketPlan(m), mem);
    out.set(b, [...(out.get(b) ?? []), m]);
  }
  return out;
}

export function normaliseTitle(title: string): string {
  return title
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .replace(/[.\s]+$/, '')
    .trim();
}

/** A patch as version links read it: its subject tags, and (when known) its text and diff. */
export type VersionPatch = Pick<Message, 'tags'> &
  Partial<Pick<Message, 'messageId' | 'body' | 'diff' | 'diffLine'>>;

/** What version keys are read from: a series, or as much of one as a caller has. */
export type VersionSubject = Pick<Series, 'changeId' | 'title' | 'author'> & {
  version?: number;
  cover?: Pick<Message, 'messageId' | 'body' | 'diffLine'> | null;
  patches?: readonly VersionPatch[];
};

/** The author as keys hold it. */
export const authorOf = (s: Pick<Series, 'author'>): string => s.author.address.toLowerCase();

/** The key an author's title is found under (the series', the first patch's, or an old one). */
export const titleKey = (author: string, title: string): string =>
  `title\0${author.toLowerCase()}\0${normaliseTitle(title)}`;

/**
 * The strong keys under which versions of one series meet: the b4 change-id,
 * and the author with the series title (cover, else first patch) and with the
 * first patch's title (a v2 sent without the cover letter v1 had still
 * matches). Two postings sharing any of these are versions of one series.
 */
export function versionKeys(s: VersionSubject): string[] {
  const keys: string[] = [];
  if (s.changeId) keys.push(`change\0${s.changeId}`);
  if (s.author.address) {
    const titles = [s.title, s.patches?.[0]?.tags.title ?? ''].filter(
      (t) => normaliseTitle(t) !== '',
    );
    for (const k of new Set(titles.map((t) => titleKey(s.author.address, t)))) keys.push(k);
  }
  return keys;
}

/** A title an earlier version had, as this posting's changelog names it. */
export interface RenameClaim {
  /** The old title's key (titleKey): an earlier posting's series or first patch title. */
  key: string;
  alias: TitleAlias;
  /** Where the changelog is: 0 for the cover letter, else the patch's index. */
  index: number;
  messageId: string | null;
}

/** The text of a mail up to its diff: where changelogs are. */
function textBeforeDiff(m: { body?: string; diffLine?: number | null }): string {
  const body = m.body ?? '';
  if (!m.diffLine) return body;
  // Lines 1 .. diffLine-1 end at the (diffLine-1)th newline.
  let at = -1;
  for (let n = 1; n < m.diffLine; n++) {
    const next = body.indexOf('\n', at + 1);
    if (next === -1) return body;
    at = next;
  }
  return at < 0 ? '' : body.slice(0, at);
}

const claimsMemo = new WeakMap<object, TitleAlias[]>();

function aliasesIn(m: { body?: string; diffLine?: number | null }, version: number): TitleAlias[] {
  let a = claimsMemo.get(m);
  if (!a) claimsMemo.set(m, (a = titleAliases(textBeforeDiff(m), version)));
  return a;
}

/**
 * The earlier titles this posting's changelogs (cover letter, and each
 * patch's notes) say it had: `rename ("OLD") to ("NEW")`, `new subject (was:
 * "OLD")`, `renamed patch from 'OLD' to 'NEW'`. An earlier posting of the same
 * author whose series or first patch title is OLD, at a lower version (and at
 * most the one the changelog's heading names), is its predecessor.
 */
export function renamedFrom(s: VersionSubject): RenameClaim[] {
  if (!s.author.address || s.version === undefined) return [];
  const version = s.version;
  const own = new Set(versionKeys(s));
  const out: RenameClaim[] = [];
  const add = (m: VersionPatch | NonNullable<VersionSubject['cover']>, index: number) => {
    for (const alias of aliasesIn(m, version)) {
      const key = titleKey(s.author.address, alias.old);
      if (!own.has(key)) out.push({ key, alias, index, messageId: m.messageId ?? null });
    }
  };
  if (s.cover) add(s.cover, 0);
  s.patches?.forEach((p, pos) => add(p, patchIndex(p, pos)));
  return out;
}

/** One patch's change, for linking consecutive versions that carry the same change. */
export interface ChangeSignature {
  index: number;
  total: number | null;
  /** The files the patch touches, sorted. */
  files: string[];
  /** A hash of the files and their added and removed lines (whitespace-normalised, sorted). */
  hash: string;
}

/** Fewer changed lines or characters than this is too little to tell two changes apart. */
const MIN_SIGNATURE_LINES = 2;
const MIN_SIGNATURE_CHARS = 40;

const signatureMemo = new WeakMap<object, ChangeSignature | null>();

function signatureOf(p: VersionPatch, pos: number): ChangeSignature | null {
  if (!p.diff) return null;
  let sig = signatureMemo.get(p);
  if (sig !== undefined) return sig;
  const files = new Map<string, string[]>();
  let lines = 0;
  let chars = 0;
  for (const f of parseUnifiedDiff(p.diff)) {
    const path = f.to && f.to !== '/dev/null' ? f.to : (f.from ?? '');
    const changed = files.get(path) ?? [];
    for (const c of f.chunks)
      for (const ch of c.changes) {
        if (ch.type === 'normal') continue;
        const text = ch.content.slice(1).replace(/\s+/g, ' ').trim();
        if (!text) continue;
        changed.push(`${ch.type === 'add' ? '+' : '-'}${text}`);
        lines++;
        chars += text.replace(/ /g, '').length;
      }
    files.set(path, changed);
  }
  sig = null;
  if (files.size && lines >= MIN_SIGNATURE_LINES && chars >= MIN_SIGNATURE_CHARS) {
    const names = [...files.keys()].sort();
    const text = names.map((n) => `${n}\n${files.get(n)!.sort().join('\n')}`).join('\n\0\n');
    sig = {
      index: patchIndex(p, pos),
      total: p.tags.total,
      files: names,
      hash: hashOf(text),
    };
  }
  signatureMemo.set(p, sig);
  return sig;
}

/** The change signatures of a posting's patches (those with enough change to tell apart). */
export function changeSignatures(s: VersionSubject): ChangeSignature[] {
  return (s.patches ?? []).flatMap((p, pos) => {
    const sig = signatureOf(p, pos);
    return sig ? [sig] : [];
  });
}

/**
 * Where one patch's change meets the same change at another version: the
 * author, the patch's place (M/N), the change, and a version. A posting at
 * version v files its changes under v and v-1, so exactly consecutive
 * versions (and reposts of one version) share a key.
 */
export const sameChangeKey = (author: string, sig: ChangeSignature, version: number): string =>
  `diff\0${author.toLowerCase()}\0${sig.index}/${sig.total ?? ''}\0${sig.hash}\0v${version}`;

/**
 * The service's lineage keys of a series: every key a version link can go
 * through, hashed (Redis keys): the change-id's first, the author's titles,
 * the old titles its changelogs name (renamedFrom), and the changes of its
 * patches at its version and the one before (sameChangeKey). Entries are
 * written under every key and read from all, so the service finds a
 * predecessor where the assembler, given both versions, links them. Links
 * through the weak keys (renames, changes) are guarded as the assembler
 * guards them, never two parents or children of one version
 * (strongLineageKeys, ServiceState.versions). A series with no key at all
 * (no change-id, no author) is a lineage of its own.
 */
export function lineageKeys(s: VersionSubject & Pick<Series, 'id'>): string[] {
  const keys = [...versionKeys(s), ...renamedFrom(s).map((c) => c.key)];
  if (s.author.address && s.version !== undefined)
    for (const sig of changeSignatures(s))
      keys.push(
        sameChangeKey(s.author.address, sig, s.version),
        sameChangeKey(s.author.address, sig, s.version - 1),
      );
  const unique = [...new Set(keys)];
  return unique.length ? unique.map(hashOf) : [hashOf(`series\0${s.id}`)];
}

/**
 * The strong ones of a series' lineage keys (a subset of lineageKeys): the
 * change-id and the author's titles (versionKeys), or the series' own key
 * when it has none. Versions found only through the others (a renamed title,
 * the same change) are guarded as the assembler guards them (ServiceState.versions).
 */
export function strongLineageKeys(s: VersionSubject & Pick<Series, 'id'>): string[] {
  const strong = versionKeys(s);
  if (strong.length) return [...new Set(strong)].map(hashOf);
  const own = hashOf(`series\0${s.id}`);
  return lineageKeys(s).filter((k) => k === own);
}

/** The first lineage key (the one a change-id gives, else the series title's). */
export function lineageOf(s: VersionSubject & Partial<Pick<Series, 'id'>>): string {
  return lineageKeys({ id: '', ...s })[0]!;
}
