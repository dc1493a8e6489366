// The git object layer and TreeReader on the fixture tree: reads, listings,
// overlays, concurrency through the one cat-file process.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GitRepo, gitRepo } from '../../bot/tree/git.js';
import { openTreeReader } from '../../bot/tree/reader.js';
import { applySeries, parseIndexFile } from '../../bot/tree/apply.js';
import { buildFixtureTree, fixtureTreeFiles } from '../../fixtures/kernel-tree/build.js';
import { edit, makeDiff, runGitSync, tempDir } from './helpers.js';

const files = fixtureTreeFiles();
const tmp = tempDir('pcibot-tree-reader-test-');
let tree: string;
let commit: string;

before(async () => {
  ({ path: tree, commit } = await buildFixtureTree(join(tmp.path, 'tree')));
});
after(() => {
  gitRepo(tree).close();
  tmp.cleanup();
});

describe('GitRepo', () => {
  test('revParse, hasCommit, pathOid and readBlob agree with git', async () => {
    const repo = new GitRepo(tree);
    try {
      assert.equal(await repo.revParse('HEAD'), commit);
      assert.equal(await repo.revParse('master^{commit}'), commit);
      assert.equal(await repo.revParse('no-such-branch'), null);
      assert.equal(await repo.hasCommit(commit), true);
      assert.equal(await repo.hasCommit(commit.slice(0, 10)), true);
      assert.equal(await repo.hasCommit('0123456789abcdef0123456789abcdef01234567'), false);
      assert.equal(await repo.hasCommit('HEAD'), false, 'only commit ids, not names');
      const oid = await repo.pathOid(commit, 'drivers/pci/pci.c');
      assert.equal(oid, runGitSync(tree, ['rev-parse', `${commit}:drivers/pci/pci.c`]).trim());
      assert.equal((await repo.readBlob(oid!))!.toString('utf8'), files['drivers/pci/pci.c']);
      assert.equal(await repo.pathOid(commit, 'drivers/pci/missing.c'), null);
      // A tree id is not a blob.
      const dir = await repo.pathOid(commit, 'drivers/pci');
      assert.equal(await repo.readBlob(dir!), null);
      await assert.rejects(repo.info('HEAD\nmaster'), /line break/);
    } finally {
      repo.close();
    }
  });

  test('readTreeEntries lists a directory like ls-tree', async () => {
    const repo = new GitRepo(tree);
    try {
      const entries = await repo.readTreeEntries(commit, 'drivers/pci');
      const lsTree = runGitSync(tree, ['ls-tree', commit, 'drivers/pci/'])
        .trim()
        .split('\n')
        .map((l) => {
          const [meta, path] = l.split('\t');
          const [mode, type, oid] = meta!.split(' ');
          return { mode: mode === '040000' ? '40000' : mode, type, oid, path };
        });
      assert.deepEqual(
        entries!.map((e) => ({ mode: e.mode, type: e.type, oid: e.oid, path: e.path })),
        lsTree,
      );
      assert.deepEqual(
        (await repo.readTreeEntries(commit, ''))!.map((e) => e.name),
        ['Documentation', 'MAINTAINERS', 'Makefile', 'arch', 'drivers', 'include', 'net'],
      );
      assert.equal(await repo.readTreeEntries(commit, 'drivers/pci/pci.c'), null);
      assert.equal(await repo.readTreeEntries(commit, 'nowhere'), null);
    } finally {
      repo.close();
    }
  });

  test('concurrent reads share one process and each gets its own answer', async () => {
    const repo = new GitRepo(tree);
    try {
      const paths = Object.keys(files);
      const rounds = 20;
      const reads = [];
      for (let i = 0; i < rounds; i++) {
        for (const p of paths) reads.push(repo.readObject(`${commit}:${p}`).then((r) => [p, r]));
        reads.push(repo.info(`${commit}:missing-${i}`).then((r) => [`missing-${i}`, r]));
      }
      const results = await Promise.all(reads);
      for (const [p, r] of results as [string, { data: Buffer } | null][]) {
        if (p.startsWith('missing-')) assert.equal(r, null);
        else assert.equal(r!.data.toString('utf8'), files[p], p);
      }
    } finally {
      repo.close();
    }
  });

  test('close() stops the child; the next read starts a new one', async () => {
    const repo = new GitRepo(tree);
    assert.equal(await repo.revParse('HEAD'), commit);
    const pending = repo.readObject(`${commit}:MAINTAINERS`);
    repo.close();
    await assert.rejects(pending, /closed/);
    assert.equal(await repo.revParse('HEAD'), commit);
    repo.close();
  });
});

describe('parseIndexFile', () => {
  test('reads index format 2 and 3 like git ls-files -s, and declines format 4', () => {
    const index = join(tmp.path, 'test-index');
    const git = (args: string[]) =>
      execFileSync('git', args, {
        cwd: tree,
        env: { ...process.env, GIT_INDEX_FILE: index },
        encoding: 'utf8',
      });
    git(['-c', 'index.version=2', 'read-tree', commit]);
    // An executable file and a long name exercise the mode and the padding.
    const long = `drivers/pci/${'x'.repeat(300)}.c`;
    const blob = execFileSync('git', ['hash-object', '-w', '--stdin'], {
      cwd: tree,
      input: 'y\n',
      encoding: 'utf8',
    }).trim();
    git(['update-index', '--add', '--cacheinfo', `100755,${blob},${long}`]);
    git(['update-index', '--add', '--cacheinfo', `120000,${blob},include/link`]);
    const expected = new Map(
      git(['ls-files', '-s'])
        .trim()
        .split('\n')
        .map((l) => {
          const [meta, path] = l.split('\t');
          const [mode, oid] = meta!.split(' ');
          return [path!, { mode: mode!, oid: oid! }];
        }),
    );
    for (const version of ['2', '3']) {
      git(['update-index', '--index-version', version]);
      const parsed = parseIndexFile(readFileSync(index), 20);
      assert.ok(parsed, `format ${version}`);
      assert.deepEqual(parsed.unmerged, []);
      assert.deepEqual(parsed.entries, expected);
    }
    git(['update-index', '--index-version', '4']);
    assert.equal(parseIndexFile(readFileSync(index), 20), null);
    assert.equal(parseIndexFile(Buffer.from('not an index'), 20), null);
  });
});

describe('openTreeReader', () => {
  test('reads, exists and lists the base commit', async () => {
    const r = openTreeReader(tree, commit);
    assert.equal(r.commit, commit);
    assert.equal(await r.read('include/linux/pci.h'), files['include/linux/pci.h']);
    assert.equal(await r.read('drivers/pci/nope.c'), null);
    assert.equal(await r.read('drivers/pci'), null, 'a directory is not a file');
    assert.equal(await r.exists('drivers/pci/quirks.c'), true);
    assert.equal(await r.exists('drivers/pci'), false);
    // Hostile paths name nothing.
    assert.equal(await r.read('../../etc/passwd'), null);
    assert.equal(await r.read('.git/config'), null);
    assert.equal(await r.read('/etc/passwd'), null);
    const expected = Object.keys(files)
      .filter((p) => p.startsWith('drivers/pci/') && !p.slice('drivers/pci/'.length).includes('/'))
      .sort();
    assert.deepEqual(await r.list('drivers/pci'), expected);
    assert.deepEqual(await r.list('drivers/pci/'), expected);
    assert.deepEqual(await r.list(''), ['MAINTAINERS', 'Makefile']);
    assert.deepEqual(await r.list('no/such/dir'), []);
    assert.deepEqual(await r.dirs('drivers'), ['drivers/pci', 'drivers/vfio']);
    assert.deepEqual(await r.dirs('arch'), ['arch/powerpc', 'arch/x86']);
    await assert.rejects(r.list('../x'), /bad directory/);
  });

  test('an overlay adds, replaces and deletes files on top of the commit', async () => {
    const pci = files['drivers/pci/pci.c']!;
    const changed = edit(pci, '\treturn 0;\n}\n\n/* Value', '\treturn PAGE_SIZE;\n}\n\n/* Value');
    const diff = makeDiff([
      { path: 'drivers/pci/pci.c', before: pci, after: changed },
      { path: 'drivers/pci/align/policy.c', after: 'int pci_align_policy;\n' },
      { path: 'drivers/pci/quirks.c', before: files['drivers/pci/quirks.c'], after: null },
      { path: 'net/core/dev.c', before: files['net/core/dev.c'], after: null },
    ]);
    const applied = await applySeries({ tree, patches: [{ index: 1, messageId: 'm', diff }] });
    assert.equal(applied.patches[0]!.status, 'applied');
    const r = openTreeReader(tree, commit, applied.overlay);
    assert.equal(await r.read('drivers/pci/pci.c'), changed);
    assert.equal(await r.read('drivers/pci/align/policy.c'), 'int pci_align_policy;\n');
    assert.equal(await r.exists('drivers/pci/quirks.c'), false);
    assert.equal(await r.read('drivers/pci/quirks.c'), null);
    assert.equal(await r.read('drivers/pci/probe.c'), files['drivers/pci/probe.c']);
    const list = await r.list('drivers/pci');
    assert.ok(!list.includes('drivers/pci/quirks.c'));
    assert.ok(list.includes('drivers/pci/pci.c'));
    assert.deepEqual(await r.list('drivers/pci/align'), ['drivers/pci/align/policy.c']);
    assert.deepEqual(await r.dirs('drivers/pci'), [
      'drivers/pci/align',
      'drivers/pci/hold',
      'drivers/pci/pcie',
    ]);
    // net/core held only dev.c: with it deleted, net/ is gone from the top.
    assert.deepEqual(await r.dirs('net'), []);
    assert.ok(!(await r.dirs('')).includes('net'));
    // The base is untouched by the overlay.
    const base = openTreeReader(tree, commit);
    assert.equal(await base.read('drivers/pci/pci.c'), pci);
    assert.ok((await base.dirs('')).includes('net'));
  });
});
