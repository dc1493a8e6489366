// The list archive as the record of what pcibot sent: is one of its own
// Message-IDs in the followed mirror? Two sources: the follower's journal of
// pcibot's own Message-IDs met while walking (./journal.ts), and, for a
// mirror served over HTTP (lore), the archive itself (`<inbox>/<id>/raw`).
// "Absent" about an interrupted send is only said once the mirror was walked
// to its head from a fetch at least `graceMs` after the send started: the
// list needs time to deliver to the archive.
import type { ArchiveAnswer, ArchiveCheck } from '../outbound/deliver.js';
import type { ListJournal } from './journal.js';

export interface ArchiveLookupOptions {
  list: string;
  /** The inbox URL or directory; null: the list is not followed. */
  mirror: string | null;
  journal: ListJournal;
  graceMs: number;
  /** How often the mirror is fetched (to say when to ask again). */
  pollMs: number;
  /** Ask the HTTP archive directly (default true for http(s) mirrors). */
  probe?: boolean;
  timeoutMs?: number;
}

export class ArchiveLookup implements ArchiveCheck {
  constructor(private readonly o: ArchiveLookupOptions) {}

  /** GET <inbox>/<id>/raw: true 200, false 404, null anything else (no answer). */
  private async probe(messageId: string): Promise<boolean | null> {
    const { mirror } = this.o;
    if (!mirror || !/^https?:\/\//.test(mirror) || this.o.probe === false) return null;
    const url = `${mirror.replace(/\/+$/, '')}/${encodeURIComponent(messageId)}/raw`;
    try {
      const res = await fetch(url, {
        redirect: 'manual',
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000),
      });
      await res.body?.cancel();
      if (res.status === 200) return true;
      if (res.status === 404) return false;
      return null;
    } catch {
      return null;
    }
  }

  async lookup(messageId: string, since: number | null): Promise<ArchiveAnswer> {
    const { list, mirror, journal } = this.o;
    if (!mirror) return { kind: 'unknowable', detail: `list ${list} has no mirror to look in` };
    const id = messageId.replace(/^<|>$/g, '');
    if (journal.hasSeen(id)) return { kind: 'present', detail: `in the ${list} archive` };
    const probed = await this.probe(id);
    if (probed === true) {
      await journal.noteSeen([id]);
      return { kind: 'present', detail: `in the ${list} archive (${mirror})` };
    }
    if (since === null) return { kind: 'absent', detail: `not in the ${list} archive` };
    const status = await journal.read();
    const caughtUp = status?.caughtUpAt ?? null;
    const due = since + this.o.graceMs;
    if (caughtUp !== null && caughtUp >= due)
      return {
        kind: 'absent',
        detail: `not in the ${list} archive walked up to ${new Date(caughtUp).toISOString()}, ${Math.round(this.o.graceMs / 1000)} s after the send began`,
      };
    return {
      kind: 'not-yet',
      waitMs: Math.max(1000, due - Date.now()) + this.o.pollMs,
      detail: `waiting for the ${list} archive to catch up with ${new Date(due).toISOString()}`,
    };
  }
}
