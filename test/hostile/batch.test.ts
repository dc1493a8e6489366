// Issue 12's end-to-end check for the ingest/parse/assemble side: one batch
// (a directory, plus /dev/zero on the command line) holding one of each
// hostile mail, a FIFO, a symlink to a secret, a 65 MiB message, a series of
// 1,001 patches, a reused Message-ID and a 2,000-deep reply chain, plus one
// good 3-patch series. `pcibot review` must report the good series fully
// (every patch applied, its findings) and every hostile input with its
// reason, in all three formats, and exit 0 or 1.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ReviewReport } from '../../workers/report/types.js';
import { runCli } from '../cli-io.js';
import { buildFixtureSeries, type FixtureSeries } from '../service/series.js';
import { hostileMails, idConflict, mail } from './mails.js';

const SECRET = 'root:SECRET-HASH-do-not-print:20228:0:99999:7:::';

describe('hostile batch: one of each, plus a good series', () => {
  let dir: string;
  let batch: string;
  let fx: FixtureSeries;
  let json: ReviewReport;
  let code: number;
  let terminal: string;
  let markdown: string;
  const hostile = hostileMails();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pcibot-hostile-'));
    fx = await buildFixtureSeries(join(dir, 'fx'), { tag: 'hostile-good' });
    batch = join(dir, 'batch');
    execFileSync('mkdir', ['-p', batch]);
    // The good series first (names sort), so the reused Message-ID comes second.
    await writeFile(
      join(batch, 'a-good.mbox'),
      fx.series.map((m) => `From ann@example.com Mon Jan  6 10:00:00 2025\n${m}`).join('\n'),
    );
    for (const h of hostile) await writeFile(join(batch, `h-${h.name}.eml`), h.raw, 'latin1');
    await writeFile(join(batch, 'h-id-conflict.eml'), idConflict(fx.ids.patches[1]!));
    // A reply chain 2,000 deep under the good series' cover letter.
    const chain: string[] = [];
    for (let i = 0; i < 2000; i++)
      chain.push(
        `From r@example.net Tue Jan  7 10:00:00 2025\n` +
          mail({
            from: 'Rev Iewer <r@example.net>',
            subject: 'Re: [PATCH 0/3] PCI: Small BAR alignment and an ACS quirk',
            messageId: `chain-${i}@hostile`,
            inReplyTo: i === 0 ? fx.ids.cover : `chain-${i - 1}@hostile`,
            body: `Reply ${i}.\n`,
          }),
      );
    await writeFile(join(batch, 'h-reply-chain.mbox'), chain.join('\n'));
    // A series of 1,001 patches (over maxPatchesPerSeries).
    const long: string[] = [];
    for (let i = 0; i <= 1001; i++)
      long.push(
        `From l@example.com Tue Jan  7 10:00:00 2025\n` +
          mail({
            from: 'Long Series <l@example.com>',
            subject: `[PATCH ${i}/1001] PCI: Step ${i}`,
            messageId: `long-${i}@hostile`,
            ...(i ? { inReplyTo: 'long-0@hostile' } : {}),
            body: i
              ? `Step.\n\nSigned-off-by: L <l@example.com>\n---\ndiff --git a/drivers/pci/l${i}.c b/drivers/pci/l${i}.c\nnew file mode 100644\n--- /dev/null\n+++ b/drivers/pci/l${i}.c\n@@ -0,0 +1 @@\n+int l${i};\n`
              : 'Many steps.\n',
          }),
      );
    await writeFile(join(batch, 'h-long-series.mbox'), long.join('\n'));
    // A 65 MiB message (over maxMessageBytes), written sparse-free but quickly.
    const huge = await open(join(batch, 'h-huge.eml'), 'w');
    await huge.write(mail({ subject: 'hostile: 65 MiB', messageId: 'huge@hostile', body: '' }));
    const block = Buffer.alloc(1 << 20, 0x78);
    for (let i = 0; i < 65; i++) await huge.write(block);
    await huge.close();
    // Not mails at all: a FIFO and a symlink to a secret outside the batch.
    execFileSync('mkfifo', [join(batch, 'h-fifo')]);
    await writeFile(join(dir, 'shadow'), `${SECRET}\n`);
    await symlink(join(dir, 'shadow'), join(batch, 'h-secret-link'));

    const args = ['review', batch, '/dev/zero', '--tree', fx.tree];
    const j = await runCli([...args, '--json']);
    code = j.code;
    assert.equal(j.err, '', 'nothing on stderr');
    json = JSON.parse(j.out) as ReviewReport;
    terminal = (await runCli(args)).out;
    markdown = (await runCli([...args, '--markdown'])).out;
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('exits as its findings say (1 only with an error finding), with no internal error from the ingest side', () => {
    assert.equal(code, json.summary.findings.error > 0 ? 1 : 0, `exit ${code}`);
    assert.ok(json.summary.reviewed >= 1);
  });

  it('reports the good series fully: cover, three patches applied, their findings, every reply', () => {
    const good = json.series.find((s) => s.cover?.messageId === fx.ids.cover)!;
    assert.ok(good, 'the good series is in the report');
    assert.equal(good.status, 'reviewed');
    assert.equal(good.complete, true);
    assert.deepEqual(
      good.patches.map((p) => [p.messageId, p.apply?.status]),
      fx.ids.patches.map((id) => [id, 'applied']),
    );
    assert.ok(good.patches[0]!.findings.some((f) => f.rule === 'new-kernel-parameter'));
    assert.ok(good.patches[2]!.findings.some((f) => f.rule === 'stable-and-fixes'));
    assert.equal(good.errors, undefined);
    const replies = json.messages.filter(
      (m) => m.disposition.kind === 'reply' && m.messageId?.startsWith('chain-'),
    );
    assert.equal(replies.length, 2000, 'every reply of the chain is accounted to a series');
    assert.ok(
      replies.every((m) => m.disposition.kind === 'reply' && m.disposition.seriesId === good.id),
    );
    assert.match(
      terminal,
      /3\/3 PCI: Add an ACS isolation hook for the Example 1234 switch\n {6}applied/,
    );
  });

  for (const h of hostileMails()) {
    it(`reports ${h.name} with its reason`, () => {
      const m = json.messages.find((x) => x.origin.file.endsWith(`h-${h.name}.eml`));
      assert.ok(m, `${h.name} is accounted for`);
      assert.equal(m.disposition.kind, h.expect.disposition, JSON.stringify(m.disposition));
      if (h.expect.where === 'reason') {
        assert.equal(m.disposition.kind, 'failed');
        if (m.disposition.kind === 'failed') assert.match(m.disposition.reason, h.expect.reason);
        const f = json.failures.find((x) => x.origin.file === m.origin.file)!;
        assert.match(
          terminal,
          new RegExp(
            `h-${h.name}\\.eml: ${f.reason.slice(0, 30).replace(/[()[\]{}.*+?^$|\\]/g, '\\$&')}`,
          ),
        );
        assert.ok(markdown.includes(`h-${h.name}.eml`));
      } else if (h.expect.where === 'warning') {
        assert.ok(
          m.warnings?.some((w) => h.expect.reason.test(w)),
          JSON.stringify(m.warnings),
        );
        const w = m.warnings!.find((x) => h.expect.reason.test(x))!;
        assert.ok(terminal.includes(w), 'the terminal report shows the warning');
        assert.ok(markdown.includes(w.replace(/([\\`*_[\]<>|])/g, '\\$1')), 'so does Markdown');
      } else {
        // A patch of its own one-patch series: a per-patch apply status or a series error.
        const s = json.series.find((x) => x.patches.some((p) => p.messageId === h.messageId))!;
        assert.ok(s, `${h.name}: its series is reported`);
        assert.equal(s.status, 'reviewed');
        const p = s.patches[0]!;
        if (h.expect.where === 'apply') assert.match(p.apply?.status ?? '', h.expect.reason);
        else
          assert.ok(
            (s.errors?.length ?? 0) > 0 || p.apply !== null,
            `${h.name}: a per-patch status or a series error`,
          );
      }
    });
  }

  it('reports the reused Message-ID as a conflict, and keeps the first', () => {
    const m = json.messages.find((x) => x.origin.file.endsWith('h-id-conflict.eml'))!;
    assert.equal(m.disposition.kind, 'id-conflict');
    if (m.disposition.kind === 'id-conflict') {
      assert.equal(m.disposition.of, fx.ids.patches[1]);
      assert.match(m.disposition.reason, /a-good\.mbox: message 3 .* and the subjects differ/);
    }
    assert.match(terminal, /Message-ID conflict/);
  });

  it('refuses the 1,001-patch series with the limit, and reviews nothing of it', () => {
    const s = json.series.find((x) => x.cover?.messageId === 'long-0@hostile')!;
    assert.equal(s.status, 'skipped');
    assert.equal(s.received, 1001);
    assert.match(s.errors![0]!.reason, /1001 patches, more than maxPatchesPerSeries \(1000\)/);
    assert.ok(s.patches.every((p) => p.apply === null));
    assert.match(terminal, /not reviewed \(refused\):[\s\S]*1001 patches/);
  });

  it('refuses the 65 MiB message, the FIFO, /dev/zero and the symlink by name, and never quotes the secret', () => {
    const reason = (suffix: string) =>
      json.failures.find((f) => f.origin.file.endsWith(suffix))?.reason ?? '(missing)';
    assert.match(reason('h-huge.eml'), /message larger than maxMessageBytes \(64 MiB\)/);
    assert.equal(reason('h-fifo'), 'a FIFO, not a regular file; not read');
    assert.equal(reason('/dev/zero'), 'a character device, not a regular file; not read');
    assert.equal(
      reason('h-secret-link'),
      'a symbolic link inside an input directory; not followed',
    );
    for (const text of [JSON.stringify(json), terminal, markdown])
      assert.ok(!text.includes('SECRET-HASH'), 'the secret is never quoted');
  });

  it('accounts for every message exactly once', () => {
    const files = new Set(json.messages.map((m) => m.origin.file));
    for (const h of hostileMails())
      assert.ok([...files].some((f) => f.endsWith(`h-${h.name}.eml`)));
    // 4 good + hostile mails + conflict + 2000 chain + 1002 long + huge + fifo + link + /dev/zero
    assert.equal(json.summary.messages, 4 + hostileMails().length + 1 + 2000 + 1002 + 4);
  });
});
