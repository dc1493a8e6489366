// Hostile thread shapes: deep reply chains, deep-threaded and unthreaded
// patch floods, reference cycles, reused Message-IDs. Asserts on results
// only; how long they take is in `npm run bench -- input`.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeSyntheticMbox } from '../../scripts/bench/synthetic-mbox.js';
import { parseTrailers } from '../../bot/mail/body.js';
import { parseSubject } from '../../bot/mail/subject.js';
import { assembleSeries } from '../../bot/series/assemble.js';
import type { Message } from '../../bot/types.js';
import { runReview } from '../../workers/pipeline.js';

function msg(id: string, subject: string, opts: Partial<Message> = {}): Message {
  return {
    origin: { kind: 'eml', file: 'threads' },
    messageId: id,
    inReplyTo: null,
    references: [],
    subject,
    tags: parseSubject(subject),
    from: { name: 'A', address: 'a@example.org' },
    to: [],
    cc: [],
    date: '2025-01-06T10:00:00.000Z',
    body: 'x\n',
    commitMessage: 'x\n',
    diff: null,
    diffLine: null,
    trailers: [],
    baseCommit: null,
    changeId: null,
    prerequisites: [],
    warnings: [],
    ...opts,
  };
}

const DIFF = 'diff --git a/drivers/pci/x.c b/drivers/pci/x.c\n';

describe('hostile threads', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pcibot-hostile-threads-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('a 5,000-deep reply chain: one series, every reply attached to it', async () => {
    const mbox = join(dir, 'chain.mbox');
    await writeSyntheticMbox(mbox, { shape: 'chain', count: 5000 });
    const r = await runReview({ inputs: [mbox], tree: null, model: false, rules: [] });
    assert.equal(r.summary.messages, 5000);
    assert.equal(r.series.length, 1);
    const id = r.series[0]!.id;
    const replies = r.messages.filter((m) => m.disposition.kind === 'reply');
    assert.equal(replies.length, 4999);
    assert.ok(
      replies.every((m) => m.disposition.kind === 'reply' && m.disposition.seriesId === id),
    );
  });

  it('20,000 replies, each to the last, without References (assembly alone)', () => {
    const ms = [msg('r0', '[PATCH] PCI: Root', { diff: DIFF })];
    for (let i = 1; i < 20_000; i++)
      ms.push(msg(`r${i}`, 'Re: [PATCH] PCI: Root', { inReplyTo: `r${i - 1}` }));
    const a = assembleSeries(ms);
    assert.equal(a.series.length, 1);
    assert.equal(a.series[0]!.replies.length, 19_999);
  });

  it('800 unthreaded numbered patches become one complete series, each grouping noted', async () => {
    const mbox = join(dir, 'flood.mbox');
    await writeSyntheticMbox(mbox, { shape: 'flood', count: 800 });
    const r = await runReview({ inputs: [mbox], tree: null, model: false, rules: [] });
    assert.equal(r.series.length, 1);
    const s = r.series[0]!;
    assert.equal(s.received, 800);
    assert.equal(s.complete, true);
    assert.deepEqual(
      s.patches.map((p) => p.index),
      Array.from({ length: 800 }, (_, i) => i + 1),
    );
    // one note per grouped patch, at most 50 listed and the rest counted
    assert.equal(s.warnings?.filter((w) => /has no In-Reply-To\/References/.test(w)).length, 49);
    assert.equal(s.warnings?.at(-1), '... and 750 more notes');
  });

  it('150,000 unthreaded patches and a 150,000-line trailer block: no argument-limit crash', () => {
    const ms: Message[] = [];
    for (let i = 0; i < 150_000; i++)
      ms.push(
        msg(`u${i}`, `[PATCH ${i + 1}/150000] PCI: Part ${i}`, {
          diff: DIFF,
          date: new Date(Date.UTC(2025, 0, 6) + i * 1000).toISOString(),
        }),
      );
    const a = assembleSeries(ms);
    assert.equal(a.series.length, 1);
    assert.equal(a.series[0]!.patches.length, 150_000);
    assert.match(a.series[0]!.refused!, /150000 patches/);
    assert.equal(a.series[0]!.warnings!.length, 50);
    const trailers = parseTrailers(
      'Title\n\nText.\n\nFixes: x\n\n' + 'Cc: a@example.org\n'.repeat(150_000),
    );
    assert.equal(trailers.length, 150_001);
    assert.equal(trailers[0]!.key, 'Fixes', 'the paragraph above comes first');
  });

  it('3,000 unthreaded numbered patches: one series, refused by maxPatchesPerSeries', async () => {
    const mbox = join(dir, 'flood3k.mbox');
    await writeSyntheticMbox(mbox, { shape: 'flood', count: 3000 });
    const r = await runReview({ inputs: [mbox], tree: null, model: false, rules: [] });
    assert.equal(r.series.length, 1);
    const s = r.series[0]!;
    assert.equal(s.status, 'skipped');
    assert.match(s.errors![0]!.reason, /3000 patches, more than maxPatchesPerSeries \(1000\)/);
    assert.equal(r.summary.messages, 3000);
  });

  it('deep threading: 900 patches each replying to the one before stay one series', () => {
    const ms = [msg('c', '[PATCH 0/900] PCI: Many', {})];
    for (let i = 1; i <= 900; i++)
      ms.push(
        msg(`p${i}`, `[PATCH ${i}/900] PCI: Step ${i}`, {
          diff: DIFF,
          inReplyTo: i === 1 ? 'c' : `p${i - 1}`,
        }),
      );
    const a = assembleSeries(ms);
    assert.equal(a.series.length, 1);
    assert.equal(a.series[0]!.patches.length, 900);
    assert.equal(a.series[0]!.complete, true);
  });

  it('reference cycles and self-replies end, and every message is accounted once', () => {
    const ms = [
      msg('a', '[PATCH 1/2] PCI: A', { diff: DIFF, inReplyTo: 'b' }),
      msg('b', '[PATCH 2/2] PCI: B', { diff: DIFF, inReplyTo: 'a' }),
      msg('s', '[PATCH 1/3] PCI: Self', { diff: DIFF, inReplyTo: 's', references: ['s'] }),
      msg('x', 'Re: loop', { inReplyTo: 'y', references: ['y', 'x'] }),
      msg('y', 'Re: loop', { inReplyTo: 'x', references: ['x', 'y'] }),
    ];
    const a = assembleSeries(ms);
    assert.equal(a.accounting.length, 5);
    const ab = a.series.find((s) => s.patches.some((p) => p.messageId === 'a'))!;
    assert.deepEqual(
      ab.patches.map((p) => p.messageId),
      ['a', 'b'],
      'the cycle is one posting',
    );
    assert.deepEqual(
      a.accounting
        .filter((x) => x.messageId === 'x' || x.messageId === 'y')
        .map((x) => x.disposition.kind),
      ['reply', 'reply'],
    );
  });

  it('a Message-ID reused by another mail is an id-conflict; the same mail twice is a duplicate', () => {
    const first = msg('id@x', '[PATCH] PCI: Real', { diff: DIFF, commitMessage: 'real\n' });
    const again = msg('id@x', '[PATCH] PCI: Real', {
      diff: DIFF,
      commitMessage: 'real\n',
      origin: { kind: 'eml', file: 'copy' },
    });
    const forged = msg('id@x', '[PATCH] PCI: Real', {
      diff: DIFF + '+evil\n',
      commitMessage: 'real\n',
      origin: { kind: 'eml', file: 'forged' },
    });
    const a = assembleSeries([first, again, forged]);
    const kinds = a.accounting.map((x) => x.disposition);
    assert.deepEqual(
      kinds.map((k) => k.kind),
      ['patch', 'duplicate', 'id-conflict'],
    );
    const c = kinds[2]!;
    assert.ok(
      c.kind === 'id-conflict' && /the diffs differ/.test(c.reason) && /threads/.test(c.reason),
    );
    assert.deepEqual(a.series[0]!.patches, [first]);
    assert.match(a.series[0]!.warnings!.join('\n'), /also used by a different message \(forged\)/);
  });

  it('a list footer appended to a reply does not make it a conflict', () => {
    const a = msg('f@x', 'Re: thing', { commitMessage: 'ok\n' });
    const b = msg('f@x', 'Re: thing', {
      commitMessage: 'ok\n_______________\nlist footer\n',
      origin: { kind: 'eml', file: 'other-list' },
    });
    assert.equal(assembleSeries([a, b]).accounting[1]!.disposition.kind, 'duplicate');
  });
});
