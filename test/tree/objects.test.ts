// The blobs applying made, across processes: an Applied state that went through
// JSON (as in service mode, through Redis) reads nothing until adopted, then
// reads every patched state; tampered objects are refused; a killed process's
// scratch repository is swept.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applySeries, sweepStaleTempDirs } from '../../bot/tree/apply.js';
import { gitRepo } from '../../bot/tree/git.js';
import {
  adoptApplied,
  blobId,
  decodeObjects,
  encodeObjects,
  hasBoundObjects,
} from '../../bot/tree/objects.js';
import { openTreeReader } from '../../bot/tree/reader.js';
import { createScratchRepo } from '../../bot/tree/scratch.js';
import type { Applied } from '../../bot/types.js';
import { buildFixtureTree, fixtureTreeFiles } from '../../fixtures/kernel-tree/build.js';
import { edit, makeDiff, tempDir } from './helpers.js';

const tmp = tempDir('pcibot-objects-test-');
process.env.TMPDIR = join(tmp.path, 'tmp');
mkdirSync(process.env.TMPDIR);

const files = fixtureTreeFiles();
const PCI = 'drivers/pci/pci.c';
const pci = files[PCI]!;
let tree: string;

before(async () => {
  tree = (await buildFixtureTree(join(tmp.path, 'tree'))).path;
});
after(() => {
  gitRepo(tree).close();
  tmp.cleanup();
});

async function twoPatches(): Promise<{ applied: Applied; s1: string; s2: string }> {
  const s1 = edit(pci, 'static bool pci_bridge_d3_force;', 'static bool pci_bridge_d3_force = 1;');
  const s2 = edit(s1, '= 1;', '= 2;');
  const applied = await applySeries({
    tree,
    patches: [
      { index: 1, messageId: 'm1', diff: makeDiff([{ path: PCI, before: pci, after: s1 }]) },
      { index: 2, messageId: 'm2', diff: makeDiff([{ path: PCI, before: s1, after: s2 }]) },
    ],
  });
  return { applied, s1, s2 };
}

test('an Applied state from JSON is bound to its blobs once adopted; a blob held nowhere is an error', async () => {
  const { applied, s1, s2 } = await twoPatches();
  assert.equal(applied.objects!.blobs.length, 2);
  assert.equal(hasBoundObjects(applied.overlay), true);
  const copy = JSON.parse(JSON.stringify(applied)) as Applied;
  assert.equal(hasBoundObjects(copy.overlay), false);
  adoptApplied(copy);
  assert.equal(hasBoundObjects(copy.overlay), true);
  assert.equal(await openTreeReader(tree, copy.base.commit, copy.overlays[0]).read(PCI), s1);
  assert.equal(await openTreeReader(tree, copy.base.commit, copy.overlay).read(PCI), s2);
  adoptApplied(copy); // idempotent
  // A patched file is never read as deleted: a blob no one holds is an error.
  await assert.rejects(
    openTreeReader(tree, copy.base.commit, { [PCI]: 'f'.repeat(40) }).read(PCI),
    /the patched drivers\/pci\/pci.c \(blob f{40}\) is neither in .* nor held by this process/,
  );
});

test('adopting in a process that never applied: a child process reads the patched file', async () => {
  const { applied, s2 } = await twoPatches();
  const state = join(tmp.path, 'applied.json');
  writeFileSync(state, JSON.stringify(applied));
  const dist = new URL('../../', import.meta.url).pathname;
  const script = `
    import { readFileSync } from 'node:fs';
    const { adoptApplied } = await import(${JSON.stringify(join(dist, 'bot/tree/objects.js'))});
    const { openTreeReader } = await import(${JSON.stringify(join(dist, 'bot/tree/reader.js'))});
    const { closeAllRepos } = await import(${JSON.stringify(join(dist, 'bot/tree/git.js'))});
    const a = JSON.parse(readFileSync(${JSON.stringify(state)}, 'utf8'));
    const read = () => openTreeReader(a.tree, a.base.commit, a.overlay).read(${JSON.stringify(PCI)});
    const before = await read().then(() => 'read', (e) => 'refused: ' + e.message);
    adoptApplied(a);
    process.stdout.write(JSON.stringify({ before, after: await read() }));
    closeAllRepos();
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { before: string; after: string };
  assert.match(out.before, /^refused: tree: the patched drivers\/pci\/pci.c .*adoptApplied\(\)/);
  assert.equal(out.after, s2);
});

test('objects whose content does not match their ids are refused', () => {
  const a = Buffer.from('one\n');
  const b = Buffer.from('two\n');
  const empty = encodeObjects(new Map([[blobId(Buffer.alloc(0)), Buffer.alloc(0)]]));
  assert.equal(decodeObjects(empty).size, 1);
  const objects = encodeObjects(new Map([[blobId(a), a]]));
  assert.ok(decodeObjects(objects).get(blobId(a))!.equals(a));
  const forged = encodeObjects(new Map([[blobId(a), b]]));
  assert.throws(() => decodeObjects(forged), /does not match its id/);
  assert.throws(() => decodeObjects({ ...objects, blobs: [[blobId(a), 1_000_000]] }), /declared/);
  assert.throws(() => decodeObjects({ ...objects, blobs: [['../x', 4]] }), /bad entry/);
});

test('the scratch repository of a killed process is swept with its temporary directory', async () => {
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  const stale = join(process.env.TMPDIR!, `pcibot-apply-${dead}-stale`);
  mkdirSync(stale);
  const scratch = await createScratchRepo(stale, 'sha1');
  await scratch.copyBlob('ce013625030ba8dba906f756967f9e9ca394464a', Buffer.from('hello\n'));
  scratch.repo.close();
  assert.ok(existsSync(join(stale, 'git', 'objects', 'ce')));
  await sweepStaleTempDirs({ again: true });
  assert.equal(existsSync(stale), false);
  assert.deepEqual(
    readdirSync(process.env.TMPDIR!).filter((n) => n.startsWith('pcibot-')),
    [],
  );
});
