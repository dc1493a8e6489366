// `pcibot review` of one mbox holding a good series and the diffs that used to
// end a review with exit 70 (no a/ b/ prefixes, a date after the name) or that
// attack the apply stage: every series is reported, each hostile patch with its
// status and reason, the good one fully, and the exit status is 0 or 1.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gitRepo } from '../../bot/tree/git.js';
import type { ReviewReport } from '../../workers/report/types.js';
import { buildFixtureTree, fixtureTreeFiles } from '../../fixtures/kernel-tree/build.js';
import { runCli } from '../cli-io.js';
import { edit, makeDiff, tempDir } from '../tree/helpers.js';
import { gitBinaryNewFile, gitNewFile, gitSymlink, listTree, listingDiff } from './helpers.js';

const tmp = tempDir('pcibot-hostile-review-test-');
process.env.TMPDIR = join(tmp.path, 'tmp');
mkdirSync(process.env.TMPDIR);
const files = fixtureTreeFiles();
const PCI = 'drivers/pci/pci.c';
let tree: string;

before(async () => {
  tree = (await buildFixtureTree(join(tmp.path, 'tree'))).path;
});
after(() => {
  gitRepo(tree).close();
  tmp.cleanup();
});

function mail(n: number, subject: string, diff: string): string {
  return (
    `From mboxrd@z Thu Jan  1 00:00:00 1970\nFrom: Some One <someone@example.org>\n` +
    `Date: Fri, 10 Jan 2025 12:00:0${n % 10} +0100\nSubject: [PATCH] ${subject}\n` +
    `Message-ID: <hostile-${n}@example.org>\nTo: linux-pci@vger.kernel.org\n\n` +
    `Subject says it.\n\nSigned-off-by: Some One <someone@example.org>\n---\n${diff}-- \n2.39.5\n\n`
  );
}

test('hostile apply cases in one mbox: every series reported, exit 0 or 1', async () => {
  const pci = files[PCI]!;
  const good = makeDiff([
    {
      path: PCI,
      before: pci,
      after: edit(pci, 'static bool pci_bridge_d3_force;', 'static bool pci_bridge_d3_force = 1;'),
    },
  ]);
  const noPrefixNew = gitNewFile('drivers/pci/new.c', ['int x;']).replace(
    /[ab]\/drivers/g,
    'drivers',
  );
  const dated = good
    .replace(/^diff --git .*\n(?:index .*\n)?/m, '')
    .replace(/^(--- a\/\S+)$/m, '$1 2025-01-10 12:00:00')
    .replace(/^(\+\+\+ b\/\S+)$/m, '$1 2025-01-10 12:00:00');
  const cases: [string, string][] = [
    ['PCI: Good change', good],
    ['PCI: No prefixes', noPrefixNew],
    ['PCI: Traditional header with a date', dated],
    ['PCI: Hook', gitNewFile('drivers/pci/.git/hooks/post-checkout', ['#!/bin/sh'], '100755')],
    ['PCI: Link out', gitSymlink('drivers/pci/etc', '/etc')],
    ['PCI: Firmware', gitBinaryNewFile('drivers/pci/fw.bin', Buffer.alloc(8), 2 ** 31)],
  ];
  const mbox = join(tmp.path, 'hostile.mbox');
  writeFileSync(mbox, cases.map(([s, d], i) => mail(i + 1, s, d)).join(''));
  const listing = listTree(tree, () => true);

  const r = await runCli(['review', mbox, '--tree', tree, '--json']);
  const report = JSON.parse(r.out) as ReviewReport;
  // The exit status is the findings' (1 only with an error finding), not a pcibot failure.
  assert.equal(r.code, report.summary.findings.error > 0 ? 1 : 0, `exit ${r.code}: ${r.err}`);
  assert.deepEqual(report.internalErrors, []);
  const series = (title: string) => {
    const s = report.series.find((x) => x.title === title);
    assert.ok(s, `series ${title} is reported`);
    return s;
  };
  const status = (title: string) => {
    const apply = series(title).patches[0]!.apply;
    assert.ok(apply, `${title} went through apply`);
    return apply;
  };
  assert.equal(status('PCI: Good change').status, 'applied');
  assert.equal(status('PCI: No prefixes').status, 'applied');
  assert.match(status('PCI: No prefixes').detail!, /-p0/);
  assert.equal(status('PCI: Traditional header with a date').status, 'applied');
  // Refused before apply, by scope (the same path check).
  assert.equal(series('PCI: Hook').status, 'skipped');
  assert.match(series('PCI: Hook').scope.reason, /\.git component/);
  assert.equal(status('PCI: Link out').status, 'malformed');
  assert.match(status('PCI: Link out').detail!, /symlink with the absolute target/);
  assert.equal(status('PCI: Firmware').status, 'malformed');
  assert.match(status('PCI: Firmware').detail!, /declares 2048 MiB/);
  assert.deepEqual(
    listingDiff(
      listing,
      listTree(tree, () => true),
    ),
    [],
  );
  assert.deepEqual(
    readdirSync(process.env.TMPDIR!).filter((n) => n.startsWith('pcibot-')),
    [],
  );
});

test('the rules and the report read the names git applied, whatever the header form', async () => {
  // One change (a new boot parameter: new-kernel-parameter fires on its line) in
  // the forms authors send: git's, --no-prefix, a traditional header with a date
  // (no time zone, which parse-diff kept as part of the name) and quilt's
  // linux.orig/ linux/ (applied at -p1, which parse-diff does not strip).
  const pci = files[PCI]!;
  const anchor = 'static bool pci_bridge_d3_force;';
  const added = `${anchor}\n\nstatic int __init pci_hostile_setup(char *str)\n{\n\treturn 1;\n}\n__setup("pci_hostile=", pci_hostile_setup);`;
  const good = makeDiff([{ path: PCI, before: pci, after: edit(pci, anchor, added) }]);
  const bare = good.replace(/^diff --git .*\n(?:index .*\n)?/m, '');
  const forms: [string, string][] = [
    ['PCI: Parameter (git)', good],
    ['PCI: Parameter (no prefix)', good.replace(/ [ab]\/drivers/g, ' drivers')],
    [
      'PCI: Parameter (traditional, dated)',
      bare
        .replace(/^(--- a\/\S+)$/m, '$1 2025-01-10 12:00:00')
        .replace(/^(\+\+\+ b\/\S+)$/m, '$1 2025-01-10 12:00:00'),
    ],
    [
      'PCI: Parameter (quilt)',
      bare.replace(/^--- a\//m, '--- linux.orig/').replace(/^\+\+\+ b\//m, '+++ linux/'),
    ],
  ];
  const mbox = join(tmp.path, 'forms.mbox');
  writeFileSync(mbox, forms.map(([s, d], i) => mail(20 + i, s, d)).join(''));
  const r = await runCli(['review', mbox, '--tree', tree, '--json']);
  assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.err}`);
  const report = JSON.parse(r.out) as ReviewReport;
  const seen = forms.map(([title]) => {
    const s = report.series.find((x) => x.title === title);
    assert.ok(s, `${title} is reported`);
    const p = s.patches[0]!;
    assert.equal(p.apply?.status, 'applied', `${title}: ${p.apply?.detail}`);
    const f = p.findings.find((x) => x.rule === 'new-kernel-parameter');
    assert.ok(f, `${title}: new-kernel-parameter fires`);
    return [f.file, f.line, f.headLine];
  });
  const line =
    edit(pci, anchor, added).split('\n').indexOf('__setup("pci_hostile=", pci_hostile_setup);') + 1;
  for (const [i, s] of seen.entries()) assert.deepEqual(s, [PCI, line, line], forms[i]![0]);
});
