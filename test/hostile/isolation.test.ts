// Every message and every series is isolated: a failure forced at one stage
// (parse, assemble, apply, analyse) for one message or series is reported
// against it, and the rest of the batch is reviewed as if nothing happened.
// Also: --message-id against a mirror with an empty epoch.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runReview, type ReviewOptions } from '../../workers/pipeline.js';
import { runCli } from '../cli-io.js';
import { buildFixtureSeries, type FixtureSeries } from '../service/series.js';
import { patchMail } from './mails.js';

describe('isolation of one message or series', () => {
  let dir: string;
  let fx: FixtureSeries;
  let good: string;
  let lone: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pcibot-hostile-iso-'));
    fx = await buildFixtureSeries(join(dir, 'fx'), { tag: 'iso' });
    good = join(dir, 'a-good.mbox');
    await writeFile(
      good,
      fx.series.map((m) => `From ann@example.com Mon Jan  6 10:00:00 2025\n${m}`).join('\n'),
    );
    lone = join(dir, 'b-lone.eml');
    await writeFile(
      lone,
      patchMail({
        subject: '[PATCH] PCI: Add an isolation probe file',
        messageId: 'lone@iso',
        diff: 'diff --git a/drivers/pci/iso.c b/drivers/pci/iso.c\nnew file mode 100644\n--- /dev/null\n+++ b/drivers/pci/iso.c\n@@ -0,0 +1 @@\n+int iso;\n',
      }),
    );
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  // The good series' id, from a clean run (the hooks name series by id).
  const goodOf2 = { id: '' };
  before(async () => {
    goodOf2.id = goodOf(await review(undefined)).id;
  });

  const review = (hooks: ReviewOptions['hooks']) =>
    runReview({ inputs: [good, lone], tree: fx.tree, model: false, hooks });
  const goodOf = (r: Awaited<ReturnType<typeof runReview>>) =>
    r.series.find((s) => s.cover?.messageId === fx.ids.cover)!;
  const loneOf = (r: Awaited<ReturnType<typeof runReview>>) =>
    r.series.find((s) => s.patches[0]?.messageId === 'lone@iso');

  it('parse: a failure for one file fails its message only', async () => {
    const r = await review({
      stage: (name, d) => {
        if (name === 'parse' && d.file === lone) throw new Error('forced parse failure');
      },
    });
    assert.equal(loneOf(r), undefined);
    const f = r.failures.find((x) => x.origin.file === lone)!;
    assert.equal(f.reason, 'unparsable mail (pcibot error: forced parse failure)');
    assert.deepEqual(
      goodOf(r).patches.map((p) => p.apply?.status),
      ['applied', 'applied', 'applied'],
    );
  });

  it('assemble: when the batch fails, each message is assembled alone; one that fails alone is failed', async () => {
    const r = await review({
      stage: (name, d) => {
        if (name === 'assemble' && d.messageId === undefined)
          throw new Error('forced batch failure');
        if (name === 'assemble' && d.messageId === fx.ids.patches[1])
          throw new Error('this one too');
      },
    });
    assert.match(
      r.internalErrors[0]!.detail,
      /assembling the batch failed \(forced batch failure\)/,
    );
    assert.equal(loneOf(r)?.patches[0]?.apply?.status, 'applied', 'the lone patch is reviewed');
    const m = r.messages.find((x) => x.messageId === fx.ids.patches[1])!;
    assert.equal(m.disposition.kind, 'failed');
    assert.equal(r.summary.messages, 5, 'every message accounted');
  });

  it('apply: a failure for one series is its error; its patches are not-attempted; the other applies', async () => {
    const r = await review({
      stage: (name, d) => {
        if (name === 'apply' && d.seriesId === goodOf2.id) throw new Error('forced apply failure');
      },
    });
    const g = goodOf(r);
    assert.deepEqual(g.errors, [
      { stage: 'apply', reason: 'applying the series failed: forced apply failure' },
    ]);
    assert.ok(g.patches.every((p) => p.apply?.status === 'not-attempted'));
    assert.ok(g.patches[0]!.findings.length > 0, 'the rules still read the mails');
    assert.equal(loneOf(r)!.patches[0]!.apply?.status, 'applied');
    assert.equal(loneOf(r)!.errors, undefined);
  });

  it('analyse: a failure for one series is its error; the other is reviewed', async () => {
    const r = await review({
      stage: (name, d) => {
        if (name === 'analyse' && d.seriesId === goodOf2.id)
          throw new Error('forced analyse failure');
      },
    });
    const g = goodOf(r);
    assert.deepEqual(g.errors, [
      { stage: 'analyse', reason: 'reviewing the series failed: forced analyse failure' },
    ]);
    assert.deepEqual(
      g.patches.map((p) => p.apply?.status),
      ['applied', 'applied', 'applied'],
      'applied before the failure',
    );
    assert.equal(loneOf(r)!.patches[0]!.apply?.status, 'applied');
  });

  it('--message-id: an empty epoch is skipped with a note; the message is found in the next', async () => {
    const mirror = join(dir, 'mirror');
    await mkdir(join(mirror, 'git'), { recursive: true });
    const git = (gitDir: string, args: string[], input?: string) =>
      execFileSync('git', ['--git-dir', gitDir, ...args], {
        input,
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          GIT_AUTHOR_NAME: 'x',
          GIT_AUTHOR_EMAIL: 'x@x',
          GIT_COMMITTER_NAME: 'x',
          GIT_COMMITTER_EMAIL: 'x@x',
        },
      }).trim();
    const e0 = join(mirror, 'git', '0.git');
    const e1 = join(mirror, 'git', '1.git');
    git(e0, ['init', '-q', '--bare']);
    git(e1, ['init', '-q', '--bare']);
    let parent: string | null = null;
    for (const raw of fx.series) {
      const blob = git(e1, ['hash-object', '-w', '--stdin'], raw);
      const tree = git(e1, ['mktree'], `100644 blob ${blob}\tm\n`);
      parent = git(e1, ['commit-tree', tree, '-m', 'x', ...(parent ? ['-p', parent] : [])]);
    }
    git(e1, ['update-ref', 'HEAD', parent!]);
    const r = await runCli([
      'review',
      '--message-id',
      fx.ids.patches[0]!,
      '--mirror',
      mirror,
      '--json',
    ]);
    assert.match(r.err, /epoch 0 \(.*0\.git\) has no commits; skipped/);
    assert.notEqual(r.code, 70);
    const report = JSON.parse(r.out) as { summary: { messages: number } };
    assert.equal(report.summary.messages, 4, 'cover and three patches');
    const none = await runCli(['review', '--message-id', 'absent@x', '--mirror', mirror]);
    assert.equal(none.code, 2);
    assert.match(none.err, /<absent@x> is not in the mirror/);
  });
});
