// resolveTree and prepareKernelTree, and the fixture builder's promises.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { prepareKernelTree, resolveTree } from '../../bot/tree/kernel.js';
import { buildFixtureTree, fixtureTreeFiles } from '../../fixtures/kernel-tree/build.js';
import { runGitSync, tempDir } from './helpers.js';

const tmp = tempDir('pcibot-tree-kernel-test-');
after(() => tmp.cleanup());

test('the fixture tree is deterministic, clean and holds exactly fixtureTreeFiles()', async () => {
  const a = await buildFixtureTree(join(tmp.path, 'a'));
  const b = await buildFixtureTree(join(tmp.path, 'b'));
  assert.equal(a.commit, b.commit);
  assert.match(a.commit, /^[0-9a-f]{40}$/);
  assert.equal(runGitSync(a.path, ['status', '--porcelain']), '');
  assert.equal(runGitSync(a.path, ['rev-parse', 'HEAD']).trim(), a.commit);
  assert.equal(runGitSync(a.path, ['symbolic-ref', 'HEAD']).trim(), 'refs/heads/master');
  const files = fixtureTreeFiles();
  assert.deepEqual(runGitSync(a.path, ['ls-files']).trim().split('\n'), Object.keys(files).sort());
  for (const [path, text] of Object.entries(files)) {
    assert.equal(runGitSync(a.path, ['show', `HEAD:${path}`]), text, path);
  }
  await assert.rejects(buildFixtureTree(a.path), /is not empty/);
});

test('the fixture carries the policy shapes the policy reader looks for', () => {
  const f = fixtureTreeFiles();
  const pci = f['drivers/pci/pci.c']!;
  assert.match(
    pci,
    /^resource_size_t __weak pcibios_default_alignment\(void\)\n\{\n\treturn 0;\n\}$/m,
  );
  assert.match(
    pci,
    /^static resource_size_t pci_specified_resource_alignment\(struct pci_dev \*dev,\n\t+ *bool \*resize\)$/m,
  );
  assert.match(
    pci,
    /^static void pci_request_resource_alignment\(struct pci_dev \*dev, int bar,\n/m,
  );
  assert.match(pci, /^void pci_reassigndev_resource_alignment\(struct pci_dev \*dev\)$/m);
  assert.match(
    pci,
    /if \(resize\) \{\n\t\tr->start = 0;\n\t\tr->end = align - 1;\n\t\} else \{\n\t\tr->flags &= ~IORESOURCE_SIZEALIGN;\n\t\tr->flags \|= IORESOURCE_STARTALIGN;/,
  );
  assert.match(pci, /"resource_alignment=", 19\)\) \{\n\t+resource_alignment_param = str \+ 19;/);
  assert.match(pci, /"realloc=", 8\)\) \{\n\t+pci_realloc_get_opt\(str \+ 8\);/);
  assert.match(pci, /^early_param\("pci", pci_setup\);$/m);
  assert.match(pci, /^__setup\("pcie_port_pm=", pcie_port_pm_setup\);$/m);
  assert.match(
    f['drivers/pci/setup-bus.c']!,
    /^static resource_size_t window_alignment\(struct pci_bus \*bus, unsigned long type\)$/m,
  );
  assert.match(f['drivers/pci/setup-bus.c']!, /^#define PCI_P2P_DEFAULT_MEM_ALIGN\t0x100000/m);
  assert.match(f['drivers/pci/pcie/portdrv.c']!, /^\t\.driver_managed_dma = true,$/m);
  assert.match(f['drivers/pci/quirks.c']!, /^\} pci_dev_acs_enabled\[\] = \{$/m);
  assert.match(
    f['drivers/vfio/pci/vfio_pci_core.c']!,
    /^static void vfio_pci_probe_mmaps\(struct vfio_pci_core_device \*vdev\)$/m,
  );
  assert.match(f['drivers/vfio/pci/vfio_pci_core.c']!, /resource_size\(res\) >= PAGE_SIZE/);
  assert.match(f['drivers/vfio/pci/vfio_pci_core.c']!, /res->start & ~PAGE_MASK/);
  assert.match(f['arch/powerpc/kernel/pci-common.c']!, /ppc_md\.pcibios_default_alignment\(\)/);
  assert.match(f.Makefile!, /^VERSION = 6\nPATCHLEVEL = 12$/m);
  assert.match(f.MAINTAINERS!, /^PCI SUBSYSTEM\n(?:.+\n)*F:\tdrivers\/pci\/$/m);
  assert.match(f.MAINTAINERS!, /^VFIO DRIVER\n(?:.+\n)*F:\tdrivers\/vfio\/$/m);
  // Kernel indentation: tabs, never 8 spaces.
  for (const [path, text] of Object.entries(f)) assert.doesNotMatch(text, /^ {8}/m, path);
});

test('resolveTree accepts the top of a git repository and explains everything else', async () => {
  const { path } = await buildFixtureTree(join(tmp.path, 'resolve'));
  assert.equal(await resolveTree(path, {}), path);
  assert.equal(await resolveTree(undefined, { PCIBOT_TREE: path }), path);
  await assert.rejects(resolveTree(join(tmp.path, 'missing'), {}), /no such directory/);
  const file = join(tmp.path, 'plain-file');
  writeFileSync(file, 'x');
  await assert.rejects(resolveTree(file, {}), /not a directory/);
  const plain = join(tmp.path, 'plain-dir');
  mkdirSync(plain);
  await assert.rejects(resolveTree(plain, {}), /not a git repository/);
  await assert.rejects(
    resolveTree(join(path, 'drivers'), {}),
    /is inside the git repository .*resolve, not the top of one/,
  );
  const empty = join(tmp.path, 'empty-repo');
  mkdirSync(empty);
  runGitSync(empty, ['init', '-q']);
  await assert.rejects(resolveTree(empty, {}), /no commit at HEAD/);
});

test('prepareKernelTree gives the real tree; resolveTree("auto") is the same tree', async () => {
  const lines: string[] = [];
  const kt = await prepareKernelTree({ log: (l) => lines.push(l) });
  assert.match(kt.commit, /^[0-9a-f]{40}$/);
  assert.equal(runGitSync(kt.path, ['rev-parse', 'HEAD']).trim(), kt.commit);
  assert.equal(await resolveTree('auto', {}), kt.path);
  assert.equal(await resolveTree(undefined, {}), kt.path);
});
