// applySeries on the fixture kernel tree: every status, the base choice, the
// overlays, and that the user's checkout is never touched.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { applySeries, sweepStaleTempDirs } from '../../bot/tree/apply.js';
import { measureApplyFloor } from '../../scripts/bench/apply-floor.js';
import { openTreeReader } from '../../bot/tree/reader.js';
import { gitRepo } from '../../bot/tree/git.js';
import { decodeObjects, overlayBlob } from '../../bot/tree/objects.js';
import { buildFixtureTree, fixtureTreeFiles } from '../../fixtures/kernel-tree/build.js';
import { commitOnBranch, edit, makeDiff, runGitSync, tempDir } from './helpers.js';

// A private TMPDIR: applySeries' temporary files must all be gone afterwards,
// and no other test process writes here.
const privateTmp = tempDir('pcibot-tree-apply-test-');
process.env.TMPDIR = join(privateTmp.path, 'tmp');
mkdirSync(process.env.TMPDIR);
const leftovers = () =>
  readdirSync(process.env.TMPDIR!).filter((n) => n.startsWith('pcibot-apply-'));

const files = fixtureTreeFiles();
const PCI = 'drivers/pci/pci.c';
const pci = files[PCI]!;
const DEFAULT_ALIGN = 'resource_size_t __weak pcibios_default_alignment(void)\n{\n\treturn 0;\n}';
const NEW_ALIGN =
  'resource_size_t __weak pcibios_default_alignment(void)\n{\n\treturn max(SZ_4K, PAGE_SIZE);\n}';
/** 1-based line of the first line of `needle` in `text`. */
const lineOf = (text: string, needle: string) =>
  text.slice(0, text.indexOf(needle)).split('\n').length;

let tree: string;
let base: string;

before(async () => {
  const built = await buildFixtureTree(join(privateTmp.path, 'tree'));
  tree = built.path;
  base = built.commit;
});
after(() => {
  gitRepo(tree).close();
  privateTmp.cleanup();
});

async function readAt(commit: string, overlay: Record<string, string | null>, path: string) {
  return openTreeReader(tree, commit, overlay).read(path);
}

/** What a user would notice changing in their checkout. */
function checkoutState(repo: string) {
  const g = (args: string[]) => runGitSync(repo, args);
  const index = join(repo, '.git', 'index');
  return {
    status: runGitSync(repo, [
      '--no-optional-locks',
      '-c',
      'core.fsmonitor=false',
      'status',
      '--porcelain',
    ]),
    head: g(['rev-parse', 'HEAD']),
    symbolicHead: g(['symbolic-ref', 'HEAD']),
    refs: g(['show-ref']),
    indexHash: createHash('sha256').update(readFileSync(index)).digest('hex'),
    indexMtime: statSync(index).mtimeMs,
    config: readFileSync(join(repo, '.git', 'config'), 'utf8'),
    workFile: readFileSync(join(repo, PCI), 'utf8'),
  };
}

describe('applySeries on the fixture tree', () => {
  test('a clean patch applies and its overlay holds the new content', async () => {
    const after1 = edit(pci, DEFAULT_ALIGN, NEW_ALIGN);
    const diff = makeDiff([{ path: PCI, before: pci, after: after1 }]);
    const r = await applySeries({ tree, patches: [{ index: 1, messageId: 'm1', diff }] });
    assert.equal(r.tree, tree);
    assert.deepEqual(r.base, { commit: base, how: 'head' });
    assert.equal(r.patches.length, 1);
    assert.equal(r.patches[0]!.status, 'applied');
    assert.deepEqual(r.patches[0]!.files, [PCI]);
    assert.deepEqual(Object.keys(r.overlay), [PCI]);
    assert.deepEqual(r.overlays, [r.overlay]);
    assert.equal(await readAt(base, r.overlay, PCI), after1);
    assert.equal(await readAt(base, {}, PCI), pci);
  });

  test('patches apply cumulatively, in index order, with one overlay per patch', async () => {
    const s1 = edit(pci, DEFAULT_ALIGN, NEW_ALIGN);
    const s2 = edit(
      s1,
      'return max(SZ_4K, PAGE_SIZE);',
      'return max_t(resource_size_t, SZ_4K, PAGE_SIZE);',
    );
    const core = 'drivers/vfio/pci/vfio_pci_core.c';
    const c1 = edit(files[core]!, '"vfio sub-page reserved"', '"vfio sub-page hole"');
    const d1 = makeDiff([{ path: PCI, before: pci, after: s1 }]);
    const d2 = makeDiff([{ path: PCI, before: s1, after: s2 }]);
    const d3 = makeDiff([{ path: core, before: files[core], after: c1 }]);
    // Given out of order: applySeries orders by index.
    const r = await applySeries({
      tree,
      patches: [
        { index: 3, messageId: 'm3', diff: d3 },
        { index: 1, messageId: 'm1', diff: d1 },
        { index: 2, messageId: 'm2', diff: d2 },
      ],
    });
    assert.deepEqual(
      r.patches.map((p) => [p.index, p.messageId, p.status]),
      [
        [1, 'm1', 'applied'],
        [2, 'm2', 'applied'],
        [3, 'm3', 'applied'],
      ],
    );
    assert.equal(r.overlays.length, 3);
    assert.equal(await readAt(base, r.overlays[0]!, PCI), s1);
    assert.equal(await readAt(base, r.overlays[1]!, PCI), s2);
    assert.equal(r.overlays[1]![core], undefined);
    assert.equal(await readAt(base, r.overlays[2]!, core), c1);
    assert.deepEqual(r.overlay, r.overlays[2]);
  });

  test('a patch whose change is already in the base is already-applied', async () => {
    // The patch goes from an older state (return 1) to exactly what the tree has.
    const older = edit(pci, DEFAULT_ALIGN, DEFAULT_ALIGN.replace('return 0;', 'return 1;'));
    const diff = makeDiff([{ path: PCI, before: older, after: pci }]);
    const r = await applySeries({ tree, patches: [{ index: 1, messageId: 'm1', diff }] });
    assert.equal(r.patches[0]!.status, 'already-applied');
    assert.match(r.patches[0]!.detail!, /reverse .* applies cleanly/);
    assert.deepEqual(r.overlay, {});
  });

  test('a conflict names the file, the hunk, the line and what did not match', async () => {
    // Written against a tree where the default alignment returned 1.
    const theirs = edit(pci, DEFAULT_ALIGN, DEFAULT_ALIGN.replace('return 0;', 'return 1;'));
    const diff = makeDiff([
      {
        path: PCI,
        before: theirs,
        after: edit(theirs, '{\n\treturn 1;\n}', '{\n\treturn SZ_4K;\n}'),
      },
    ]);
    const header = diff.split('\n').find((l) => l.startsWith('@@'))!;
    const hunkStart = Number(/^@@ -(\d+)/.exec(header)![1]);
    const returnLine = lineOf(pci, DEFAULT_ALIGN) + 2;
    const r = await applySeries({ tree, patches: [{ index: 1, messageId: 'm1', diff }] });
    const p = r.patches[0]!;
    assert.equal(p.status, 'conflict');
    assert.equal(p.conflicts!.length, 1);
    const c = p.conflicts![0]!;
    assert.equal(c.file, PCI);
    assert.equal(c.hunk, header);
    assert.equal(c.line, returnLine, 'the line of the tree that did not match');
    assert.ok(returnLine !== hunkStart);
    assert.match(
      c.reason,
      new RegExp(
        `context matches best at ${returnLine - 3}-${returnLine - 1} \\(3 of 7 lines, where the header says\\); ` +
          `expected "\\\\treturn 1;" at ${returnLine}, found "\\\\treturn 0;"$`,
      ),
    );
    // The preimage blob of the index line is not in the repository: no 3-way.
    assert.match(
      p.detail!,
      /no 3-way merge: blob [0-9a-f]+ \(drivers\/pci\/pci.c before the patch\) is not in the tree/,
    );
    assert.deepEqual(r.overlay, {});
  });

  test('after a conflict later patches are still tried; dependent ones say so', async () => {
    const theirs = edit(
      pci,
      'static bool pci_bridge_d3_force;',
      'static bool pci_bridge_d3_force = true;',
    );
    const bad = makeDiff([
      { path: PCI, before: theirs, after: edit(theirs, '= true;', '= false;') },
    ]);
    const s2 = edit(theirs, '= true;', '= false; /* again */');
    const dependent = makeDiff([
      { path: PCI, before: edit(theirs, '= true;', '= false;'), after: s2 },
    ]);
    const core = 'drivers/vfio/pci/vfio_pci_core.c';
    const c1 = edit(
      files[core]!,
      'I/O port BARs are always trapped',
      'I/O port BARs are never mapped',
    );
    const independent = makeDiff([{ path: core, before: files[core], after: c1 }]);
    const r = await applySeries({
      tree,
      patches: [
        { index: 1, messageId: 'm1', diff: bad },
        { index: 2, messageId: 'm2', diff: dependent },
        { index: 3, messageId: 'm3', diff: independent, total: 3 },
      ],
    });
    assert.deepEqual(
      r.patches.map((p) => p.status),
      ['conflict', 'conflict', 'applied'],
    );
    assert.doesNotMatch(r.patches[0]!.detail!, /without/);
    // Patch 2 was written on what patch 1 makes of pci.c (its preimage blob is patch 1's result).
    assert.match(
      r.patches[1]!.detail!,
      /; tried without 1\/3, which did not apply; likely built on 1\/3: its drivers\/pci\/pci.c \(index [0-9a-f]+\) is what 1\/3 makes of that file$/,
    );
    assert.deepEqual([r.patches[1]!.without, r.patches[1]!.builtOn], [[1], [1]]);
    assert.equal(r.patches[2]!.detail, 'without 1-2/3, which did not apply');
    assert.deepEqual([r.patches[2]!.without, r.patches[2]!.builtOn], [[1, 2], undefined]);
    assert.deepEqual(r.overlays[0], {});
    assert.deepEqual(r.overlays[1], {});
    assert.deepEqual(Object.keys(r.overlays[2]!), [core]);
    assert.equal(await readAt(base, r.overlay, core), c1);
  });

  test('malformed: no diff, corrupt diffs and hostile paths, refused before git sees them', async () => {
    const good = makeDiff([{ path: PCI, before: pci, after: edit(pci, DEFAULT_ALIGN, NEW_ALIGN) }]);
    // Claim 9 old lines where the hunk has 7: git stops with "corrupt patch".
    const corrupt = good.replace(/^@@ -(\d+),7 \+(\d+),7 @@/m, '@@ -$1,9 +$2,9 @@');
    assert.notEqual(corrupt, good);
    const hostile = (path: string) =>
      `diff --git a/${path} b/${path}\n--- a/${path}\n+++ b/${path}\n@@ -1 +1 @@\n-a\n+b\n`;
    const renameIntoGit =
      'diff --git a/Makefile b/.git/hooks/pre-commit\nsimilarity index 100%\n' +
      'rename from Makefile\nrename to .git/hooks/pre-commit\n';
    const configBefore = readFileSync(join(tree, '.git', 'config'), 'utf8');
    const r = await applySeries({
      tree,
      patches: [
        { index: 1, messageId: 'none', diff: null },
        { index: 2, messageId: 'empty', diff: '  \n' },
        { index: 3, messageId: 'corrupt', diff: corrupt },
        { index: 4, messageId: 'dotdot', diff: hostile('../../etc/passwd') },
        { index: 5, messageId: 'gitdir', diff: hostile('.git/config') },
        {
          index: 6,
          messageId: 'absolute',
          diff: '--- /etc/passwd\n+++ /etc/passwd\n@@ -1 +1 @@\n-a\n+b\n',
        },
        { index: 7, messageId: 'rename', diff: renameIntoGit },
        { index: 8, messageId: 'prose', diff: 'just some words, no headers\n' },
        { index: 9, messageId: 'good', diff: good },
      ],
    });
    const by = Object.fromEntries(r.patches.map((p) => [p.messageId, p]));
    for (const id of [
      'none',
      'empty',
      'corrupt',
      'dotdot',
      'gitdir',
      'absolute',
      'rename',
      'prose',
    ]) {
      assert.equal(by[id]!.status, 'malformed', id);
    }
    assert.match(by.none!.detail!, /no diff/);
    assert.match(by.empty!.detail!, /no diff/);
    assert.match(by.corrupt!.detail!, /corrupt patch at line \d+/);
    assert.match(by.dotdot!.detail!, /refused path "\.\.\/\.\.\/etc\/passwd" \("\.\." component\)/);
    assert.match(by.gitdir!.detail!, /refused path "\.git\/config" \(\.git component\)/);
    assert.match(by.absolute!.detail!, /refused path "\/etc\/passwd" \(absolute path\)/);
    assert.match(by.rename!.detail!, /refused path "\.git\/hooks\/pre-commit"/);
    assert.match(by.prose!.detail!, /no file headers/);
    assert.equal(by.good!.status, 'applied');
    assert.deepEqual(Object.keys(r.overlay), [PCI]);
    assert.equal(readFileSync(join(tree, '.git', 'config'), 'utf8'), configBefore);
    assert.equal(existsSync(join(tree, '.git', 'hooks', 'pre-commit')), false);
  });

  test('new, deleted, renamed and mode-changed files, and a binary patch', async () => {
    const blob = Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 37) % 256));
    const blob2 = Buffer.from(blob.map((b, i) => (i % 50 === 0 ? 255 - b : b)));
    const d1 = makeDiff([
      {
        path: 'drivers/pci/pci-align.c',
        after: '// SPDX-License-Identifier: GPL-2.0\nint pci_align_all;\n',
      },
      { path: 'net/core/dev.c', before: files['net/core/dev.c'], after: null },
      { path: 'drivers/pci/Kconfig', before: files['drivers/pci/Kconfig'], after: null },
      { path: 'drivers/pci/Kconfig.align', after: files['drivers/pci/Kconfig'] },
      {
        path: 'drivers/pci/Makefile',
        before: files['drivers/pci/Makefile'],
        after: files['drivers/pci/Makefile'],
        executableAfter: true,
      },
      { path: 'firmware/pci/test.bin', after: blob },
    ]);
    assert.match(d1, /^rename from drivers\/pci\/Kconfig$/m);
    assert.match(d1, /^new mode 100755$/m);
    assert.match(d1, /^GIT binary patch$/m);
    const d2 = makeDiff([{ path: 'firmware/pci/test.bin', before: blob, after: blob2 }]);
    const r = await applySeries({
      tree,
      patches: [
        { index: 1, messageId: 'm1', diff: d1 },
        { index: 2, messageId: 'm2', diff: d2 },
      ],
    });
    assert.deepEqual(
      r.patches.map((p) => p.status),
      ['applied', 'applied'],
    );
    const o = r.overlay;
    assert.equal(o['net/core/dev.c'], null);
    assert.equal(o['drivers/pci/Kconfig'], null);
    assert.equal(typeof o['drivers/pci/Kconfig.align'], 'string');
    assert.equal(typeof o['drivers/pci/pci-align.c'], 'string');
    // A pure mode change keeps the blob id but is listed as changed.
    const baseMakefile = await gitRepo(tree).pathOid(base, 'drivers/pci/Makefile');
    assert.equal(o['drivers/pci/Makefile'], baseMakefile);
    const reader = openTreeReader(tree, base, o);
    assert.equal(await reader.read('drivers/pci/Kconfig.align'), files['drivers/pci/Kconfig']);
    assert.equal(await reader.exists('net/core/dev.c'), false);
    assert.equal(await reader.exists('drivers/pci/Kconfig'), false);
    // The blobs applying made are not in the tree's repository: they come with the result,
    // held for this process and carried in `objects` for any other.
    const bin = o['firmware/pci/test.bin']!;
    assert.equal(await gitRepo(tree).readBlob(bin), null);
    assert.ok(overlayBlob(o, bin)!.equals(blob2));
    assert.ok(overlayBlob(r.overlays[0]!, r.overlays[0]!['firmware/pci/test.bin']!)!.equals(blob));
    assert.ok(decodeObjects(r.objects!).get(bin)!.equals(blob2));
    assert.equal(r.modes!['drivers/pci/Makefile'], '100755');
    assert.equal(r.modes!['drivers/pci/pci-align.c'], '100644');
  });

  test('a file where the tree has a directory, or below a file, is a conflict', async () => {
    const newFile = (p: string) =>
      `diff --git a/${p} b/${p}\nnew file mode 100644\nindex 0000000..ce01362\n` +
      `--- /dev/null\n+++ b/${p}\n@@ -0,0 +1 @@\n+hello\n`;
    const r = await applySeries({
      tree,
      patches: [
        { index: 1, messageId: 'dir', diff: newFile('drivers/pci/pcie') },
        { index: 2, messageId: 'below-file', diff: newFile('drivers/pci/pci.c/x.c') },
      ],
    });
    assert.deepEqual(
      r.patches.map((p) => p.status),
      ['conflict', 'conflict'],
    );
    assert.deepEqual(r.patches[0]!.conflicts, [
      {
        file: 'drivers/pci/pcie',
        reason: 'the patch writes a file where the tree has a directory',
      },
    ]);
    assert.equal(r.patches[1]!.conflicts![0]!.file, 'drivers/pci/pci.c/x.c');
    assert.match(r.patches[1]!.conflicts![0]!.reason, /appears as both a file and as a directory/);
    assert.deepEqual(r.overlay, {});
  });

  test('CRLF-mangled patches are converted back to LF and apply; whitespace errors do not fail', async () => {
    const after1 = edit(pci, DEFAULT_ALIGN, NEW_ALIGN);
    const crlf = makeDiff([{ path: PCI, before: pci, after: after1 }]).replace(/\n/g, '\r\n');
    const core = 'drivers/vfio/pci/vfio_pci_core.c';
    const messy = edit(
      files[core]!,
      '#include <linux/kernel.h>\n',
      '#include <linux/kernel.h>   \n \t\n',
    );
    const ws = makeDiff([{ path: core, before: files[core], after: messy }]);
    assert.match(ws, / {3}$/m);
    const r = await applySeries({
      tree,
      patches: [
        { index: 1, messageId: 'crlf', diff: crlf },
        { index: 2, messageId: 'ws', diff: ws },
      ],
    });
    assert.equal(r.patches[0]!.status, 'applied');
    assert.match(r.patches[0]!.detail!, /CRLF line endings converted to LF/);
    assert.equal(r.patches[1]!.status, 'applied');
    assert.equal(await readAt(base, r.overlay, PCI), after1);
    assert.equal(await readAt(base, r.overlay, core), messy);
  });
});

describe('applySeries on something that is not a tree', () => {
  test('a missing directory or a plain directory is a clear error', async () => {
    const patches = [{ index: 1, messageId: 'm', diff: null }];
    await assert.rejects(
      applySeries({ tree: join(privateTmp.path, 'nowhere'), patches }),
      /nowhere is not a git repository: no such directory/,
    );
    const plain = join(privateTmp.path, 'plain');
    mkdirSync(plain);
    await assert.rejects(applySeries({ tree: plain, patches }), /plain is not a git repository/);
    assert.deepEqual(leftovers(), []);
  });
});

describe('base selection and 3-way', () => {
  let older: string;
  let next: string;
  // Three lines below the default alignment's return: inside the hunk's context.
  const pciNext = edit(
    pci,
    '/* Value of pci=resource_alignment=, also exposed in sysfs */',
    '/* The pci=resource_alignment= string (also in sysfs) */',
  );

  before(() => {
    older = base;
    // pci/next moves on: a comment just below the default alignment changes.
    next = commitOnBranch(tree, base, 'pci/next', { [PCI]: pciNext }, 'PCI: reword a comment');
  });

  test('base-commit in the tree is used; a patch on the old base applies there', async () => {
    const diff = makeDiff([{ path: PCI, before: pci, after: edit(pci, DEFAULT_ALIGN, NEW_ALIGN) }]);
    const r = await applySeries({
      tree,
      baseCommit: older,
      branches: ['pci/next'],
      patches: [{ index: 1, messageId: 'm1', diff }],
    });
    assert.deepEqual(r.base, { commit: older, how: 'base-commit' });
    assert.equal(r.patches[0]!.status, 'applied');
  });

  test('an abbreviated base-commit works too', async () => {
    const r = await applySeries({ tree, baseCommit: older.slice(0, 12), patches: [] });
    assert.deepEqual(r.base, { commit: older, how: 'base-commit' });
  });

  test('base-commit missing: the first existing branch, with a note', async () => {
    const r = await applySeries({
      tree,
      baseCommit: '1a2b3c4d5e6f',
      branches: ['vfio/next', 'pci/next', 'master'],
      patches: [],
    });
    assert.equal(r.base.how, 'branch');
    assert.equal(r.base.ref, 'pci/next');
    assert.equal(r.base.commit, next);
    assert.equal(
      r.base.note,
      'base-commit 1a2b3c4d5e6f is not in the tree; branch vfio/next not in the tree; used pci/next',
    );
  });

  test('no base-commit and no branch: HEAD, with a note when branches were missing', async () => {
    const plain = await applySeries({ tree, patches: [] });
    assert.deepEqual(plain.base, { commit: base, how: 'head' });
    const r = await applySeries({ tree, branches: ['nope'], patches: [] });
    assert.deepEqual(r.base, {
      commit: base,
      how: 'head',
      note: 'branch nope not in the tree; used HEAD',
    });
    const bogus = await applySeries({ tree, baseCommit: '--upload-pack=x', patches: [] });
    assert.match(bogus.base.note!, /is not a commit id; used HEAD/);
  });

  test('a patch made on the old base applies to pci/next by 3-way merge', async () => {
    const diff = makeDiff([{ path: PCI, before: pci, after: edit(pci, DEFAULT_ALIGN, NEW_ALIGN) }]);
    const r = await applySeries({
      tree,
      branches: ['pci/next'],
      patches: [{ index: 1, messageId: 'm1', diff }],
    });
    assert.equal(r.base.commit, next);
    assert.equal(r.patches[0]!.status, 'applied-3way');
    assert.equal(await readAt(next, r.overlay, PCI), edit(pciNext, DEFAULT_ALIGN, NEW_ALIGN));
  });

  test('when both sides changed the same line the 3-way merge conflicts and nothing is kept', async () => {
    const ours = edit(pci, '{\n\treturn 0;\n}', '{\n\treturn SZ_64K;\n}');
    const other = commitOnBranch(tree, base, 'pci/other', { [PCI]: ours });
    const diff = makeDiff([{ path: PCI, before: pci, after: edit(pci, DEFAULT_ALIGN, NEW_ALIGN) }]);
    const later = makeDiff([
      { path: 'drivers/pci/probe.c', before: files['drivers/pci/probe.c'], after: null },
    ]);
    const r = await applySeries({
      tree,
      branches: ['pci/other'],
      patches: [
        { index: 1, messageId: 'm1', diff },
        { index: 2, messageId: 'm2', diff: later },
      ],
    });
    assert.equal(r.base.commit, other);
    const p = r.patches[0]!;
    assert.equal(p.status, 'conflict');
    assert.match(p.detail!, /3-way merge left conflicts in drivers\/pci\/pci.c/);
    assert.match(
      p.conflicts![0]!.reason,
      /expected "\\treturn 0;" at \d+, found "\\treturn SZ_64K;"/,
    );
    // The conflicted 3-way state was dropped: the next patch applies on a clean index.
    assert.equal(r.patches[1]!.status, 'applied');
    assert.deepEqual(r.overlay, { 'drivers/pci/probe.c': null });
  });

  test('without the preimage blob the same patch is a conflict, not a 3-way merge', async () => {
    const diff = makeDiff([
      { path: PCI, before: pci, after: edit(pci, DEFAULT_ALIGN, NEW_ALIGN) },
    ]).replace(/^index [0-9a-f]+\.\./m, 'index 0123456789abcdef0123456789abcdef01234567..');
    const r = await applySeries({
      tree,
      branches: ['pci/next'],
      patches: [{ index: 1, messageId: 'm1', diff }],
    });
    const p = r.patches[0]!;
    assert.equal(p.status, 'conflict');
    assert.equal(p.conflicts![0]!.file, PCI);
    assert.match(p.conflicts![0]!.reason, /expected "\/\* Value of pci=resource_alignment=/);
    assert.match(p.detail!, /no 3-way merge: blob 0123456789abcdef/);
  });
});

describe('the user checkout is never touched', () => {
  test('status, HEAD, refs, index and config are unchanged and no temp files remain', async () => {
    const stateBefore = checkoutState(tree);
    const theirs = edit(pci, 'return 0;', 'return 7;');
    const series = [
      makeDiff([{ path: PCI, before: pci, after: edit(pci, DEFAULT_ALIGN, NEW_ALIGN) }]),
      makeDiff([{ path: PCI, before: theirs, after: edit(theirs, 'return 7;', 'return 8;') }]),
      '--- a/../x\n+++ b/../x\n@@ -1 +1 @@\n-a\n+b\n',
      makeDiff([{ path: 'drivers/pci/new.c', after: 'int x;\n' }]),
    ];
    const r = await applySeries({
      tree,
      patches: series.map((diff, i) => ({ index: i + 1, messageId: `m${i + 1}`, diff })),
    });
    assert.deepEqual(
      r.patches.map((p) => p.status),
      ['applied', 'conflict', 'malformed', 'applied'],
    );
    assert.deepEqual(checkoutState(tree), stateBefore);
    assert.equal(stateBefore.status, '');
    assert.deepEqual(leftovers(), []);
  });

  test('temporary files are removed when applySeries fails half way', async () => {
    const diff = makeDiff([{ path: PCI, before: pci, after: edit(pci, DEFAULT_ALIGN, NEW_ALIGN) }]);
    for (const when of ['index-ready', 'patch-applied'] as const) {
      let seen = '';
      await assert.rejects(
        applySeries(
          { tree, patches: [{ index: 1, messageId: 'm1', diff }] },
          {
            stage: (name, { tempDir: dir }) => {
              if (name !== when) return;
              seen = dir;
              assert.ok(
                existsSync(join(dir, 'index')),
                'the temporary index exists while applying',
              );
              throw new Error(`forced failure at ${name}`);
            },
          },
        ),
        new RegExp(`forced failure at ${when}`),
      );
      assert.ok(seen.startsWith(process.env.TMPDIR!), when);
      assert.equal(existsSync(seen), false, `${when}: ${seen} removed`);
    }
    assert.deepEqual(leftovers(), []);
  });

  test('measureApplyFloor applies in its own temporary index and cleans up', async () => {
    const stateBefore = checkoutState(tree);
    const diff = makeDiff([{ path: PCI, before: pci, after: edit(pci, DEFAULT_ALIGN, NEW_ALIGN) }]);
    for (const fullIndex of [false, true]) {
      const floor = await measureApplyFloor(tree, [diff, diff], { fullIndex });
      assert.ok(floor.ms > 0 && floor.ms >= floor.setupMs && floor.ms >= floor.applyMs);
    }
    assert.deepEqual(checkoutState(tree), stateBefore);
    assert.deepEqual(
      readdirSync(process.env.TMPDIR!).filter((n) => n.startsWith('pcibot-floor-')),
      [],
    );
  });
});

describe('temporary index directories', () => {
  test('those of a process that died (SIGKILL mid-apply) are removed; a live owner keeps its own', async () => {
    const { spawnSync } = await import('node:child_process');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!; // has exited by now
    const tmp = process.env.TMPDIR!;
    mkdirSync(join(tmp, `pcibot-apply-${dead}-stale`));
    mkdirSync(join(tmp, `pcibot-apply-${process.ppid}-live`));
    await sweepStaleTempDirs({ again: true });
    assert.deepEqual(leftovers(), [`pcibot-apply-${process.ppid}-live`]);
    rmSync(join(tmp, `pcibot-apply-${process.ppid}-live`), { recursive: true });
  });
});
