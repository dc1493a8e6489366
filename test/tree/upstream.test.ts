// A patch that does not apply, found upstream (bot/tree/upstream.ts): with
// history, by patch-id and by subject (not when reverted since); always, by its
// added lines in the tree, placed near code of its own name; and a patch that
// is not upstream stays a conflict. On the fixture tree with commits made here;
// the same cases on real kernel code are in test/review/issue10.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { applySeries } from '../../bot/tree/apply.js';
import { gitRepo } from '../../bot/tree/git.js';
import { buildFixtureTree, fixtureTreeFiles } from '../../fixtures/kernel-tree/build.js';
import { commitOnBranch, edit, makeDiff, tempDir } from './helpers.js';

const PCI = 'drivers/pci/pci.c';
const pci = fixtureTreeFiles()[PCI]!;
const SUBJECT = 'PCI: Warn when the default alignment is not a power of two';
const RETURN0 = '{\n\treturn 0;\n}';
/** What the upstream commit adds to pcibios_default_alignment(). */
const CHECKED =
  '{\n\tresource_size_t align = 0;\n\n\tWARN_ON_ONCE(align & (align - 1));\n\treturn align;\n}';
/** The comment above it, reworded by a later upstream commit (the patch's context). */
const COMMENT = '/* Value of pci=resource_alignment=, also exposed in sysfs */';
const REWORDED = '/* pci=resource_alignment=, also in sysfs */';

const work = tempDir('pcibot-upstream-test-');
let tree = '';
let base = '';
before(async () => {
  ({ path: tree, commit: base } = await buildFixtureTree(join(work.path, 'tree')));
  assert.ok(pci.includes(RETURN0) && pci.includes(COMMENT));
});
after(() => {
  gitRepo(tree).close();
  work.cleanup();
});

async function applyOn(branch: string, diff: string, subject = SUBJECT) {
  const r = await applySeries({
    tree,
    branches: [branch],
    patches: [{ index: 1, messageId: 'm', diff, subject }],
  });
  return r.patches[0]!;
}

describe('already upstream, by history', () => {
  // The mail: the upstream commit's change, written on a tree before the comment was
  // reworded, which the repository does not have (no 3-way merge).
  const mail = makeDiff([{ path: PCI, before: pci, after: edit(pci, RETURN0, CHECKED) }]).replace(
    /^index [0-9a-f]+\.\./m,
    'index 0123456789ab..',
  );
  let applied = '';
  let reworded = '';

  before(() => {
    applied = commitOnBranch(tree, base, 'up/one', { [PCI]: edit(pci, RETURN0, CHECKED) }, SUBJECT);
    const after = edit(edit(pci, RETURN0, CHECKED), COMMENT, REWORDED);
    reworded = commitOnBranch(tree, applied, 'up/one', { [PCI]: after }, 'PCI: Reword a comment');
    commitOnBranch(
      tree,
      reworded,
      'up/reverted',
      { [PCI]: edit(pci, COMMENT, REWORDED) },
      `Revert "${SUBJECT}"`,
    );
  });

  test('the same patch-id on the branch: already upstream as that commit', async () => {
    const p = await applyOn('up/one', mail);
    assert.equal(p.status, 'already-applied', p.detail);
    assert.equal(p.upstream?.how, 'patch-id');
    assert.equal(p.upstream?.commit, applied.slice(0, 12));
    assert.match(
      p.detail!,
      new RegExp(
        `^already upstream as ${applied.slice(0, 12)} \\("${SUBJECT}"\\): same patch-id; the patch itself does not apply here \\(${PCI}:\\d+: hunk #1`,
      ),
    );
  });

  test('the same subject with another diff: already upstream, the diff differs', async () => {
    const other = makeDiff([
      {
        path: PCI,
        before: pci,
        after: edit(pci, RETURN0, CHECKED.replace('WARN_ON_ONCE', 'WARN_ON')),
      },
    ]);
    const p = await applyOn('up/one', other);
    assert.equal(p.status, 'already-applied');
    assert.equal(p.upstream?.how, 'subject');
    assert.match(p.upstream!.text, /same subject, the diff differs from the patch's/);
    const unrelated = await applyOn('up/one', other, 'PCI: Something else entirely');
    assert.equal(unrelated.status, 'conflict', 'another subject, another diff: a conflict');
  });

  test('reverted since: not upstream, a conflict', async () => {
    const p = await applyOn('up/reverted', mail);
    assert.equal(p.status, 'conflict');
    assert.equal(p.upstream, undefined);
  });
});

describe('already upstream, by content: what must stay a conflict', () => {
  test('a new function copied from an existing one is not "partly present"', async () => {
    // The author's tree words the line after the copy differently, so the patch does not apply.
    const lines = pci.split('\n');
    const def = lines.findIndex((l) => l.startsWith('static void pci_request_resource_alignment('));
    const end = lines.findIndex((l, i) => i > def && l === '}');
    const body = lines.slice(def, end + 1);
    const copy = [
      '',
      body[0]!.replace('pci_request_resource_alignment(', 'pci_request_resource_alignment_copy('),
      ...body.slice(1),
    ];
    const theirs = [
      ...lines.slice(0, end + 1),
      '/* the author words this differently */',
      ...lines.slice(end + 1),
    ];
    const mine = [
      ...lines.slice(0, end + 1),
      ...copy,
      '/* the author words this differently */',
      ...lines.slice(end + 1),
    ];
    const diff = makeDiff([{ path: PCI, before: theirs.join('\n'), after: mine.join('\n') }]);
    const p = await applyOn('master', diff, 'PCI: Add a copy');
    assert.equal(p.status, 'conflict');
    assert.equal(p.upstream, undefined, p.detail);
  });
});

describe('already upstream, by content: shapes of real code', () => {
  // As in a stable backport of "vfio/pci: Disable qword access to the PCI ROM bar" and
  // "vfio/pci: Add driver_managed_dma to the new vfio_pci drivers" on 6.12: the change is
  // in the tree, but the context around it was reworded, so the patch (and its reverse)
  // does not apply. The function's name sits at column 0 under its return type (the
  // kernel's style for long signatures), and the driver struct is followed by the next
  // function, whose definition is in the hunk's trailing context.
  const WINDOW = 'drivers/pci/pcibot-window.c';
  const file = (opts: { ioaddr: string; call: string; driver: string[] }) =>
    [
      '// SPDX-License-Identifier: GPL-2.0',
      '/* Reads and writes through a window (generated by the pcibot tests) */',
      '#include <linux/pci.h>',
      '',
      'static ssize_t',
      'pcibot_window_read(struct pcibot_window *win, char __user *buf,',
      '\t\t   size_t count, loff_t pos)',
      '{',
      '\tssize_t ret = 0;',
      '',
      '\tif (!win->mapped)',
      `\t\tret = pcibot_window_do_rw(win, false, ${opts.ioaddr},`,
      '\t\t\t\t\t  buf, pos, count,',
      `\t\t\t\t\t  ${opts.call});`,
      '\telse',
      '\t\tret = pcibot_window_copy(win, buf, pos, count);',
      '',
      '\treturn ret;',
      '}',
      '',
      'static struct pci_driver pcibot_window_driver = {',
      '\t.name = "pcibot-window",',
      ...opts.driver,
      '};',
      '',
      'static void __exit pcibot_window_cleanup(void)',
      '{',
      '\tpci_unregister_driver(&pcibot_window_driver);',
      '}',
      '',
    ].join('\n');
  const driver = ['\t.probe = pcibot_window_probe,', '\t.remove = pcibot_window_remove,'];
  const DMA = '\t.driver_managed_dma = true,';
  const ERR = '\t.err_handler = &pcibot_window_err_handlers,';
  const WIDE = '0, 0, false, PCIBOT_WIDTH_8';
  // The tree: the change backported, the context reworded on the way.
  const backported = file({ ioaddr: 'win->ioaddr', call: WIDE, driver: [...driver, DMA] });
  // The mail, written on the author's tree.
  const theirs = file({ ioaddr: 'win->mem.ioaddr', call: '0, 0, false', driver: [...driver, ERR] });
  const mine = file({
    ioaddr: 'win->mem.ioaddr',
    call: WIDE,
    driver: [...driver, ERR, DMA],
  });
  const mail = makeDiff([{ path: WINDOW, before: theirs, after: mine }]).replace(
    /^index [0-9a-f]+\.\./m,
    'index 0123456789ab..',
  );

  before(() => {
    commitOnBranch(tree, base, 'up/backport', { [WINDOW]: backported }, 'PCI: Add a window driver');
  });

  test('a function named at column 0, a struct before the next function: likely already upstream', async () => {
    const p = await applyOn('up/backport', mail, 'PCI: window: Limit the access width');
    const lines = backported.split('\n');
    const at = (text: string) => lines.findIndex((l) => l.includes(text)) + 1;
    assert.equal(p.status, 'already-applied', p.detail);
    assert.equal(p.upstream?.how, 'content');
    assert.match(
      p.detail!,
      new RegExp(
        `^likely already upstream: added lines found at ${WINDOW.replace(/\./g, '\\.')}:${at(WIDE)},${at(DMA.trim())} \\(pcibot_window_read\\(\\)\\), the lines it removes gone; the patch itself does not apply here`,
      ),
    );
  });
});
