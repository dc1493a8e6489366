// Series identity (bot/series/identity.ts) is one definition for the assembler
// and the service: the service, which assembles each thread bucket on its own,
// must find a version's predecessors exactly when the assembler, given both
// versions at once, folds them into one series.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assembleSeries } from '../../bot/series/assemble.js';
import {
  bucketsOf,
  lineageKeys,
  lineageOf,
  messageKind,
  versionKeys,
} from '../../bot/series/identity.js';
import type { Message, Series } from '../../bot/types.js';
import { mailPath, parseInputs } from '../mail/helpers.js';

const V2 = (n: number) => `20250114-toy-small-bars-v2-${n}-5c1d2e3f4a5b@example.org`;

const shareKey = (a: Series, b: Series) => lineageKeys(a).some((k) => lineageKeys(b).includes(k));

/** What the service sees: each thread bucket assembled alone (messages filed in input order). */
function perBucket(messages: Message[]): Series[] {
  return [...bucketsOf(messages).values()].flatMap((ms) => assembleSeries(ms).series);
}

describe('series identity', () => {
  it('a v2 sent without the cover letter v1 had: the assembler folds it, and the service lineage agrees', async () => {
    const { messages } = await parseInputs([mailPath('pci-series-v1-v2-mixed.mbox')]);
    // v2 in a thread of its own (the fixture threads it under v1's cover), its cover lost.
    const input = messages
      .filter((m) => m.messageId !== V2(0))
      .map((m) =>
        m.messageId.includes('-v2-') ? { ...m, inReplyTo: V2(0), references: [V2(0)] } : m,
      );
    const together = assembleSeries(input).series.filter((s) => s.title.startsWith('PCI'));
    assert.equal(together.length, 1, 'the assembler folds v1 into v2');
    assert.deepEqual(
      together[0]!.supersedes.map((x) => x.version),
      [1],
    );

    const apart = perBucket(input).filter((s) => s.author.address.includes('example.org'));
    const v1 = apart.find((s) => s.version === 1)!;
    const v2 = apart.find((s) => s.version === 2)!;
    assert.ok(v1 && v2, 'the service sees v1 and v2 in buckets of their own');
    // v1's series title is its cover letter's, v2's its first patch's: they differ,
    // and only the first patch's title ties them together.
    assert.notEqual(v1.title, v2.title);
    assert.notEqual(lineageOf(v1), lineageOf(v2));
    assert.ok(shareKey(v1, v2), 'the service finds v1 as v2 predecessor');
    const net = apart.find((s) => s.title.startsWith('net'));
    if (net) assert.ok(!shareKey(net, v2), 'another series is not in the lineage');
  });

  it('version keys: change-id first, then author + each title, normalised; none without an author', () => {
    const base = {
      changeId: 'abc-123',
      title: 'PCI: Align small BARs.',
      author: { name: 'A', address: 'Ann@Example.COM' },
      patches: [{ tags: { title: 'PCI:  Add a helper' } }] as Pick<Message, 'tags'>[],
    };
    assert.deepEqual(versionKeys(base), [
      'change\0abc-123',
      'title\0ann@example.com\0pci: align small bars',
      'title\0ann@example.com\0pci: add a helper',
    ]);
    assert.deepEqual(
      versionKeys({ ...base, changeId: null, author: { name: '', address: '' } }),
      [],
    );
    // The service still files such a series under a lineage of its own.
    assert.equal(
      lineageKeys({ ...base, changeId: null, author: { name: '', address: '' }, id: 's-1' }).length,
      1,
    );
  });

  it('buckets: the thread root, else unthreaded numbered patches by author, version and length', async () => {
    const { messages } = await parseInputs([mailPath('unthreaded.mbox')]);
    const patches = messages.filter((m) => messageKind(m) === 'patch');
    // Three unthreaded 1/3, 2/3, 3/3 and a stray 2/3 of the same author and length: one bucket,
    // whatever the order they arrive in.
    for (const order of [patches, [...patches].reverse()])
      assert.equal(bucketsOf(order).size, 1, order.map((m) => m.messageId).join(' '));
    const threaded = (await parseInputs([mailPath('missing-part.mbox')])).messages;
    assert.equal(bucketsOf(threaded).size, 1, 'one thread, one bucket');
  });

  it('buckets: a series without a cover letter (1/N the thread root) is one bucket in any arrival order', () => {
    const mk = (i: number, id: string, parent: string | null, title = `t${i}`): Message =>
      ({
        messageId: id,
        inReplyTo: parent,
        references: parent ? [parent] : [],
        from: { name: 'A', address: 'a@example.org' },
        subject: `[PATCH ${i}/3] ${title}`,
        diff: 'diff --git a/x b/x\n',
        tags: {
          isPatch: true,
          isReply: false,
          rfc: false,
          resend: false,
          version: 1,
          index: i,
          total: 3,
          title,
        },
      }) as unknown as Message;
    const a = [mk(1, 'a1', null), mk(2, 'a2', 'a1'), mk(3, 'a3', 'a1')];
    const b = [mk(1, 'b1', null), mk(2, 'b2', 'b1'), mk(3, 'b3', 'b1')];
    for (const order of [a, [a[1]!, a[2]!, a[0]!], [a[2]!, a[0]!, a[1]!]]) {
      const buckets = bucketsOf(order);
      assert.equal(buckets.size, 1, order.map((m) => m.messageId).join(' '));
    }
    // Two such series of one author, one after the other: a bucket each.
    const both = bucketsOf([...a, ...b]);
    assert.deepEqual(
      [...both.values()].map((ms) => ms.map((m) => m.messageId).sort()),
      [
        ['a1', 'a2', 'a3'],
        ['b1', 'b2', 'b3'],
      ],
    );
    // The same series' 2/3 and 3/3 sent without threading headers join 1/3, in either order.
    const loose = [mk(1, 'c1', null), mk(2, 'c2', null), mk(3, 'c3', null)];
    assert.equal(bucketsOf(loose).size, 1);
    assert.equal(bucketsOf([loose[2]!, loose[1]!, loose[0]!]).size, 1);
  });
});
