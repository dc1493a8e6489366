// Find one message in a local public-inbox mirror by Message-ID, for
// `pcibot review --message-id <id>`. Walks the epochs newest first and scans
// the blobs with one `git log` per epoch; good enough for an occasional CLI
// call (the service itself never searches, it follows).
import type { RawMail } from '../types.js';
import { epochDir, epochHead, git, localEpochs, readMessages } from './mirror.js';

export interface FindOptions {
  /** Told about each epoch that could not be searched (empty or unreadable), which is skipped. */
  onProblem?: (text: string) => void;
}

/**
 * The commits of one epoch, newest first; null (and a problem reported) when
 * the epoch has no commits or cannot be read: one bad epoch does not stop the search.
 */
async function epochCommits(
  mirrorDir: string,
  epoch: number,
  opts: FindOptions,
): Promise<string[] | null> {
  const dir = epochDir(mirrorDir, epoch);
  const head = await epochHead(mirrorDir, epoch);
  if (!head) {
    opts.onProblem?.(`epoch ${epoch} (${dir}) has no commits; skipped`);
    return null;
  }
  try {
    return (await git(['--git-dir', dir, 'rev-list', head])).split('\n').filter(Boolean);
  } catch (err) {
    const first = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    opts.onProblem?.(`epoch ${epoch} (${dir}) is unreadable (${first}); skipped`);
    return null;
  }
}

/** readMessages, with a failure reported and taken as "no messages". */
async function readSome(
  mirrorDir: string,
  epoch: number,
  commits: string[],
  opts: FindOptions,
): Promise<(string | null)[]> {
  try {
    return await readMessages(mirrorDir, epoch, commits);
  } catch (err) {
    const first = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    opts.onProblem?.(`epoch ${epoch}: reading messages failed (${first}); skipped`);
    return commits.map(() => null);
  }
}

const norm = (id: string) => id.trim().replace(/^<|>$/g, '');

interface HeaderIds {
  messageId: string | null;
  refs: string[];
}

/** Message-ID and References/In-Reply-To ids of a raw message, lower-cased, without brackets. */
function headerIds(raw: string): HeaderIds {
  const end = raw.search(/\r?\n\r?\n/);
  const head = (end < 0 ? raw : raw.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
  const one = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(head)?.[1] ?? '';
  const ids = (v: string) => [...v.matchAll(/<([^>]+)>/g)].map((m) => m[1]!.toLowerCase());
  return {
    messageId: ids(one('message-id'))[0] ?? null,
    refs: [...ids(one('references')), ...ids(one('in-reply-to'))],
  };
}

/**
 * The whole thread a message belongs to: the thread root (the first id in its
 * References, else the message itself) and every message that is the root or
 * refers to it. For `pcibot review --message-id` on a patch of a series: the
 * cover letter and all patches come along. Empty when the message is not there.
 * The scan keeps only header ids; the thread's blobs are read at the end.
 */
export async function findThreadInMirror(
  mirrorDir: string,
  messageId: string,
  opts: FindOptions = {},
): Promise<RawMail[]> {
  const want = norm(messageId).toLowerCase();
  if (!want) return [];
  const index: { epoch: number; commit: string; ids: HeaderIds }[] = [];
  const epochs = (await localEpochs(mirrorDir)).reverse();
  for (const epoch of epochs) {
    const commits = (await epochCommits(mirrorDir, epoch, opts)) ?? [];
    for (let i = 0; i < commits.length; i += 1000) {
      const part = commits.slice(i, i + 1000);
      const blobs = await readSome(mirrorDir, epoch, part, opts);
      blobs.forEach((raw, j) => {
        if (raw !== null) index.push({ epoch, commit: part[j]!, ids: headerIds(raw) });
      });
    }
  }
  const target = index.find((m) => m.ids.messageId === want);
  if (!target) return [];
  const root = target.ids.refs[0] ?? want;
  const thread = index.filter(
    (m) => m === target || m.ids.messageId === root || m.ids.refs.includes(root),
  );
  const out: RawMail[] = [];
  for (const epoch of new Set(thread.map((m) => m.epoch))) {
    const commits = thread.filter((m) => m.epoch === epoch).map((m) => m.commit);
    const blobs = await readSome(mirrorDir, epoch, commits, opts);
    blobs.forEach((raw, j) => {
      if (raw !== null)
        out.push({
          origin: { kind: 'lore', file: `${mirrorDir}#${epoch}`, commit: commits[j]! },
          raw,
        });
    });
  }
  return out;
}

/**
 * The raw message with that Message-ID from the mirror (a local inbox or a
 * mirror made by pcibot), or null. public-inbox commit messages carry only the
 * Subject, so the blobs are read and their Message-ID headers matched.
 */
export async function findMessageInMirror(
  mirrorDir: string,
  messageId: string,
  opts: FindOptions = {},
): Promise<RawMail | null> {
  const want = norm(messageId);
  if (!want) return null;
  const needle = `<${want}>`.toLowerCase();
  const epochs = (await localEpochs(mirrorDir)).reverse();
  for (const epoch of epochs) {
    const commits = (await epochCommits(mirrorDir, epoch, opts)) ?? [];
    for (let i = 0; i < commits.length; i += 1000) {
      const part = commits.slice(i, i + 1000);
      const blobs = await readSome(mirrorDir, epoch, part, opts);
      for (const [j, raw] of blobs.entries()) {
        if (raw === null) continue;
        const end = raw.search(/\r?\n\r?\n/);
        const head = (end < 0 ? raw : raw.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
        const m = /^message-id:\s*(<[^>]*>)/im.exec(head);
        if (m && m[1]!.toLowerCase() === needle)
          return { origin: { kind: 'lore', file: `${mirrorDir}#${epoch}`, commit: part[j]! }, raw };
      }
    }
  }
  return null;
}
