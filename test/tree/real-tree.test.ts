// End to end on the real Debian linux-source-6.12 tree (prepared on first use
// by scripts/kernel-tree.sh): a 3-patch series written here against the real
// files, read through the TreeReader, applied without touching the checkout.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { applySeries } from '../../bot/tree/apply.js';
import { openTreeReader } from '../../bot/tree/reader.js';
import { gitRepo } from '../../bot/tree/git.js';
import { prepareKernelTree } from '../../bot/tree/kernel.js';
import { edit, makeDiff, runGitSync, tempDir } from './helpers.js';

const tmp = tempDir('pcibot-tree-real-test-');
process.env.TMPDIR = join(tmp.path, 'tmp');
mkdirSync(process.env.TMPDIR);

const PCI = 'drivers/pci/pci.c';
const CORE = 'drivers/vfio/pci/vfio_pci_core.c';
let tree: string;
let head: string;
let pci: string;
let core: string;

before(async () => {
  ({ path: tree, commit: head } = await prepareKernelTree());
  const reader = openTreeReader(tree, head);
  pci = (await reader.read(PCI))!;
  core = (await reader.read(CORE))!;
});
after(() => {
  gitRepo(tree).close();
  tmp.cleanup();
});

/** The weak default in 6.12, found by shape rather than by line number. */
function defaultAlignment(text: string): string {
  const m = /resource_size_t __weak pcibios_default_alignment\(void\)\n\{\n\treturn 0;\n\}/.exec(
    text,
  );
  assert.ok(m, 'pcibios_default_alignment() returning 0 is in the 6.12 tree');
  return m[0];
}

function blobId(text: string): string {
  const body = Buffer.from(text, 'utf8');
  return createHash('sha1').update(`blob ${body.length}\0`).update(body).digest('hex');
}

function checkoutState() {
  const index = join(tree, '.git', 'index');
  return {
    head: runGitSync(tree, ['rev-parse', 'HEAD']),
    refs: runGitSync(tree, ['show-ref']),
    indexHash: createHash('sha256').update(readFileSync(index)).digest('hex'),
    indexMtime: statSync(index).mtimeMs,
    work: readFileSync(join(tree, PCI), 'utf8'),
  };
}

test('a 3-patch series written against 6.12 applies; the overlays hold each step', async () => {
  const weak = defaultAlignment(pci);
  const step1 = edit(pci, weak, weak.replace('return 0;', 'return max(SZ_4K, PAGE_SIZE);'));
  const step2 = edit(
    step1,
    '\t\t\t} else if (!strncmp(str, "resource_alignment=", 19)) {',
    '\t\t\t} else if (!strcmp(str, "align_small_bars")) {\n' +
      '\t\t\t\tpci_align_small_bars = true;\n' +
      '\t\t\t} else if (!strncmp(str, "resource_alignment=", 19)) {',
  );
  const core1 = edit(core, '"vfio sub-page reserved"', '"vfio sub-page reserve"');
  const series = [
    makeDiff([{ path: PCI, before: pci, after: step1 }]),
    makeDiff([{ path: PCI, before: step1, after: step2 }]),
    makeDiff([{ path: CORE, before: core, after: core1 }]),
  ];
  const before = checkoutState();
  const r = await applySeries({
    tree,
    baseCommit: head,
    patches: series.map((diff, i) => ({ index: i + 1, messageId: `real-${i + 1}@test`, diff })),
  });
  assert.deepEqual(r.base, { commit: head, how: 'base-commit' });
  assert.deepEqual(
    r.patches.map((p) => p.status),
    ['applied', 'applied', 'applied'],
  );
  assert.deepEqual(r.overlays[0], { [PCI]: blobId(step1) });
  assert.deepEqual(r.overlays[1], { [PCI]: blobId(step2) });
  assert.deepEqual(r.overlay, { [PCI]: blobId(step2), [CORE]: blobId(core1) });
  const patched = openTreeReader(tree, head, r.overlay);
  assert.equal(await patched.read(PCI), step2);
  assert.equal(await patched.read(CORE), core1);
  assert.equal(await openTreeReader(tree, head, r.overlays[0]).read(PCI), step1);
  assert.equal(await openTreeReader(tree, head).read(PCI), pci);
  assert.deepEqual(checkoutState(), before);
  assert.deepEqual(readdirSync(process.env.TMPDIR!), []);
});

test('a patch written against a different pci.c conflicts at the right place', async () => {
  const weak = defaultAlignment(pci);
  // Someone else's tree already returned PAGE_SIZE here.
  const theirs = edit(pci, weak, weak.replace('return 0;', 'return PAGE_SIZE;'));
  const diff = makeDiff([
    {
      path: PCI,
      before: theirs,
      after: edit(
        theirs,
        weak.replace('return 0;', 'return PAGE_SIZE;'),
        weak.replace('return 0;', 'return max(SZ_4K, PAGE_SIZE);'),
      ),
    },
  ]);
  const header = diff.split('\n').find((l) => l.startsWith('@@'))!;
  const returnLine = pci.slice(0, pci.indexOf(weak)).split('\n').length + 2;
  const before = checkoutState();
  const r = await applySeries({ tree, patches: [{ index: 1, messageId: 'conflict@test', diff }] });
  const p = r.patches[0]!;
  assert.equal(p.status, 'conflict');
  assert.equal(p.conflicts!.length, 1);
  assert.equal(p.conflicts![0]!.file, PCI);
  assert.equal(p.conflicts![0]!.hunk, header);
  assert.equal(p.conflicts![0]!.line, returnLine, 'the line of the tree that did not match');
  assert.match(
    p.conflicts![0]!.reason,
    new RegExp(`expected "\\\\treturn PAGE_SIZE;" at ${returnLine}, found "\\\\treturn 0;"`),
  );
  assert.deepEqual(r.overlay, {});
  assert.deepEqual(checkoutState(), before);
  assert.deepEqual(readdirSync(process.env.TMPDIR!), []);
});
