// `pcibot review` end to end on the fixture kernel tree: a batch mixing in-scope
// series, an out-of-scope one, a conflicting patch and a broken mbox entry. The
// command runs in-process through workers/cli.ts with captured output, so exit codes,
// the three formats and the accounting are checked as a user would see them.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ReviewReport } from '../../workers/report/types.js';
import { repoRoot } from '../../bot/util/paths.js';
import { runCli, type CaptureOptions } from '../cli-io.js';
import { buildFixtureTree } from '../../fixtures/kernel-tree/build.js';

let work = '';
let tree = '';
let batch = '';

const run = (args: string[], opts: CaptureOptions = {}) => runCli(args, { cwd: work, ...opts });

const rule = (id: string, file: string) =>
  readFileSync(join(repoRoot, 'rules', id, file), 'latin1');

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'pcibot-review-'));
  tree = (await buildFixtureTree(join(work, 'tree'))).path;
  // A conflicting patch: the driver-managed-dma fixture with its context changed.
  const conflicting = rule('driver-managed-dma', 'fires.eml')
    .replace(
      'Subject: [PATCH] PCI: portdrv: Enable bus mastering on ports',
      'Subject: [PATCH] PCI: portdrv: Enable bus mastering early',
    )
    .replace(/Message-ID: <[^>]+>/, 'Message-ID: <conflict-1@example.org>')
    .replace(
      ' \treturn pcie_port_device_register(dev);',
      ' \treturn pcie_port_device_register_all(dev);',
    );
  const broken = 'From nobody Mon Sep 17 00:00:00 2001\n\x00\x01\x02 this is not a mail\n';
  batch = join(work, 'batch.mbox');
  await writeFile(
    batch,
    [
      rule('new-kernel-parameter', 'fires.eml'),
      broken,
      readFileSync(join(repoRoot, 'fixtures/mails/kernel-params-unrelated.eml'), 'latin1').replace(
        /^/,
        'From x Mon Sep 17 00:00:00 2001\n',
      ),
      conflicting,
      rule('subject-prefix', 'quiet.eml'),
    ].join('\n'),
    'latin1',
  );
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('pcibot review on a mixed batch', () => {
  test('JSON report accounts for every message and says how each patch applied', async () => {
    const { code, out } = await run(['review', batch, '--tree', tree, '--json']);
    assert.equal(code, 1, 'the conflicting patch still raises an error finding');
    const report = JSON.parse(out) as ReviewReport;
    assert.equal(report.schema, 'pcibot/review@1');
    assert.ok(
      report.series.every((s) => s.verify === null),
      'not verified without --verify',
    );
    assert.equal(report.summary.messages, 5);
    assert.equal(report.messages.length, 5);
    assert.equal(report.summary.failed, 1);
    assert.match(report.failures[0]!.reason, /.+/);
    assert.equal(report.failures[0]!.origin.index, 2, 'the broken entry is named by its position');

    const reviewed = report.series.filter((s) => s.status === 'reviewed');
    const skipped = report.series.filter((s) => s.status === 'skipped');
    assert.equal(reviewed.length, 3);
    assert.equal(skipped.length, 1);
    assert.match(skipped[0]!.scope.reason, /kernel-parameters\.txt/);

    const byTitle = (t: string) => reviewed.find((s) => s.title.includes(t))!;
    const param = byTitle('nosharedpage');
    assert.equal(param.patches[0]!.apply?.status, 'applied');
    assert.equal(param.base?.how, 'base-commit');
    const hit = param.patches[0]!.findings.find((f) => f.rule === 'new-kernel-parameter');
    assert.ok(hit, 'the new pci= option is found');
    assert.equal(hit.file, 'drivers/pci/pci.c');
    assert.equal(typeof hit.line, 'number');

    const conflict = byTitle('Enable bus mastering early');
    const p = conflict.patches[0]!;
    assert.equal(p.apply?.status, 'conflict');
    assert.equal(p.apply?.conflicts?.[0]?.file, 'drivers/pci/pcie/portdrv.c');
    assert.ok(p.apply?.conflicts?.[0]?.line, 'the line git expected the hunk at');
    // Rules still read a patch that did not apply (the diff and message are there).
    assert.ok(p.findings.some((f) => f.rule === 'driver-managed-dma'));

    assert.deepEqual(report.messages.map((m) => m.disposition.kind).sort(), [
      'failed',
      'patch',
      'patch',
      'patch',
      'patch',
    ]);
  });

  test('terminal report lists reviewed, skipped and unreadable input', async () => {
    const { code, out } = await run(['review', batch, '--tree', tree]);
    assert.equal(code, 1);
    assert.match(out, /3 reviewed, 1 skipped\), 1 unreadable/);
    assert.match(out, /CONFLICT/);
    assert.match(out, /CONFLICT: drivers\/pci\/pcie\/portdrv\.c:\d+: hunk #1 does not apply/);
    assert.match(out, /warning new-kernel-parameter {2}drivers\/pci\/pci\.c:\d+/);
    assert.match(out, /skipped \(not PCI\/VFIO\):/);
    assert.match(out, /unreadable:\n {2}.*batch\.mbox #2/);
    assert.doesNotMatch(out, /\x1b\[/, 'no colour codes when not a terminal');
  });

  test('markdown report has the patch table and findings', async () => {
    const { code, out } = await run(['review', batch, '--tree', tree, '--markdown']);
    assert.equal(code, 1);
    assert.match(out, /^# pcibot review/);
    assert.match(out, /\| # \| patch \| applies \|/);
    assert.match(out, /\*\*warning\*\* `new-kernel-parameter`/);
    assert.match(out, /## Skipped/);
    assert.match(out, /## Unreadable/);
  });

  test('warnings only exit 0, error findings exit 1', async () => {
    const warn = await run([
      'review',
      join(repoRoot, 'rules/new-kernel-parameter/fires.eml'),
      '--tree',
      tree,
    ]);
    assert.equal(warn.code, 0);
    const { code, out } = await run([
      'review',
      join(repoRoot, 'rules/driver-managed-dma/fires.eml'),
      '--tree',
      tree,
    ]);
    assert.equal(code, 1);
    assert.match(out, /error driver-managed-dma/);
  });

  test('reads stdin', async () => {
    const { code, out } = await run(['review', '-', '--tree', tree, '--json'], {
      stdin: rule('new-kernel-parameter', 'fires.eml'),
    });
    assert.equal(code, 0);
    const report = JSON.parse(out) as ReviewReport;
    assert.equal(report.summary.reviewed, 1);
    assert.equal(report.messages[0]!.origin.kind, 'stdin');
  });

  test('--verify skips a series whose boot could not differ from the base, and says why', async () => {
    // A UAPI header alone: in scope, applies, but no file the kernel policy is read from.
    const doc = join(repoRoot, 'rules/vfio-uapi/quiet-doc.eml');
    const { code, out } = await run(['review', doc, '--tree', tree, '--verify', '--json']);
    assert.equal(code, 0);
    const s = (JSON.parse(out) as ReviewReport).series[0]!;
    assert.equal(s.patches[0]!.apply?.status, 'applied');
    assert.equal(s.verify, null, 'nothing was built or booted');
    assert.deepEqual(s.verifyDecision, {
      asked: true,
      verify: false,
      reason: 'the series changes no file the kernel policy is read from',
    });
    const text = await run(['review', doc, '--tree', tree, '--verify']);
    assert.match(
      text.out,
      /\n {2}verify: not run: the series changes no file the kernel policy is read from\n/,
    );
  });

  test('--verify auto: the mode named before or after the input, decided the same way; a bad mode is exit 2', async () => {
    const doc = join(repoRoot, 'rules/vfio-uapi/quiet-doc.eml');
    for (const args of [
      ['review', '--verify', 'auto', doc, '--tree', tree, '--json'],
      ['review', doc, '--tree', tree, '--json', '--verify=auto'],
    ]) {
      const { code, out } = await run(args);
      assert.equal(code, 0, args.join(' '));
      const s = (JSON.parse(out) as ReviewReport).series[0]!;
      assert.deepEqual(s.verifyDecision, {
        asked: true,
        mode: 'auto',
        verify: false,
        reason: 'the series changes no file the kernel policy is read from',
      });
    }
    const bad = await run(['review', doc, '--verify=sometimes']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--verify takes no value or one of on, auto, not "sometimes"/);
  });

  test('the checkout is left as it was', async () => {
    const status = () => execFileSync('git', ['-C', tree, 'status', '--porcelain']).toString();
    const head = () => execFileSync('git', ['-C', tree, 'rev-parse', 'HEAD']).toString();
    const [s0, h0] = [status(), head()];
    await run(['review', batch, '--tree', tree]);
    assert.equal(status(), s0);
    assert.equal(head(), h0);
  });

  test('without a tree the mails are still reviewed, unapplied', async () => {
    const { code, out } = await run([
      'review',
      join(repoRoot, 'rules/new-kernel-parameter/fires.eml'),
      '--json',
    ]);
    assert.equal(code, 0);
    const report = JSON.parse(out) as ReviewReport;
    assert.equal(report.tree, null);
    assert.equal(report.series[0]!.patches[0]!.apply, null);
    // The rule falls back to the diff alone: the option is still new there.
    assert.ok(
      report.series[0]!.patches[0]!.findings.some((f) => f.rule === 'new-kernel-parameter'),
    );
  });

  test('uses the current directory when it is a kernel tree', async () => {
    const kernelLike = join(work, 'kernel-like');
    await buildFixtureTree(kernelLike);
    const { out } = await run(
      ['review', join(repoRoot, 'rules/new-kernel-parameter/fires.eml'), '--json'],
      { cwd: kernelLike },
    );
    const report = JSON.parse(out) as ReviewReport;
    assert.ok(report.tree, 'the fixture tree has MAINTAINERS, drivers/pci and .git');
    assert.equal(report.series[0]!.patches[0]!.apply?.status, 'applied');
  });
});

describe('pcibot review: bad usage and unreadable input', () => {
  test('no input: exit 2 with usage', async () => {
    const { code, err } = await run(['review']);
    assert.equal(code, 2);
    assert.match(err, /no input given/);
    assert.match(err, /usage: pcibot review/);
  });

  test('missing file: exit 2 naming it', async () => {
    const { code, err } = await run(['review', join(work, 'nope.mbox'), '--tree', tree]);
    assert.equal(code, 2);
    assert.match(err, /nope\.mbox: no such file or directory/);
  });

  test('--json with --markdown: exit 2', async () => {
    const { code } = await run(['review', batch, '--json', '--markdown']);
    assert.equal(code, 2);
  });

  test('a tree that is not a git repository: exit 2', async () => {
    const { code, err } = await run(['review', batch, '--tree', work + '/nowhere']);
    assert.equal(code, 2);
    assert.match(err, /tree .*nowhere/);
  });

  test('nothing readable: exit 2, the reason reported', async () => {
    const junk = join(work, 'junk.eml');
    await writeFile(junk, '\x00\x01binary\x02');
    const { code, out } = await run(['review', junk, '--tree', tree]);
    assert.equal(code, 2);
    assert.match(out, /unreadable:\n {2}.*junk\.eml/);
  });

  test('--scenarios without --verify: exit 2', async () => {
    const { code, err } = await run(['review', batch, '--scenarios', 'a,b']);
    assert.equal(code, 2);
    assert.match(err, /--scenarios goes with --verify/);
  });

  test('unknown option: exit 2', async () => {
    const { code, err } = await run(['review', batch, '--frobnicate']);
    assert.equal(code, 2);
    assert.match(err, /frobnicate/);
  });

  test('unknown command and --help', async () => {
    assert.equal((await run(['nonsense'])).code, 2);
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /review/);
    const reviewHelp = await run(['review', '--help']);
    assert.equal(reviewHelp.code, 0);
    assert.match(reviewHelp.out, /exit status/);
  });
});
