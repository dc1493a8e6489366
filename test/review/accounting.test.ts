// `pcibot review` says what became of every message, in the terminal, Markdown
// and JSON reports alike: the patches and cover letters of each series (and
// when a series was skipped or refused), replies (in which thread, or what
// they answer is missing), superseded versions (by which version, and why),
// duplicates, Message-ID conflicts, non-patches and unreadable entries. An
// input with no series says why. And with two versions in the input, the
// newer one says which of the older one's findings are gone.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { renderJson } from '../../workers/report/json.js';
import { renderMarkdown, renderTerminal } from '../../workers/report/text.js';
import type { ReviewReport } from '../../workers/report/types.js';
import {
  generateExampleMbox,
  type ExamplePatch,
  type ExampleSeries,
} from '../../fixtures/examples/generate.js';
import { buildFixtureTree } from '../../fixtures/kernel-tree/build.js';
import { runReview } from '../../workers/pipeline.js';
import { idConflict, mail } from '../hostile/mails.js';
import { mbox } from '../series/version-mails.js';
import { CHANGES, type PostingSpec } from '../series/version-mails.js';

let work = '';
let tree = '';
let commit = '';

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'pcibot-accounting-'));
  ({ path: tree, commit } = await buildFixtureTree(join(work, 'tree')));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

const formats = (r: ReviewReport) => ({
  text: renderTerminal(r, { width: 400 }),
  md: renderMarkdown(r),
  json: JSON.parse(renderJson(r)) as ReviewReport,
});

/** The same message line in all three formats: its reason, verbatim (Markdown-escaped there). */
function inAll(f: ReturnType<typeof formats>, subject: string, reason: string) {
  const m = f.json.messages.find((x) => x.subject === subject);
  assert.ok(m, `JSON lists ${subject}`);
  assert.equal(m.reason, reason, subject);
  assert.ok(
    f.text.includes(`${subject}  [`) && f.text.includes(`]: ${reason}\n`),
    `terminal: ${reason}`,
  );
  const md = (t: string) => t.replace(/([\\`*_[\]<>|])/g, '\\$1');
  assert.ok(f.md.includes(`): ${md(reason)}\n`), `markdown: ${reason}`);
}

describe('message accounting', () => {
  test('a reply alone: one message, no series, and why', async () => {
    const file = join(work, 'reply-only.mbox');
    await writeFile(
      file,
      'From x Mon Sep 17 00:00:00 2001\n' +
        mail({
          subject: 'Re: [PATCH v3 8/8] PCI: Pad tiny BARs',
          messageId: 'answer-1@example.org',
          inReplyTo: 'stewart-gone@example.org',
          body: '> quoted\n\nI would rather make this opt-in.\n',
        }),
    );
    const r = await runReview({ inputs: [file], tree: null });
    const f = formats(r);
    assert.equal(r.summary.noSeries, '1 reply, no patches in the input');
    assert.match(
      f.text,
      /^pcibot review: 1 message, 0 series .*\nno series: 1 reply, no patches in the input\n/,
    );
    assert.match(f.md, /^1 message, 0 series /m);
    assert.doesNotMatch(f.md, /1 messages/);
    assert.match(f.md, /^No series: 1 reply, no patches in the input\.$/m);
    inAll(
      f,
      'Re: [PATCH v3 8/8] PCI: Pad tiny BARs',
      'reply to <stewart-gone@example.org>, which is not in the input',
    );
  });

  test('every kind of message, in all three formats', async () => {
    const v2: PostingSpec = {
      id: 'pad',
      version: 2,
      date: '2025-03-03T10:00:00Z',
      cover: { title: 'PCI: Pad tiny (<4k) BARs', body: 'Pad tiny BARs.' },
      patches: [
        { title: 'PCI: Keep decoding when nothing moves', ...CHANGES.decode },
        { title: 'PCI: Pad tiny (<4k) BARs', ...CHANGES.align },
      ],
      only: [2],
    };
    const v3: PostingSpec = {
      id: 'pad3',
      version: 3,
      date: '2025-04-07T09:00:00Z',
      cover: {
        title: 'PCI: Pad tiny BARs',
        body: 'v2->v3:\n* rename ("PCI: Pad tiny (<4k) BARs") to ("PCI: Pad tiny BARs")',
      },
      patches: [
        { title: 'PCI: Keep decoding when nothing moves', ...CHANGES.decode },
        { title: 'PCI: Pad tiny BARs', ...CHANGES.alignV3 },
      ],
    };
    const net: PostingSpec = {
      id: 'net',
      version: 1,
      date: '2025-03-05T10:00:00Z',
      author: 'Net Dev <net.dev@example.org>',
      patches: [
        { title: 'net: toy: Check the carrier first', ...CHANGES.decode, file: 'net/core/dev.c' },
      ],
    };
    const big: PostingSpec = {
      id: 'big',
      version: 1,
      date: '2025-03-06T10:00:00Z',
      author: 'Big Dev <big.dev@example.org>',
      patches: [
        { title: 'PCI: One of three', ...CHANGES.acs },
        { title: 'PCI: Two of three', ...CHANGES.restore },
        { title: 'PCI: Three of three', ...CHANGES.decode },
      ],
    };
    const from = 'From x Mon Sep 17 00:00:00 2001\n';
    const file = join(work, 'everything.mbox');
    await writeFile(
      file,
      [
        mbox(v2, v3, net, big),
        // The v3 cover letter again (through a second list).
        mbox({ ...v3, only: [] }),
        from + idConflict('pad3-v3-1@example.org'),
        from +
          mail({
            subject: 'Re: [PATCH v3 0/2] PCI: Pad tiny BARs',
            messageId: 'ack@example.org',
            inReplyTo: 'pad3-v3-0@example.org',
            references: ['pad3-v3-0@example.org'],
            body: 'Looks good.\n',
          }),
        from +
          mail({
            subject: '[GIT PULL] PCI fixes',
            messageId: 'pull@example.org',
            body: 'Please pull.\n',
          }),
        'From nobody Mon Sep 17 00:00:00 2001\n\x00\x01\x02 this is not a mail\n',
      ].join('\n'),
      'latin1',
    );
    const r = await runReview({ inputs: [file], tree: null, limits: { maxPatchesPerSeries: 2 } });
    const f = formats(r);
    assert.equal(r.summary.noSeries, undefined);
    inAll(f, '[PATCH v3 0/2] PCI: Pad tiny BARs', 'cover letter of "PCI: Pad tiny BARs" v3');
    inAll(f, '[PATCH v3 2/2] PCI: Pad tiny BARs', 'patch 2/2 of "PCI: Pad tiny BARs" v3');
    inAll(
      f,
      '[PATCH v2 2/2] PCI: Pad tiny (<4k) BARs',
      'superseded by v3 ("PCI: Pad tiny BARs" v3): title changed: "PCI: Pad tiny (<4k) BARs" -> ' +
        '"PCI: Pad tiny BARs", as the v3 cover letter\'s changelog says',
    );
    const v3id = r.series.find((s) => s.version === 3)!.id;
    inAll(
      f,
      'Re: [PATCH v3 0/2] PCI: Pad tiny BARs',
      `reply in the thread of "PCI: Pad tiny BARs" v3 (${v3id})`,
    );
    inAll(
      f,
      '[PATCH] net: toy: Check the carrier first',
      'patch "net: toy: Check the carrier first"; skipped: touches only net/core/dev.c',
    );
    const refused = r.series.find((s) => s.title === 'PCI: One of three')!.errors![0]!.reason;
    inAll(
      f,
      '[PATCH 2/3] PCI: Two of three',
      `patch 2/3 of "PCI: One of three"; refused: ${refused}`,
    );
    inAll(
      f,
      '[GIT PULL] PCI fixes',
      'not a patch: subject tags [GIT PULL] do not mark a patch and not in a patch thread',
    );
    inAll(
      f,
      'hostile: I reuse a Message-ID',
      f.json.messages.find((m) => m.disposition.kind === 'id-conflict')!.reason,
    );
    assert.match(
      f.json.messages.find((m) => m.disposition.kind === 'id-conflict')!.reason,
      /^Message-ID conflict: /,
    );
    const dup = f.json.messages.filter(
      (m) => m.subject === '[PATCH v3 0/2] PCI: Pad tiny BARs',
    )[1]!;
    assert.equal(dup.reason, 'duplicate of <pad3-v3-0@example.org>');
    const failed = f.json.messages.find((m) => m.disposition.kind === 'failed')!;
    assert.match(failed.reason, /^unreadable: /);
    assert.match(f.text, /unreadable:\n {2}.*everything\.mbox #\d+/);
    // Every message once, in the JSON and in the terminal's list (the unreadable one under "unreadable:").
    assert.equal(f.json.messages.length, r.summary.messages);
    const listed = f.text.slice(f.text.indexOf('\nmessages:\n'), f.text.indexOf('\nunreadable:\n'));
    assert.equal(
      listed.split('\n').filter((l) => l.startsWith('  ')).length,
      r.summary.messages - 1,
    );
    assert.match(
      f.text,
      /supersedes v2 \(2 messages\): title changed: "PCI: Pad tiny \(<4k\) BARs"/,
    );
    assert.match(f.md, /- Supersedes v2: title changed: "PCI: Pad tiny \(\\<4k\) BARs"/);
  });
});

describe('what the previous version had that this one has not', () => {
  const patch = (fixes: boolean): ExamplePatch => ({
    subject: 'PCI: Honour pci=realloc=off again',
    body:
      'pci=realloc=off is ignored since commit 1f2e3d4c5b6a ("PCI: Rework the\n' +
      'realloc option parsing"), which broke the "off" case.\n\nTest the longer option first.',
    ...(fixes
      ? { trailers: ['Fixes: 1f2e3d4c5b6a ("PCI: Rework the realloc option parsing")'] }
      : {}),
    edits: [
      {
        file: 'drivers/pci/pci.c',
        anchor: /^\t\t\} else if \(!strncmp\(str, "realloc=", 8\)\) \{$/,
        op: 'replace',
        lines: ['\t\t} else if (!strncmp(str, "realloc=", 8)) { /* before "realloc" */'],
      },
    ],
  });
  const series = (version: number, fixes: boolean, date: string): ExampleSeries => ({
    name: `realloc-off-v${version}`,
    version,
    author: { name: 'Ann Dev', address: 'ann.dev@example.org' },
    to: ['linux-pci@vger.kernel.org'],
    cc: [],
    date,
    cover: null,
    patches: [patch(fixes)],
  });

  test('v2 with its Fixes: tag says the missing-tag finding of v1 is gone, in every format', async () => {
    const v1 = join(work, 'v1.mbox');
    const v2 = join(work, 'v2.mbox');
    await generateExampleMbox({
      tree,
      base: commit,
      series: series(1, false, '2026-01-05T10:00:00Z'),
      out: v1,
    });
    await generateExampleMbox({
      tree,
      base: commit,
      series: series(2, true, '2026-01-12T10:00:00Z'),
      out: v2,
    });
    const r = await runReview({ inputs: [v1, v2], tree, model: false });
    assert.equal(r.summary.series, 1);
    const s = r.series[0]!;
    assert.equal(s.version, 2);
    assert.deepEqual(
      s.supersedes.map((x) => x.reason),
      ['same author and title ("PCI: Honour pci=realloc=off again")'],
    );
    assert.deepEqual(s.fixed, {
      version: 1,
      findings: [
        { rule: 'stable-and-fixes', title: 'Fix names the commit it fixes but has no Fixes: tag' },
      ],
    });
    const f = formats(r);
    assert.match(
      f.text,
      /since v1: 1 of its findings is gone:\n {4}- stable-and-fixes: Fix names the commit it fixes but has no Fixes: tag\n/,
    );
    assert.match(
      f.md,
      /- since v1: 1 of its findings is gone:\n {2}- stable-and-fixes: Fix names the commit/,
    );
    assert.deepEqual(f.json.series[0]!.fixed, s.fixed);

    // The older version alone is reviewed as itself, with nothing to compare.
    const alone = await runReview({ inputs: [v1], tree, model: false });
    assert.equal(alone.series[0]!.fixed, null);
    assert.deepEqual(
      alone.series[0]!.patches[0]!.findings.map((x) => x.title),
      ['Fix names the commit it fixes but has no Fixes: tag'],
    );
  });
});
