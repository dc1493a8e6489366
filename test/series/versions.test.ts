// Version chains across renames: the assembler links postings by change-id,
// by author and title, by a title the newer one's changelog says was renamed,
// and by the same change at consecutive versions; it never links on weaker
// evidence (unrelated series of one author, changes two versions apart, an
// older version posted later, a one-line change) nor gives one version two
// parents. The service, which sees each thread alone, shares a lineage key
// exactly for the pairs the assembler links.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assembleSeries } from '../../bot/series/assemble.js';
import { bucketsOf, lineageKeys } from '../../bot/series/identity.js';
import type { Assembly, Message, Series } from '../../bot/types.js';
import { CHANGES, postings, type PostingSpec } from './version-mails.js';

const BOB = 'Bob Dev <bob.dev@example.org>';

/** What the service sees: each thread bucket assembled alone (messages filed in input order). */
function perBucket(messages: Message[]): Series[] {
  return [...bucketsOf(messages).values()].flatMap((ms) => assembleSeries(ms).series);
}

const shareKey = (a: Series, b: Series) => lineageKeys(a).some((k) => lineageKeys(b).includes(k));

/** The service's view: whether the posting of version `older` and that of `newer` share a lineage key. */
function serviceLinks(messages: Message[], older: string, newer: string): boolean {
  const all = perBucket(messages);
  const find = (id: string) => {
    const s = all.find((x) => [x.cover, ...x.patches].some((m) => m?.messageId.startsWith(id)));
    assert.ok(s, `the service sees ${id}`);
    return s;
  };
  return shareKey(find(older), find(newer));
}

const dispositionOf = (a: Assembly, idPrefix: string) =>
  a.accounting.find((x) => x.messageId?.startsWith(idPrefix))!.disposition;

/** v2 of a 3-patch series named after its last patch, of which only 3/3 is in the input. */
const v2Last: PostingSpec = {
  id: 'pad',
  version: 2,
  date: '2025-03-03T10:00:00Z',
  cover: { title: 'PCI: Pad tiny (<4k) BARs', body: 'Pad tiny BARs.' },
  patches: [
    { title: 'x86/PCI: Move the claim into a helper', ...CHANGES.decode },
    { title: 'PCI: Keep decoding when nothing moves', ...CHANGES.restore },
    { title: 'PCI: Pad tiny (<4k) BARs', ...CHANGES.align },
  ],
  only: [3],
};

const v3Renamed = (coverBody: string, lastNotes?: string): PostingSpec => ({
  id: 'pad3',
  version: 3,
  date: '2025-04-07T09:00:00Z',
  cover: { title: 'PCI: Pad tiny BARs', body: coverBody },
  patches: [
    { title: 'x86/PCI: Tidy the claim loop', ...CHANGES.decode, at: 130 },
    { title: 'PCI: Keep decoding when nothing moves', ...CHANGES.restore, at: 160 },
    // Reworded: not the same change as v2's, so only the changelog can link them.
    {
      title: 'PCI: Pad tiny BARs',
      ...CHANGES.alignV3,
      at: 190,
      ...(lastNotes ? { notes: lastNotes } : {}),
    },
  ],
});

describe('version links', () => {
  it('a series renamed between versions: the cover letter changelog links v2 3/3 to v3', async () => {
    const messages = await postings(
      v2Last,
      v3Renamed(
        'Pad tiny BARs to a page.\n\nv2->v3:\n* reword the commit messages\n' +
          '* rename ("x86/PCI: Move the claim into a helper") to\n  ("x86/PCI: Tidy the claim loop")\n' +
          '* rename ("PCI: Pad tiny (<4k) BARs") to\n  ("PCI: Pad tiny BARs")\n\nv1->v2:\n* new patch',
      ),
    );
    const a = assembleSeries(messages);
    assert.equal(a.series.length, 1, 'v2 3/3 is not a live series of its own');
    const s = a.series[0]!;
    assert.equal(s.version, 3);
    const reason =
      'title changed: "PCI: Pad tiny (<4k) BARs" -> "PCI: Pad tiny BARs", as the v3 cover letter\'s changelog says';
    assert.deepEqual(
      s.supersedes.map((x) => [x.version, x.reason]),
      [[2, reason]],
    );
    assert.deepEqual(dispositionOf(a, 'pad-v2-3'), {
      kind: 'superseded',
      seriesId: s.id,
      byVersion: 3,
      reason,
    });
    assert.deepEqual(
      a.superseded?.map((x) => [x.version, x.title]),
      [[2, 'PCI: Pad tiny (<4k) BARs']],
      'the older version is handed on (to say what v3 fixed)',
    );
    assert.ok(serviceLinks(messages, 'pad-v2-3', 'pad3-v3-0'), 'the service lineage agrees');
  });

  it("a patch's own notes: new subject (was: ...), without a cover letter", async () => {
    const v3 = v3Renamed(
      '',
      'v2->v3:\n* new subject (was: "PCI: Pad tiny (<4k) BARs")\n* clarify 4k vs PAGE_SIZE',
    );
    const messages = await postings(v2Last, { ...v3, cover: null });
    const a = assembleSeries(messages);
    assert.equal(a.series.length, 1);
    assert.equal(
      a.series[0]!.supersedes[0]!.reason,
      'title changed: "PCI: Pad tiny (<4k) BARs" -> "PCI: Pad tiny BARs", as the changelog of v3 patch 3/3 says',
    );
    // (The service files 1/3 apart from 2/3 and 3/3, which answer it: the notes are on 3/3.)
    assert.ok(serviceLinks(messages, 'pad-v2-3', 'pad3-v3-3'));
  });

  it('the same change at consecutive versions, drifted, links a posting whose title changed silently', async () => {
    // v3 says nothing about the rename; its 3/3 makes v2 3/3's change at other lines, with other
    // context, other blob ids and other spacing.
    const v3 = v3Renamed('Pad tiny BARs to a page.');
    v3.patches[2] = {
      title: 'PCI: Pad tiny BARs',
      minus: ['\treturn 0;'],
      plus: [
        '\t/*  Keep small BARs of different devices apart */',
        '\treturn max_t(resource_size_t,  SZ_4K, PAGE_SIZE);',
      ],
      at: 6547,
    };
    const messages = await postings(v2Last, v3);
    const a = assembleSeries(messages);
    assert.equal(a.series.length, 1);
    assert.equal(
      a.series[0]!.supersedes[0]!.reason,
      'same author, and patch 3/3 makes the same change to drivers/pci/pci.c in v2 and v3',
    );
    assert.ok(serviceLinks(messages, 'pad-v2-3', 'pad3-v3-0'));
  });

  it('a chain: v1 and v2 by title, v2 to v3 by the rename; each older version says how', async () => {
    const v1: PostingSpec = {
      id: 'pad1',
      version: 1,
      date: '2025-02-03T10:00:00Z',
      patches: [{ title: 'PCI: pad tiny (<4k) BARs', ...CHANGES.align, at: 90 }],
      numbered: false,
    };
    const messages = await postings(
      v1,
      v2Last,
      v3Renamed('v2->v3:\n* rename ("PCI: Pad tiny (<4k) BARs") to ("PCI: Pad tiny BARs")'),
    );
    for (const order of [messages, [...messages].reverse()]) {
      const a = assembleSeries(order);
      assert.equal(a.series.length, 1);
      assert.deepEqual(
        a.series[0]!.supersedes.map((x) => [x.version, x.reason]),
        [
          [
            2,
            'title changed: "PCI: Pad tiny (<4k) BARs" -> "PCI: Pad tiny BARs", as the v3 cover letter\'s changelog says',
          ],
          [
            1,
            'v1 -> v2: same author and title ("PCI: pad tiny (<4k) BARs"); v2 -> v3: title changed: ' +
              '"PCI: Pad tiny (<4k) BARs" -> "PCI: Pad tiny BARs", as the v3 cover letter\'s changelog says',
          ],
        ],
      );
    }
  });

  describe('guarded: a false link would hide a live series', () => {
    it('unrelated series of one author touching pci.c stay apart', async () => {
      const messages = await postings(
        {
          id: 'fix',
          version: 1,
          date: '2025-03-01T10:00:00Z',
          patches: [{ title: 'PCI: Keep decoding on', ...CHANGES.decode }],
        },
        {
          id: 'acs',
          version: 2,
          date: '2025-03-02T10:00:00Z',
          patches: [{ title: 'PCI: Add an ACS quirk for Foo', ...CHANGES.acs }],
        },
      );
      const a = assembleSeries(messages);
      assert.equal(a.series.length, 2);
      assert.ok(a.series.every((s) => s.supersedes.length === 0));
      assert.equal(serviceLinks(messages, 'fix-v1-1', 'acs-v2-1'), false);
    });

    it('the same change two versions apart, or an older version posted after the newer, is not linked', async () => {
      const p = (id: string, version: number, date: string, title: string): PostingSpec => ({
        id,
        version,
        date,
        patches: [{ title, ...CHANGES.align }],
      });
      const apart = await postings(
        p('a', 1, '2025-03-01T10:00:00Z', 'PCI: One'),
        p('b', 3, '2025-03-09T10:00:00Z', 'PCI: Three'),
      );
      assert.equal(assembleSeries(apart).series.length, 2);
      assert.equal(serviceLinks(apart, 'a-v1-1', 'b-v3-1'), false);
      const late = await postings(
        p('c', 2, '2025-03-20T10:00:00Z', 'PCI: Two'),
        p('d', 3, '2025-03-09T10:00:00Z', 'PCI: Three'),
      );
      assert.equal(assembleSeries(late).series.length, 2);
    });

    it('a one-line change is too little to link by', async () => {
      const messages = await postings(
        {
          id: 'e',
          version: 1,
          date: '2025-03-01T10:00:00Z',
          patches: [{ title: 'PCI: Init ret', ...CHANGES.tiny }],
        },
        {
          id: 'f',
          version: 2,
          date: '2025-03-02T10:00:00Z',
          patches: [{ title: 'PCI: Quiet a warning', ...CHANGES.tiny }],
        },
      );
      assert.equal(assembleSeries(messages).series.length, 2);
      assert.equal(serviceLinks(messages, 'e-v1-1', 'f-v2-1'), false);
    });

    it('a rename from a title another author used, or at a higher version, is not a link', async () => {
      const bobs: PostingSpec = {
        id: 'bob',
        version: 2,
        date: '2025-03-01T10:00:00Z',
        author: BOB,
        patches: [{ title: 'PCI: Pad tiny (<4k) BARs', ...CHANGES.restore }],
      };
      const newer: PostingSpec = {
        id: 'hi',
        version: 4,
        date: '2025-03-02T10:00:00Z',
        patches: [{ title: 'PCI: Pad small BARs', ...CHANGES.acs }],
      };
      const v3 = v3Renamed(
        'v2->v3:\n* rename ("PCI: Pad tiny (<4k) BARs") to ("PCI: Pad tiny BARs")\n* rename ("PCI: Pad small BARs") to ("PCI: Pad tiny BARs")',
      );
      const a = assembleSeries(await postings(bobs, newer, v3));
      assert.equal(a.series.length, 3);
      assert.ok(a.series.every((s) => s.supersedes.length === 0));
    });

    it('never two parents of one version: a v3 that could follow either of two v2s follows neither', async () => {
      const a2: PostingSpec = {
        id: 'a2',
        version: 2,
        date: '2025-03-01T10:00:00Z',
        patches: [{ title: 'PCI: Pad tiny BARs', ...CHANGES.acs }],
      };
      const b2: PostingSpec = {
        id: 'b2',
        version: 2,
        date: '2025-03-01T11:00:00Z',
        patches: [{ title: 'PCI: Keep decoding on', ...CHANGES.decode }],
      };
      // Renamed from a2's title, and the same change as b2's.
      const c3: PostingSpec = {
        id: 'c3',
        version: 3,
        date: '2025-03-08T10:00:00Z',
        patches: [
          {
            title: 'PCI: Leave decoding alone',
            ...CHANGES.decode,
            at: 300,
            notes: 'v2->v3:\n* new subject (was: "PCI: Pad tiny BARs")',
          },
        ],
      };
      const a = assembleSeries(await postings(a2, b2, c3));
      assert.equal(a.series.length, 3, 'all three stay live');
      assert.ok(a.series.every((s) => s.supersedes.length === 0));
      const c = a.series.find((s) => s.version === 3)!;
      assert.match(
        c.warnings!.join('\n'),
        /not linked to v2 <a2-v2-1@example\.org>.*more than one earlier or later posting/,
      );
    });

    it('never two children of one version: two v3s naming one v2 leave it live', async () => {
      const old: PostingSpec = {
        id: 'o2',
        version: 2,
        date: '2025-03-01T10:00:00Z',
        patches: [{ title: 'PCI: Pad tiny BARs', ...CHANGES.acs }],
      };
      const child = (id: string, title: string, change: keyof typeof CHANGES): PostingSpec => ({
        id,
        version: 3,
        date: '2025-03-08T10:00:00Z',
        patches: [
          {
            title,
            ...CHANGES[change],
            notes: 'v2->v3:\n* split out of "PCI: Pad tiny BARs" (was: "PCI: Pad tiny BARs")',
          },
        ],
      });
      const a = assembleSeries(
        await postings(
          old,
          child('x3', 'PCI: Pad BARs', 'align'),
          child('y3', 'PCI: Keep decoding', 'decode'),
        ),
      );
      assert.equal(a.series.length, 3);
      assert.ok(a.series.every((s) => s.supersedes.length === 0));
    });

    it('families are joined only when no version is in both', async () => {
      // "PCI: New" v2 and v3 are one series (same title); v3 says it was renamed from
      // "PCI: Old", but the "PCI: Old" v2 in the input cannot be another v2 of it.
      const messages = await postings(
        {
          id: 'old2',
          version: 2,
          date: '2025-03-01T10:00:00Z',
          patches: [{ title: 'PCI: Old name for it', ...CHANGES.acs }],
        },
        {
          id: 'new2',
          version: 2,
          date: '2025-03-02T10:00:00Z',
          patches: [{ title: 'PCI: New name for it', ...CHANGES.align }],
        },
        {
          id: 'new3',
          version: 3,
          date: '2025-03-09T10:00:00Z',
          patches: [
            {
              title: 'PCI: New name for it',
              ...CHANGES.alignV3,
              notes: 'v2->v3:\n* new subject (was: "PCI: Old name for it")',
            },
          ],
        },
      );
      const a = assembleSeries(messages);
      assert.equal(a.series.length, 2);
      const s = a.series.find((x) => x.version === 3)!;
      assert.deepEqual(
        s.supersedes.map((x) => x.reason),
        ['same author and title ("PCI: New name for it")'],
      );
      assert.match(
        s.warnings!.join('\n'),
        /not linked to v2 <old2-v2-1@example\.org>.*both already have a v2/,
      );
    });
  });

  it('a reply in a superseded thread, and a reply whose parent is missing, say so', async () => {
    const messages = await postings(
      v2Last,
      v3Renamed('v2->v3:\n* rename ("PCI: Pad tiny (<4k) BARs") to ("PCI: Pad tiny BARs")'),
    );
    const reply = (id: string, parent: string, refs: string[]): Message => ({
      ...messages[0]!,
      messageId: id,
      subject: `Re: ${messages[0]!.subject}`,
      tags: { ...messages[0]!.tags, isReply: true },
      inReplyTo: parent,
      references: refs,
      diff: null,
      origin: { kind: 'eml', file: `${id}.eml` },
    });
    const a = assembleSeries([
      ...messages,
      reply('r1@example.org', 'pad-v2-3@example.org', [
        'pad-v2-0@example.org',
        'pad-v2-3@example.org',
      ]),
      reply('r2@example.org', 'gone@example.org', []),
    ]);
    const v3 = a.series[0]!;
    assert.deepEqual(dispositionOf(a, 'r1@'), {
      kind: 'reply',
      seriesId: a.superseded![0]!.id,
      reason: `reply in the thread of "PCI: Pad tiny (<4k) BARs" v2, which v3 supersedes (${v3.id})`,
    });
    assert.deepEqual(dispositionOf(a, 'r2@'), {
      kind: 'reply',
      seriesId: null,
      reason: 'reply to <gone@example.org>, which is not in the input',
    });
  });
});
