// Find one message in a local public-inbox mirror by Message-ID, for
// `pcibot review --message-id <id>`. Walks the epochs newest first and scans
// the blobs with one `git log` per epoch; good enough for an occasional CLI
// call (the service itself never searches, it follows).
import type { RawMail } from '../types.js';
import { epochDir, git, localEpochs, readMessages } from './mirror.js';

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
export async function findThreadInMirror(mirrorDir: string, messageId: string): Promise<RawMail[]> {
  const want = norm(messageId).toLowerCase();
  if (!want) return [];
  const index: { epoch: number; commit: string; ids: HeaderIds }[] = [];
  const epochs = (await localEpochs(mirrorDir)).reverse();
  for (const epoch of epochs) {
    const commits = (await git(['--git-dir', epochDir(mirrorDir, epoch), 'rev-list', 'HEAD']))
      .split('\n')
      .filter(Boolean);
    for (let i = 0; i < commits.length; i += 1000) {
      const part = commits.slice(i, i + 1000);
      const blobs = await readMessages(mirrorDir, epoch, part);
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
    const blobs = await readMessages(mirrorDir, epoch, commits);
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
): Promise<RawMail | null> {
  const want = norm(messageId);
  if (!want) return null;
  const needle = `<${want}>`.toLowerCase();
  const epochs = (await localEpochs(mirrorDir)).reverse();
  for (const epoch of epochs) {
    const commits = (await git(['--git-dir', epochDir(mirrorDir, epoch), 'rev-list', 'HEAD']))
      .split('\n')
      .filter(Boolean);
    for (let i = 0; i < commits.length; i += 1000) {
      const part = commits.slice(i, i + 1000);
      const blobs = await readMessages(mirrorDir, epoch, part);
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
