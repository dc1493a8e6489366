// Series identity, defined once for the assembler and the service: what a
// message is to a series (patch, cover letter, reply), which thread bucket the
// service files it under until the assembler sees the whole thread, and which
// postings are versions of one series (the keys the assembler folds versions
// on, and the lineage the service remembers reviews under).
import { createHash } from 'node:crypto';
import type { Message, Series } from '../types.js';

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
 * The thread bucket the service files a patch or cover under: the thread root;
 * numbered patches without threading headers share a bucket per
 * unthreadedKey() so the assembler can group them; anything else is its own.
 */
export function bucketOf(m: Message): string {
  const root = threadRoot(m);
  if (root) return hashOf(`thread\0${root}`);
  if (m.tags.total !== null && m.tags.total >= 2 && m.tags.index !== 0)
    return hashOf(`unthreaded\0${unthreadedKey(m)}`);
  return hashOf(`thread\0${m.messageId}`);
}

function normaliseTitle(title: string): string {
  return title
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .replace(/[.\s]+$/, '')
    .trim();
}

/** What version keys are read from: a series, or as much of one as a caller has. */
export type VersionSubject = Pick<Series, 'changeId' | 'title' | 'author'> & {
  patches?: readonly Pick<Message, 'tags'>[];
};

/**
 * The keys under which versions of one series meet: the b4 change-id, and the
 * author with the series title (cover, else first patch) and with the first
 * patch's title (a v2 sent without the cover letter v1 had still matches).
 * Two postings sharing any key are versions of one series.
 */
export function versionKeys(s: VersionSubject): string[] {
  const keys: string[] = [];
  if (s.changeId) keys.push(`change\0${s.changeId}`);
  if (s.author.address) {
    const titles = [s.title, s.patches?.[0]?.tags.title ?? '']
      .map(normaliseTitle)
      .filter((t) => t !== '');
    for (const t of new Set(titles)) keys.push(`title\0${s.author.address.toLowerCase()}\0${t}`);
  }
  return keys;
}

/**
 * The service's lineage keys of a series: versionKeys() hashed (Redis keys),
 * the change-id's first; a series with no key at all (no change-id, no
 * author) is a lineage of its own.
 */
export function lineageKeys(s: VersionSubject & Pick<Series, 'id'>): string[] {
  const keys = versionKeys(s);
  return keys.length ? keys.map(hashOf) : [hashOf(`series\0${s.id}`)];
}

/** The first lineage key (the one a change-id gives, else the series title's). */
export function lineageOf(s: VersionSubject & Partial<Pick<Series, 'id'>>): string {
  return lineageKeys({ id: '', ...s })[0]!;
}
