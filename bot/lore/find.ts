// Find one message in a local public-inbox mirror by Message-ID, for
// `pcibot review --message-id <id>`. Walks the epochs newest first and scans
// the blobs with one `git log` per epoch; good enough for an occasional CLI
// call (the service itself never searches, it follows).
import type { RawMail } from '../types.js';
import { epochDir, git, localEpochs, readMessages } from './mirror.js';

const norm = (id: string) => id.trim().replace(/^<|>$/g, '');

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
