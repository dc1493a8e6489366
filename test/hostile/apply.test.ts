// Hostile patches through applySeries: every trick an attacker on a public list
// can put in a diff gets its per-patch status and reason, nothing throws, and
// nothing is written to the tree. The fixture tree serves the cases that need
// no real file; the real 6.12 tree the ones that do, and after them its .git
// (objects, packs, refs, index, config) and its work tree are compared with a
// listing taken before (sizes, inodes, mtimes, ctimes, hashes).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readlinkSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { applySeries } from '../../bot/tree/apply.js';
import { gitRepo } from '../../bot/tree/git.js';
import { prepareKernelTree } from '../../bot/tree/kernel.js';
import { blobId, decodeObjects, overlayBlob } from '../../bot/tree/objects.js';
import { openTreeReader } from '../../bot/tree/reader.js';
import { materialiseSource } from '../../bot/verify/build.js';
import type { Applied, PatchApplyStatus } from '../../bot/types.js';
import { buildFixtureTree, fixtureTreeFiles } from '../../fixtures/kernel-tree/build.js';
import { edit, makeDiff, tempDir } from '../tree/helpers.js';
import {
  gitBinaryDeltaBomb,
  gitBinaryNewFile,
  gitChange,
  gitNewFile,
  gitSymlink,
  listTree,
  listingDiff,
} from './helpers.js';

const tmp = tempDir('pcibot-hostile-apply-test-');
process.env.TMPDIR = join(tmp.path, 'tmp');
mkdirSync(process.env.TMPDIR);
const leftovers = () => readdirSync(process.env.TMPDIR!).filter((n) => n.startsWith('pcibot-'));

const files = fixtureTreeFiles();
const PCI = 'drivers/pci/pci.c';
let fixture: string;
let fixtureListing: ReturnType<typeof listTree>;

before(async () => {
  fixture = (await buildFixtureTree(join(tmp.path, 'fixture'))).path;
  fixtureListing = listTree(fixture, () => true);
});
after(() => {
  gitRepo(fixture).close();
  tmp.cleanup();
});

/** The first line of a fixture file, for hunks that must match it. */
const line1 = (path: string) => files[path]!.split('\n')[0]!;
/** Lines 2-4 of a fixture file, as hunk context. */
const context = (path: string) =>
  files[path]!.split('\n')
    .slice(1, 4)
    .map((l) => ` ${l}\n`)
    .join('');
/**
 * A change of the first line of a fixture file (applies cleanly), with the names
 * written as given, under a `diff --git` header (`git: true`) or without (traditional).
 */
const change = (path: string, oldName: string, newName: string, git: boolean) =>
  (git ? `diff --git ${oldName.split(/\s/)[0]} ${newName.split(/\s/)[0]}\n` : '') +
  `--- ${oldName}\n+++ ${newName}\n@@ -1,4 +1,4 @@\n-${line1(path)}\n+${line1(path)} /* changed */\n` +
  context(path);

interface Case {
  /** The series: one diff per patch. */
  diffs: string[];
  statuses: PatchApplyStatus[];
  /** Per patch, what the detail must say (or undefined: anything). */
  details?: (RegExp | undefined)[];
  /** Paths the final overlay must hold exactly (when given). */
  overlay?: string[];
}

const CASES: Record<string, Case> = {
  '.. in a git header': {
    diffs: [gitChange('../../etc/passwd')],
    statuses: ['malformed'],
    details: [/refused path "\.\.\/\.\.\/etc\/passwd" \("\.\." component\)/],
  },
  '.. inside a path of a traditional diff': {
    diffs: [`--- a/drivers/../../x\n+++ b/drivers/../../x\n@@ -1 +1 @@\n-a\n+b\n`],
    statuses: ['malformed'],
    details: [/refused path "drivers\/\.\.\/\.\.\/x" \("\.\." component\)/],
  },
  'absolute path, traditional': {
    diffs: ['--- /etc/passwd\n+++ /etc/passwd\n@@ -1 +1 @@\n-a\n+b\n'],
    statuses: ['malformed'],
    details: [/refused path "\/etc\/passwd" \(absolute path\)/],
  },
  'absolute path, git header without prefixes': {
    diffs: [
      'diff --git /etc/passwd /etc/passwd\n--- /etc/passwd\n+++ /etc/passwd\n@@ -1 +1 @@\n-a\n+b\n',
    ],
    statuses: ['malformed'],
    details: [/refused path "\/etc\/passwd" \(absolute path\)/],
  },
  '.git/ paths, any case, any depth': {
    diffs: [
      gitChange('.git/config'),
      gitNewFile('.GIT/hooks/post-checkout', ['#!/bin/sh', 'echo pwned'], '100755'),
      gitNewFile('drivers/.git/config', ['[core]']),
    ],
    statuses: ['malformed', 'malformed', 'malformed'],
    details: [/"\.git\/config" \(\.git component\)/, /\.git component/, /\.git component/],
  },
  'a symlink created and written through in one patch': {
    diffs: [gitSymlink('drivers/pci/link', '../vfio') + gitNewFile('drivers/pci/link/x.c', ['x'])],
    statuses: ['malformed'],
    details: [/beyond a symbolic link/],
  },
  'a symlink created by one patch, written through by the next': {
    diffs: [gitSymlink('drivers/pci/link', '../vfio'), gitNewFile('drivers/pci/link/x.c', ['x'])],
    statuses: ['applied', 'malformed'],
    details: [undefined, /beyond a symbolic link/],
    overlay: ['drivers/pci/link'],
  },
  'symlinks that leave the tree': {
    diffs: [
      gitSymlink('drivers/pci/etc', '/etc'),
      gitSymlink('drivers/pci/up', '../../..'),
      gitSymlink('drivers/pci/gitdir', '../../.git'),
    ],
    statuses: ['malformed', 'malformed', 'malformed'],
    details: [
      /symlink with the absolute target "\/etc"; the patch was not kept/,
      /symlink with the target "\.\.\/\.\.\/\.\.", outside the tree/,
      /symlink with the target "\.\.\/\.\.\/\.git", inside \.git/,
    ],
    overlay: [],
  },
  'mode changes: executable kept, file to symlink and submodules refused': {
    diffs: [
      'diff --git a/drivers/pci/Makefile b/drivers/pci/Makefile\nold mode 100644\nnew mode 100755\n',
      'diff --git a/drivers/pci/Kconfig b/drivers/pci/Kconfig\nold mode 100644\nnew mode 120000\n',
      gitNewFile('drivers/pci/sub', ['Subproject commit ' + '1'.repeat(40)], '160000'),
    ],
    statuses: ['applied', 'malformed', 'malformed'],
    details: [
      undefined,
      /new mode \(120000\) of drivers\/pci\/Kconfig does not match/,
      /submodule/,
    ],
    overlay: ['drivers/pci/Makefile'],
  },
  'renames out of the tree or into .git': {
    diffs: [
      'diff --git a/drivers/pci/Kconfig b/../Kconfig\nsimilarity index 100%\nrename from drivers/pci/Kconfig\nrename to ../Kconfig\n',
      'diff --git a/Makefile b/.git/hooks/pre-commit\nsimilarity index 100%\nrename from Makefile\nrename to .git/hooks/pre-commit\n',
      'diff --git a/drivers/pci/Kconfig b/drivers/pci/Kconfig.old\nsimilarity index 100%\nrename from drivers/pci/Kconfig\nrename to drivers/pci/Kconfig.old\n',
    ],
    statuses: ['malformed', 'malformed', 'applied'],
    details: [/refused path "\.\.\/Kconfig"/, /refused path "\.git\/hooks\/pre-commit"/],
    overlay: ['drivers/pci/Kconfig', 'drivers/pci/Kconfig.old'],
  },
  'newline and NUL in quoted paths': {
    diffs: [
      'diff --git "a/drivers/pci/x\\ny.c" "b/drivers/pci/x\\ny.c"\n' +
        '--- "a/drivers/pci/x\\ny.c"\n+++ "b/drivers/pci/x\\ny.c"\n@@ -1 +1 @@\n-a\n+b\n',
      'diff --git "a/drivers/pci/x\\000y.c" "b/drivers/pci/x\\000y.c"\nnew file mode 100644\n' +
        '--- /dev/null\n+++ "b/drivers/pci/x\\000y.c"\n@@ -0,0 +1 @@\n+x\n',
    ],
    statuses: ['malformed', 'malformed'],
    details: [
      /refused path "drivers\/pci\/x\\ny\.c" \(control character in path\)/,
      /refused path "drivers\/pci\/x\\u0000y\.c" \(control character in path\)/,
    ],
  },
  'git diff --no-prefix': {
    diffs: [
      change(PCI, PCI, PCI, true),
      gitNewFile('drivers/pci/new.c', ['int x;']).replace(/[ab]\/drivers/g, 'drivers'),
    ],
    statuses: ['applied', 'applied'],
    details: [/no a\/ b\/ prefixes .* -p0/, /-p0/],
    overlay: [PCI, 'drivers/pci/new.c'],
  },
  'traditional headers: date after a space, GNU date after a tab, diff -u old/ new/': {
    diffs: [
      change(PCI, `a/${PCI} 2025-01-10 12:00:00`, `b/${PCI} 2025-01-10 12:00:00`, false),
      change(
        'drivers/pci/probe.c',
        'a/drivers/pci/probe.c\t2025-01-10 12:00:00.000000000 +0100',
        'b/drivers/pci/probe.c\t2025-01-10 12:00:00.000000000 +0100',
        false,
      ),
      change(
        'drivers/pci/quirks.c',
        'linux.orig/drivers/pci/quirks.c',
        'linux/drivers/pci/quirks.c',
        false,
      ),
    ],
    statuses: ['applied', 'applied', 'applied'],
    details: [undefined, undefined, /-p1 \(first path component removed\)/],
    overlay: [PCI, 'drivers/pci/probe.c', 'drivers/pci/quirks.c'],
  },
  'a date after the name in a git diff (git would make it part of the name)': {
    diffs: [change(PCI, `a/${PCI} 2025-01-10 12:00:00`, `b/${PCI} 2025-01-10 12:00:00`, true)],
    statuses: ['malformed'],
    details: [/date after the name .* git would take the date as part of the file name/],
  },
  'binary patches: a new file, a 1 GiB literal, a 1 GiB delta, one that does not fit': {
    diffs: [
      gitBinaryNewFile('firmware/new.bin', Buffer.from([0, 1, 2, 3, 255, 254])),
      gitBinaryNewFile('firmware/zero.bin', Buffer.alloc(16), 2 ** 30),
      gitBinaryDeltaBomb('drivers/pci/Makefile', '0'.repeat(40), 10, 60000, 18000),
      gitBinaryNewFile('firmware/new.bin', Buffer.from([9, 9, 9])),
    ],
    statuses: ['applied', 'malformed', 'malformed', 'conflict'],
    details: [
      undefined,
      /binary patch declares 1024 MiB \(literal\), more than the 64 MiB/,
      /binary patch declares 1030 MiB \(delta\)/,
      /already exists/,
    ],
    overlay: ['firmware/new.bin'],
  },
  'headers without names, garbage, a hunk without a header': {
    diffs: [
      'diff --git Makefile Makefile\nold mode 100644\n',
      '\u0000\u0001binary junk\n',
      '@@ -1 +1 @@\n-a\n+b\n',
    ],
    statuses: ['malformed', 'malformed', 'malformed'],
    details: [undefined, /no file headers/, /no file headers/],
  },
};

describe('hostile patches on the fixture tree: per-patch status, nothing thrown', () => {
  for (const [name, c] of Object.entries(CASES)) {
    test(name, async () => {
      const r = await applySeries({
        tree: fixture,
        patches: c.diffs.map((diff, i) => ({ index: i + 1, messageId: `<h${i + 1}@x>`, diff })),
      });
      assert.deepEqual(
        r.patches.map((p) => p.status),
        c.statuses,
        r.patches.map((p) => `${p.status}: ${p.detail}`).join('\n'),
      );
      for (const [i, re] of (c.details ?? []).entries()) {
        if (re) assert.match(r.patches[i]!.detail ?? '', re, `patch ${i + 1}`);
      }
      if (c.overlay) assert.deepEqual(Object.keys(r.overlay).sort(), [...c.overlay].sort());
      // Whatever the overlay holds is readable; the tree does not hold what applying made.
      const reader = openTreeReader(fixture, r.base.commit, r.overlay);
      for (const [path, oid] of Object.entries(r.overlay)) {
        if (oid === null) continue;
        assert.notEqual(await reader.read(path), null, path);
        if (r.objects?.blobs.some(([o]) => o === oid))
          assert.equal(await gitRepo(fixture).readBlob(oid), null, `${path} is not in the tree`);
      }
    });
  }

  test('the no-prefix and traditional cases read as the author meant', async () => {
    const newPci = files[PCI]!.replace(line1(PCI), `${line1(PCI)} /* changed */`);
    for (const diff of [
      change(PCI, PCI, PCI, true),
      change(PCI, `a/${PCI} 2025-01-10 12:00:00`, `b/${PCI} 2025-01-10 12:00:00`, false),
    ]) {
      const r = await applySeries({ tree: fixture, patches: [{ index: 1, messageId: 'm', diff }] });
      assert.equal(await openTreeReader(fixture, r.base.commit, r.overlay).read(PCI), newPci);
    }
  });

  test('10,000 new files with long names (paths never go on a command line)', async () => {
    const dir = `drivers/pci/${'long-directory-name-'.repeat(8)}`;
    let diff = '';
    for (let i = 0; i < 10_000; i++) {
      const p = `${dir}/${'f'.repeat(60)}-${i}.c`;
      diff += `diff --git a/${p} b/${p}\nnew file mode 100644\n--- /dev/null\n+++ b/${p}\n@@ -0,0 +1 @@\n+int x;\n`;
    }
    assert.ok(diff.length > 4 << 20, 'more than any command line holds');
    const r = await applySeries({ tree: fixture, patches: [{ index: 1, messageId: 'm', diff }] });
    assert.equal(r.patches[0]!.status, 'applied', r.patches[0]!.detail);
    assert.equal(Object.keys(r.overlay).length, 10_000);
    assert.deepEqual(new Set(Object.values(r.overlay)), new Set([blobId(Buffer.from('int x;\n'))]));
  });

  test('the fixture tree and its .git are unchanged and no temporary files remain', () => {
    assert.deepEqual(
      listingDiff(
        fixtureListing,
        listTree(fixture, () => true),
      ),
      [],
    );
    assert.deepEqual(leftovers(), []);
  });
});

describe('the verify overlay keeps modes and symlinks', () => {
  test('an executable, a symlink and a mode change are materialised as such', async () => {
    const r = await applySeries({
      tree: fixture,
      patches: [
        {
          index: 1,
          messageId: 'm',
          diff:
            gitNewFile('scripts/check.sh', ['#!/bin/sh', 'exit 0'], '100755') +
            gitSymlink('drivers/pci/vfio', '../vfio/pci') +
            'diff --git a/drivers/pci/Makefile b/drivers/pci/Makefile\nold mode 100644\nnew mode 100755\n',
        },
      ],
    });
    assert.equal(r.patches[0]!.status, 'applied', r.patches[0]!.detail);
    assert.deepEqual(r.modes, {
      'drivers/pci/Makefile': '100755',
      'drivers/pci/vfio': '120000',
      'scripts/check.sh': '100755',
    });
    // As a worker on another machine sees it: JSON, adopted, then materialised.
    const copy = JSON.parse(JSON.stringify(r)) as Applied;
    const { adoptApplied } = await import('../../bot/tree/objects.js');
    adoptApplied(copy);
    const srcDir = join(tmp.path, 'src');
    await materialiseSource({
      tree: fixture,
      commit: copy.base.commit,
      overlay: copy.overlay,
      modes: copy.modes!,
      srcDir,
    });
    assert.equal(statSync(join(srcDir, 'scripts/check.sh')).mode & 0o777, 0o755);
    assert.equal(readFileSync(join(srcDir, 'scripts/check.sh'), 'utf8'), '#!/bin/sh\nexit 0\n');
    assert.equal(statSync(join(srcDir, 'drivers/pci/Makefile')).mode & 0o777, 0o755);
    assert.equal(readlinkSync(join(srcDir, 'drivers/pci/vfio')), '../vfio/pci');
    assert.equal(statSync(join(srcDir, 'drivers/pci/pci.c')).mode & 0o111, 0);
  });

  test('an overlay symlink leaving the tree is refused by the materialisation too', async () => {
    const target = Buffer.from('/etc');
    const oid = blobId(target);
    const overlay = { 'drivers/pci/etc': oid };
    const { bindOverlays } = await import('../../bot/tree/objects.js');
    bindOverlays([overlay], new Map([[oid, target]]));
    await assert.rejects(
      materialiseSource({
        tree: fixture,
        commit: 'HEAD',
        overlay,
        modes: { 'drivers/pci/etc': '120000' },
        srcDir: join(tmp.path, 'src-evil'),
      }),
      /symlink to "\/etc" leaves the tree/,
    );
  });
});

describe('hostile patches on the real 6.12 tree leave it byte for byte as it was', () => {
  let tree: string;
  let head: string;
  let pci: string;
  /**
   * The tree's .git and work tree: every entry with its type, mode, size, inode,
   * mtime and ctime (a write, chmod or utime changes ctime, which cannot be set
   * back), the contents of .git hashed (its packs, hundreds of MB, by stat only:
   * their ctime says enough), and the work files the patches name hashed too.
   */
  const snapshot = () => ({
    git: listTree(join(tree, '.git'), (rel) => statSync(join(tree, '.git', rel)).size < 16 << 20),
    work: listTree(
      tree,
      (rel) => rel === PCI || rel === 'COPYING',
      (rel) => rel === '.git',
    ),
  });

  before(async () => {
    ({ path: tree, commit: head } = await prepareKernelTree());
    pci = (await openTreeReader(tree, head).read(PCI))!;
  });

  /** The real-tree cases; returns their results. */
  async function runCases(): Promise<{ results: Applied[]; patched: string; copying: string }> {
    const weak =
      /resource_size_t __weak pcibios_default_alignment\(void\)\n\{\n\treturn 0;\n\}/.exec(pci)![0];
    const patched = edit(pci, weak, weak.replace('return 0;', 'return PAGE_SIZE;'));
    const good = makeDiff([{ path: PCI, before: pci, after: patched }]);
    const noPrefix = good.replace(/ [ab]\/drivers/g, ' drivers');
    const traditional = good
      .replace(/^diff --git .*\n(?:index .*\n)?/m, '')
      .replace(/^(--- a\/\S+)$/m, '$1 2025-01-10 12:00:00')
      .replace(/^(\+\+\+ b\/\S+)$/m, '$1 2025-01-10 12:00:00');
    const copying = (await openTreeReader(tree, head).read('COPYING'))!;
    // A new file whose content is a blob the tree's pack already has: git would
    // "freshen" (utime) the pack instead of writing the object.
    const existing = makeDiff([{ path: 'drivers/pci/COPYING', after: copying }]);
    const zeros = gitBinaryNewFile('drivers/pci/zero.bin', Buffer.alloc(20 << 20));
    const series = [
      noPrefix,
      traditional,
      existing,
      zeros,
      gitChange('../../etc/passwd'),
      gitSymlink('drivers/pci/etc', '/etc'),
    ];
    const results: Applied[] = [];
    for (const diff of series)
      results.push(
        await applySeries({
          tree,
          baseCommit: head,
          patches: [{ index: 1, messageId: 'm', diff }],
        }),
      );
    return { results, patched, copying };
  }

  test('no-prefix, traditional, binary, existing-content and hostile patches; the tree unchanged', async (t) => {
    // The tree is shared: another process (an older pcibot that still writes
    // objects into it) may change it while this runs. pcibot is deterministic:
    // were it to write, it would write in every attempt (a new object the first
    // time, a freshened one after). So one clean attempt out of three proves it
    // writes nothing; three attempts with changes fail, listing them.
    let changes: string[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const before = snapshot();
      const { results, patched, copying } = await runCases();
      const after = snapshot();
      assert.deepEqual(
        results.map((r) => r.patches[0]!.status),
        ['applied', 'applied', 'applied', 'applied', 'malformed', 'malformed'],
        results.map((r) => r.patches[0]!.detail).join('\n'),
      );
      for (const r of results.slice(0, 2))
        assert.equal(await openTreeReader(tree, head, r.overlay).read(PCI), patched);
      // The existing blob is read from the tree, not carried; the 20 MiB of zeros is carried, small.
      assert.equal(results[2]!.overlay['drivers/pci/COPYING'], blobId(Buffer.from(copying)));
      assert.equal(results[2]!.objects, undefined);
      const zero = results[3]!;
      assert.ok(JSON.stringify(zero.objects).length < 10_000, 'brotli keeps 20 MiB of zeros small');
      const zeroOid = zero.overlay['drivers/pci/zero.bin']!;
      assert.equal(overlayBlob(zero.overlay, zeroOid)!.length, 20 << 20);
      assert.equal(decodeObjects(zero.objects!).get(zeroOid)!.length, 20 << 20);
      assert.equal(await gitRepo(tree).readBlob(zeroOid), null);

      changes = [
        ...listingDiff(before.git, after.git).map((d) => `.git/${d}`),
        ...listingDiff(before.work, after.work),
      ];
      if (changes.length === 0) break;
      t.diagnostic(`attempt ${attempt}: the tree changed meanwhile (${changes.length} entries)`);
    }
    assert.deepEqual(changes, []);
    assert.deepEqual(leftovers(), []);
  });
});
