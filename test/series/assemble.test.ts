import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { assembleSeries } from '../../bot/series/assemble.js';
import type { Assembly, Message, ParseFailure } from '../../bot/types.js';
import { gitApply, mailPath, mailsDir, parseInputs, seedsDir } from '../mail/helpers.js';
import { makeToyRepo, TOY_BASE_COMMIT } from '../mail/toytree.js';

const V1 = (n: number) => `20250107-toy-small-bars-v1-${n}-5c1d2e3f4a5b@example.org`;
const V2 = (n: number) => `20250114-toy-small-bars-v2-${n}-5c1d2e3f4a5b@example.org`;
const sid = (root: string) => 's-' + createHash('sha256').update(root).digest('hex').slice(0, 16);

/** Every message (by origin) and every failure appears exactly once. */
function assertAccounting(a: Assembly, messages: Message[], failures: ParseFailure[]): void {
  assert.equal(a.accounting.length, messages.length + failures.length);
  const key = (o: { file: string; index?: number }) => `${o.file}#${o.index ?? 0}`;
  // (the same file given twice gives equal origins: count with multiplicity)
  const count = (list: { file: string; index?: number }[]) => {
    const m = new Map<string, number>();
    for (const o of list) m.set(key(o), (m.get(key(o)) ?? 0) + 1);
    return m;
  };
  const inputs = count([...messages.map((m) => m.origin), ...failures.map((f) => f.origin)]);
  assert.deepEqual(count(a.accounting.map((e) => e.origin)), inputs);
  // each accounting entry is a distinct object of the input (no entry reused, none invented)
  const objects = new Set<object>(a.accounting.map((e) => e.origin));
  assert.equal(objects.size, a.accounting.length);
  for (const m of messages) assert.ok(objects.has(m.origin));
  for (const f of failures) assert.ok(objects.has(f.origin));
  // and what the series hold agrees with the accounting
  for (const s of a.series) {
    for (const p of s.patches) {
      const acc = a.accounting.find((e) => e.origin === p.origin)!;
      assert.deepEqual(acc.disposition, {
        kind: 'patch',
        seriesId: s.id,
        index: p.tags.index ?? 1,
      });
    }
    if (s.cover)
      assert.deepEqual(a.accounting.find((e) => e.origin === s.cover!.origin)!.disposition, {
        kind: 'cover',
        seriesId: s.id,
      });
  }
}

async function assemble(...files: string[]) {
  const { messages, failures } = await parseInputs(files.map(mailPath));
  const a = assembleSeries(messages, failures);
  assertAccounting(a, messages, failures);
  return { a, messages, failures };
}

describe('assembleSeries: the mixed mbox (v1, broken entry, net series, v2, reply)', () => {
  let a: Assembly;
  let repo: Awaited<ReturnType<typeof makeToyRepo>>;
  before(async () => {
    a = (await assemble('pci-series-v1-v2-mixed.mbox')).a;
    repo = await makeToyRepo();
  });
  after(async () => repo.cleanup());

  it('finds two series: PCI v2 (reviewed) and the net one', () => {
    assert.deepEqual(
      a.series.map((s) => [s.title, s.version, s.patches.length]),
      [
        ['net: toy: Check the carrier before starting the queue', 1, 2],
        ['PCI: toy: Page-align small BARs for safe passthrough', 2, 3],
      ],
    );
  });

  it('v2 is complete, has its cover, base and change-id, and supersedes v1', () => {
    const s = a.series[1]!;
    assert.equal(s.id, sid(V2(0)));
    assert.equal(s.cover!.messageId, V2(0));
    assert.deepEqual(
      s.patches.map((p) => p.messageId),
      [V2(1), V2(2), V2(3)],
    );
    assert.deepEqual([s.expected, s.missing, s.complete], [3, [], true]);
    assert.equal(s.baseCommit, TOY_BASE_COMMIT);
    assert.equal(s.changeId, '20250107-toy-small-bars-5c1d2e');
    assert.deepEqual(s.supersedes, [
      {
        id: sid(V1(0)),
        version: 1,
        messageIds: [V1(0), V1(1), V1(2), V1(3)],
        reason: 'same change-id 20250107-toy-small-bars-5c1d2e',
      },
    ]);
    assert.deepEqual(s.author, { name: 'Anna Tester', address: 'anna.tester@example.org' });
    assert.deepEqual(s.replies, ['Z4ZbenRev1ew@example.com']);
  });

  it('v2 was threaded under the v1 cover, yet keeps only its own patches', () => {
    const s = a.series[1]!;
    assert.equal(s.cover!.inReplyTo, V1(0));
    assert.ok(s.patches.every((p) => p.tags.version === 2));
  });

  it('the reviewed series applies patch after patch to its base', async () => {
    for (const p of a.series[1]!.patches)
      assert.equal(await gitApply(repo.dir, p.diff!, false), null, p.subject);
  });

  it('accounts for the superseded v1, the reply and the broken entry', () => {
    const by = new Map(a.accounting.map((e) => [e.origin.index, e.disposition]));
    for (const i of [1, 2, 3, 4])
      assert.deepEqual(by.get(i), {
        kind: 'superseded',
        seriesId: sid(V2(0)),
        byVersion: 2,
        reason: 'same change-id 20250107-toy-small-bars-5c1d2e',
      });
    assert.equal(by.get(5)!.kind, 'failed');
    assert.deepEqual(by.get(12), {
      kind: 'reply',
      seriesId: sid(V2(0)),
      reason: `reply in the thread of "PCI: toy: Page-align small BARs for safe passthrough" v2 (${sid(V2(0))})`,
    });
    assert.deepEqual(
      a.accounting.map((e) => e.origin.index),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    );
  });

  it('is JSON-serialisable, and the ids are safe BullMQ job ids', () => {
    assert.deepEqual(JSON.parse(JSON.stringify(a)), a);
    for (const s of a.series) assert.match(s.id, /^s-[0-9a-f]{16}$/);
  });

  it('does not depend on input order', async () => {
    const { messages, failures } = await parseInputs([mailPath('pci-series-v1-v2-mixed.mbox')]);
    const b = assembleSeries([...messages].reverse(), failures);
    const summary = (x: Assembly) =>
      x.series
        .map((s) => [s.id, s.patches.map((p) => p.messageId), s.supersedes, s.replies])
        .sort();
    assert.deepEqual(summary(b), summary(a));
  });
});

describe('assembleSeries: the other cases', () => {
  it('a v2 without its cover letter (and so without change-id) still supersedes v1', async () => {
    const { messages } = await parseInputs([mailPath('pci-series-v1-v2-mixed.mbox')]);
    const a = assembleSeries(messages.filter((m) => m.messageId !== V2(0)));
    const pci = a.series.filter((s) => s.title.startsWith('PCI'));
    assert.equal(pci.length, 1);
    assert.equal(pci[0]!.version, 2);
    assert.equal(pci[0]!.title, 'PCI: toy: Add toy_page_align() helper');
    assert.deepEqual(
      pci[0]!.supersedes.map((x) => x.version),
      [1],
    );
    // its patches answered the missing cover: one posting, ids from patch 1
    assert.equal(pci[0]!.id, sid(V2(1)));
    assert.deepEqual(
      pci[0]!.patches.map((p) => p.messageId),
      [V2(1), V2(2), V2(3)],
    );
  });

  it('missing parts', async () => {
    const { a } = await assemble('missing-part.mbox');
    assert.equal(a.series.length, 1);
    const s = a.series[0]!;
    assert.deepEqual(
      [s.expected, s.missing, s.complete, s.patches.map((p) => p.tags.index)],
      [3, [2], false, [1, 3]],
    );
  });

  it('patches without threading headers are grouped, and it says so', async () => {
    const { a } = await assemble('unthreaded.mbox');
    assert.equal(a.series.length, 2);
    const s = a.series.find((x) => x.patches.length === 3)!;
    assert.deepEqual(
      s.patches.map((p) => p.tags.index),
      [1, 2, 3],
    );
    assert.equal(s.complete, true);
    assert.equal(s.id, sid('20250107090000.777-1-anna.tester@example.org'));
    assert.equal(s.warnings!.length, 2);
    assert.match(
      s.warnings![0]!,
      /has no In-Reply-To\/References; grouped with this series by author, version, length and date/,
    );
    // the 2/3 sent three days later is not taken in
    const stray = a.series.find((x) => x !== s)!;
    assert.deepEqual(
      [stray.title, stray.missing, stray.complete],
      ['PCI: toy: Reword the file comment', [1, 3], false],
    );
  });

  it('RESEND of the same version: the newest posting wins, the other is a duplicate', async () => {
    const { a } = await assemble('resend.mbox');
    assert.equal(a.series.length, 1);
    const s = a.series[0]!;
    assert.equal(s.resend, true);
    assert.equal(s.patches[0]!.messageId, '20250117110000.3001-1-zoe@example.se');
    assert.deepEqual(s.supersedes, []);
    assert.deepEqual(a.accounting[0]!.disposition, {
      kind: 'duplicate',
      of: '20250117110000.3001-1-zoe@example.se',
    });
  });

  it('versions by author and title (no change-id): v2 supersedes v1', async () => {
    const { a } = await assemble('versions-by-title.mbox');
    assert.equal(a.series.length, 1);
    const s = a.series[0]!;
    assert.equal(s.version, 2);
    assert.deepEqual(s.supersedes, [
      {
        id: sid('20250110110000.1001-1-zoe@example.se'),
        version: 1,
        messageIds: ['20250110110000.1001-1-zoe@example.se'],
        reason: 'same author and title ("PCI: toy: Give sub-page memory BARs a page of their own")',
      },
    ]);
    assert.deepEqual([s.expected, s.missing, s.complete], [null, [], true]);
  });

  it('a duplicate index and an index beyond N: kept sensibly, warned about', async () => {
    const { a } = await assemble('index-trouble.mbox');
    assert.equal(a.series.length, 1);
    const s = a.series[0]!;
    assert.deepEqual(
      s.patches.map((p) => p.subject),
      [
        '[PATCH 1/2] PCI: toy: Include slab.h',
        '[PATCH 2/2] PCI: toy: Mark toy_setup_bus() __init',
        '[PATCH 3/2] PCI: toy: Include list.h in pci-toy.h',
      ],
    );
    assert.deepEqual([s.expected, s.missing, s.complete], [2, [], true]);
    assert.deepEqual(s.warnings, [
      'two different patches 2/2: <20250111125320.5150-3-dora@example.com> was used, <20250111125320.5150-4-dora@example.com> left out',
      'patch 3/2 is numbered beyond the series length 2',
    ]);
    assert.deepEqual(a.accounting[3]!.disposition, {
      kind: 'not-a-patch',
      reason:
        'a second, different patch 2/2 in the same posting; <20250111125320.5150-3-dora@example.com> was used',
    });
  });

  it('the same file twice: every second copy is a duplicate', async () => {
    const { a } = await assemble('missing-part.mbox', 'missing-part.mbox');
    assert.equal(a.series.length, 1);
    assert.deepEqual(
      a.accounting.map((e) => e.disposition.kind),
      ['cover', 'patch', 'patch', 'duplicate', 'duplicate', 'duplicate'],
    );
  });

  it('replies and non-patches', async () => {
    const { a } = await assemble(
      'crlf.mbox',
      'reply-unquoted-diff.eml',
      'not-a-patch-pull-request.eml',
    );
    assert.equal(a.series.length, 1);
    const by = (file: string) =>
      a.accounting.find((e) => e.origin.file.endsWith(file))!.disposition;
    assert.deepEqual(by('reply-unquoted-diff.eml'), {
      kind: 'reply',
      seriesId: a.series[0]!.id,
      reason: `reply in the thread of "net: toy: Check the carrier before starting the queue" (${a.series[0]!.id})`,
    });
    assert.deepEqual(by('not-a-patch-pull-request.eml'), {
      kind: 'not-a-patch',
      reason: 'subject tags [GIT PULL] do not mark a patch and not in a patch thread',
    });
    assert.deepEqual(a.series[0]!.replies, ['CAEricToy+suggest=1@mail.example.net']);
  });

  it('a reply whose thread is not in the input is still a reply', async () => {
    const { a } = await assemble('reply-unquoted-diff.eml');
    assert.deepEqual(a.series, []);
    assert.deepEqual(a.accounting[0]!.disposition, {
      kind: 'reply',
      seriesId: null,
      reason: 'reply to <20250110083000.2231-1-carl@example.net>, which is not in the input',
    });
  });

  it('a non-patch message inside a patch thread is a reply', async () => {
    const { messages } = await parseInputs([mailPath('crlf.mbox')]);
    const note: Message = {
      ...messages[0]!,
      messageId: 'note@example.net',
      subject: 'Thanks, applied',
      tags: {
        ...messages[0]!.tags,
        isPatch: false,
        prefixes: [],
        index: null,
        total: null,
        title: 'Thanks, applied',
      },
      inReplyTo: messages[1]!.messageId,
      references: [messages[0]!.messageId, messages[1]!.messageId],
      diff: null,
      origin: { kind: 'eml', file: 'note.eml' },
    };
    const a = assembleSeries([...messages, note]);
    assert.deepEqual(a.accounting[2]!.disposition, {
      kind: 'reply',
      seriesId: a.series[0]!.id,
      reason: `reply in the thread of "${a.series[0]!.title}" (${a.series[0]!.id})`,
    });
  });

  it('a cover letter whose patches did not arrive', async () => {
    const { messages } = await parseInputs([mailPath('missing-part.mbox')]);
    const a = assembleSeries([messages[0]!]);
    const s = a.series[0]!;
    assert.deepEqual([s.patches, s.missing, s.complete], [[], [1, 2, 3], false]);
  });
});

describe('assembleSeries: everything at once', () => {
  it('the whole fixture directory plus the seeds: every input accounted for exactly once', async () => {
    const { messages, failures, read } = await parseInputs([mailsDir, seedsDir]);
    const a = assembleSeries(messages, failures);
    assertAccounting(a, messages, failures);
    assert.equal(a.accounting.length, read);
    // 5 seeds and the seeds README, binary garbage, empty file, html page, the broken mbox entry
    assert.equal(a.accounting.filter((e) => e.disposition.kind === 'failed').length, 10);
    // no message is both in a series and accounted as something else
    const inSeries = new Set(
      a.series
        .flatMap((s) => [s.cover, ...s.patches])
        .filter((m) => m)
        .map((m) => m!.origin),
    );
    for (const e of a.accounting) {
      const k = e.disposition.kind;
      assert.equal(inSeries.has(e.origin), k === 'patch' || k === 'cover', `${e.origin.file} ${k}`);
    }
    const ids = a.series.map((s) => s.id);
    assert.equal(new Set(ids).size, ids.length);
  });
});
