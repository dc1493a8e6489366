import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { splitMbox } from '../../bot/ingest/read.js';
import { isParseFailure, parseMail } from '../../bot/mail/parse.js';
import type { Message, ParseFailure } from '../../bot/types.js';
import { gitApply, mailPath, parseFixture, rawFixture, seedsDir } from './helpers.js';
import { makeToyRepo, TOY_BASE_COMMIT } from './toytree.js';

async function mboxMessages(name: string): Promise<(Message | ParseFailure)[]> {
  const text = readFileSync(mailPath(name)).toString('latin1');
  const { mails, failures } = splitMbox(text, mailPath(name));
  const parsed: (Message | ParseFailure)[] = [...failures];
  for (const m of mails) parsed.push(await parseMail(m));
  return parsed.sort((a, b) => a.origin.index! - b.origin.index!);
}

describe('parseMail: headers', () => {
  it('decodes folded RFC 2047 headers and address lists', async () => {
    const m = await parseFixture('folded-encoded-headers.eml');
    assert.equal(m.subject, '[PATCH] PCI: toy: Give sub-page memory BARs a page of their own');
    assert.equal(m.messageId, '20250110110000.1013-1-zoe@example.se');
    assert.deepEqual(m.from, { name: 'Zoë Ångström', address: 'zoe@example.se' });
    assert.deepEqual(m.to, [{ name: 'Toy Maintainer', address: 'toy@example.org' }]);
    assert.deepEqual(m.cc, [
      { name: '', address: 'linux-pci@vger.kernel.org' },
      { name: 'Reviewer, Alex', address: 'alex.reviewer@example.com' },
      { name: 'Jörg Rödel', address: 'joro@example.de' },
    ]);
    assert.equal(m.date, '2025-01-10T11:00:00.000Z');
    assert.deepEqual(m.tags.prefixes, ['PATCH']);
  });

  it('threading headers: In-Reply-To and References without brackets', async () => {
    const msgs = (await mboxMessages('pci-series-v1-v2-mixed.mbox')) as Message[];
    const reply = msgs.find((m) => m.origin.index === 12)!;
    assert.equal(reply.inReplyTo, '20250114-toy-small-bars-v2-2-5c1d2e3f4a5b@example.org');
    assert.deepEqual(reply.references, [
      '20250107-toy-small-bars-v1-0-5c1d2e3f4a5b@example.org',
      '20250114-toy-small-bars-v2-0-5c1d2e3f4a5b@example.org',
      '20250114-toy-small-bars-v2-2-5c1d2e3f4a5b@example.org',
    ]);
  });

  it('synthesises a stable Message-ID when there is none', async () => {
    const a = await parseFixture('missing-message-id.eml');
    const b = await parseFixture('missing-message-id.eml');
    assert.match(a.messageId, /^pcibot-[0-9a-f]{32}@synthesised\.invalid$/);
    assert.equal(a.messageId, b.messageId);
    assert.match(a.warnings[0]!, /no Message-ID header; using synthesised/);
    // different bytes, different id
    const other = await parseFixture(
      '0001-PCI-toy-Give-sub-page-memory-BARs-a-page-of-their-own.patch',
    );
    assert.notEqual(other.messageId, a.messageId);
  });

  it('missing From, Date and Subject are warnings, not failures', async () => {
    const m = await parseFixture('missing-from-date-subject.eml');
    assert.equal(m.subject, '');
    assert.equal(m.date, null);
    assert.deepEqual(m.from, { name: '', address: '' });
    assert.deepEqual(m.warnings.sort(), [
      'no Date header',
      'no From header (or no address in it)',
      'no Subject header',
    ]);
    assert.equal(m.tags.isPatch, false);
  });

  it('raw Latin-1 header bytes are read as Latin-1, with a warning', async () => {
    const raw =
      'From: Bj\xf8rn Tester <b@example.org>\nSubject: [PATCH] PCI: caf\xe9\nMessage-ID: <l1@x>\n\nbody\n';
    const m = (await parseMail({ origin: { kind: 'eml', file: 't' }, raw })) as Message;
    assert.equal(m.from.name, 'Bjørn Tester');
    assert.equal(m.subject, '[PATCH] PCI: café');
    assert.match(m.warnings.join(), /not UTF-8; read as Latin-1/);
  });

  it('raw UTF-8 header bytes need no warning', async () => {
    const raw = Buffer.from(
      'From: Bjørn <b@example.org>\nSubject: [PATCH] PCI: café\nDate: Mon, 6 Jan 2025 10:00:00 +0000\nMessage-ID: <u8@x>\n\nbody\n',
    ).toString('latin1');
    const m = (await parseMail({ origin: { kind: 'eml', file: 't' }, raw })) as Message;
    assert.equal(m.subject, '[PATCH] PCI: café');
    assert.deepEqual(m.warnings, []);
  });
});

describe('parseMail: bodies', () => {
  let repo: Awaited<ReturnType<typeof makeToyRepo>>;
  before(async () => (repo = await makeToyRepo()));
  after(async () => repo.cleanup());

  it('patch A: trailers, base-commit, no change-id', async () => {
    const m = await parseFixture('single-8bit-utf8.eml');
    assert.deepEqual(
      m.trailers.map((t) => [t.key, t.value]),
      [
        ['Reported-by', 'Stéphane Lefèvre <stephane@example.fr>'],
        ['Closes', 'https://lore.example.org/r/20250102-small-bars@example.fr'],
        ['Fixes', '0123456789ab ("PCI: toy: Add toy resource alignment")'],
        ['Cc', 'stable@vger.kernel.org'],
        ['Signed-off-by', 'Zoë Ångström <zoe@example.se>'],
      ],
    );
    assert.equal(m.baseCommit, TOY_BASE_COMMIT);
    assert.deepEqual(m.prerequisites, [{ kind: 'base-commit', value: TOY_BASE_COMMIT }]);
    assert.equal(m.changeId, null);
    assert.equal(m.tags.isPatch, true);
  });

  it('a "-- " line inside a hunk stays in the diff; the signature does not', async () => {
    const m = await parseFixture('dashdash-in-hunk.eml');
    assert.match(m.diff!, /\n-- \n\+- IOMMU groups and ACS\n/);
    assert.ok(!m.diff!.includes('2.39.5'));
    assert.ok(!m.diff!.includes('base-commit'));
    assert.equal(await gitApply(repo.dir, m.diff!), null);
  });

  it('b4 cover letter: change-id, base-commit and prerequisites', async () => {
    const msgs = (await mboxMessages('pci-series-v1-v2-mixed.mbox')) as Message[];
    const cover = msgs.find((m) => m.origin.index === 8)!;
    assert.equal(cover.tags.index, 0);
    assert.equal(cover.diff, null);
    assert.equal(cover.changeId, '20250107-toy-small-bars-5c1d2e');
    assert.equal(cover.baseCommit, TOY_BASE_COMMIT);
    assert.deepEqual(
      cover.prerequisites.map((p) => p.kind),
      ['base-commit', 'change-id', 'patch-id', 'message-id'],
    );
    assert.equal(cover.prerequisites[3]!.value, '20241220-toy-prep-v3-0-1a2b3c4d5e6f@example.org');
  });

  it('mboxrd: ">From " lines come back unescaped in the commit message', async () => {
    const msgs = (await mboxMessages('pci-series-v1-v2-mixed.mbox')) as Message[];
    const p2 = msgs.find((m) => m.origin.index === 3)!;
    assert.ok(p2.commitMessage.includes('\nFrom the point of view of the PCI spec'));
    assert.ok(p2.commitMessage.includes('\n>From an old thread:'));
    assert.ok(!p2.commitMessage.includes('>>From'));
  });

  it('CRLF mbox: diffs come out with LF and apply', async () => {
    const msgs = (await mboxMessages('crlf.mbox')) as Message[];
    assert.equal(msgs.length, 2);
    for (const m of msgs) {
      assert.ok(!m.diff!.includes('\r'));
      assert.ok(!m.body.includes('\r'));
    }
    assert.equal(await gitApply(repo.dir, msgs[0]!.diff! + msgs[1]!.diff!), null);
  });

  it('a reply quoting a diff has no diff and is a reply', async () => {
    const msgs = (await mboxMessages('pci-series-v1-v2-mixed.mbox')) as Message[];
    const reply = msgs.find((m) => m.origin.index === 12)!;
    assert.equal(reply.tags.isReply, true);
    assert.equal(reply.tags.isPatch, false);
    assert.equal(reply.diff, null);
    assert.deepEqual(
      reply.trailers.map((t) => t.key),
      ['Reviewed-by'],
    );
  });

  it('a reply with an unquoted diff keeps the diff but stays a reply', async () => {
    const m = await parseFixture('reply-unquoted-diff.eml');
    assert.equal(m.tags.isReply, true);
    assert.equal(m.tags.isPatch, false);
    assert.match(m.diff!, /^diff --git a\/net\/core\/toy_dev.c/);
    assert.ok(m.commitMessage.startsWith('On Fri, Jan 10, 2025'));
  });

  it('in-body From: (sent for another author) is not part of the commit message', async () => {
    const m = await parseFixture('iommu-acs.eml');
    assert.ok(m.body.startsWith('From: Ivo Iommu <ivo@example.com>\n\n'));
    assert.ok(m.commitMessage.startsWith('Use pci_device_group()'));
    assert.deepEqual(
      m.trailers.map((t) => t.value),
      ['Ivo Iommu <ivo@example.com>', 'Anna Tester <anna.tester@example.org>'],
    );
  });

  it('a pull request is a message without diff, not a patch', async () => {
    const m = await parseFixture('not-a-patch-pull-request.eml');
    assert.equal(m.diff, null);
    assert.equal(m.tags.isPatch, false);
  });

  it('the attachment note and the attached patch are both in the body', async () => {
    const m = await parseFixture('single-attach-xpatch-base64.eml');
    assert.ok(m.body.startsWith('Hi,\n\nmy mailer mangles inline patches'));
    // the attachment's own From_/header block is gone
    assert.ok(!m.body.includes('Mon Sep 17 00:00:00 2001'));
    assert.ok(m.commitMessage.includes('A memory BAR smaller than a page'));
  });

  it('a pgp signature is skipped silently; an HTML alternative is not read', async () => {
    const sig = await parseFixture('single-attach-octet-stream.eml');
    assert.deepEqual(sig.warnings, []);
    const alt = await parseFixture('single-alternative-html.eml');
    assert.ok(!alt.body.includes('<pre>'));
  });
});

describe('parseMail: what is not a mail', () => {
  it('binary garbage, empty input and an HTML page are clear failures', async () => {
    const cases: [string, RegExp][] = [
      ['binary-garbage.eml', /^binary data, not a mail \(NUL byte at offset \d+\)$/],
      ['empty.eml', /^empty entry$/],
      ['web-page-copy.html', /^not a mail: an HTML document/],
    ];
    for (const [name, re] of cases) {
      const r = await parseMail(rawFixture(name));
      assert.ok(isParseFailure(r), name);
      assert.match(r.reason, re, name);
      assert.equal(r.origin.file, mailPath(name));
    }
  });

  it('every seed (web-page copies of list threads) is a clear failure, never a crash', async () => {
    const seeds = readdirSync(seedsDir).filter((f) => f.endsWith('.txt'));
    assert.ok(seeds.length >= 5);
    for (const f of seeds) {
      const raw = readFileSync(join(seedsDir, f)).toString('latin1');
      const r = await parseMail({ origin: { kind: 'seed', file: f }, raw });
      assert.ok(isParseFailure(r), f);
      assert.equal(r.reason, 'not a mail: no header block; looks like a copy of a web page', f);
      assert.ok(
        r.subject && /PATCH|v\d+,\d+\/\d+/.test(r.subject),
        `${f}: subject guess ${r.subject}`,
      );
    }
  });

  it('keeps what a web copy still shows: seed 004 Message ID and patchwork subject', async () => {
    const raw = readFileSync(join(seedsDir, '004_b1db861f8f2400ca.txt')).toString('latin1');
    const r = (await parseMail({ origin: { kind: 'seed', file: '004' }, raw })) as ParseFailure;
    assert.equal(r.messageId, '20240529-vfio_pci_mmap-v3-0-cd217d019218@linux.ibm.com');
    assert.equal(
      r.subject,
      '[v3,0/3] vfio/pci: s390: Fix issues preventing VFIO_PCI_MMAP=y for s390 and enable it',
    );
  });

  it('a message is JSON-serialisable and round-trips', async () => {
    const m = await parseFixture('single-qp-latin1.eml');
    assert.deepEqual(JSON.parse(JSON.stringify(m)), m);
  });
});
