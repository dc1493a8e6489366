// stable-and-fixes decides fix or feature: hard evidence first (an added
// Kconfig symbol or parameter is a feature, Fixes: or not), then a Fixes: tag
// or fix wording makes a fix whatever the first verb ("Add missing range
// check"), then the first verb. Quirks and device IDs are stable material,
// and a stable tag marked as a prerequisite is the submitter's decision.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Message } from '../../bot/types.js';
import stableAndFixes from '../../rules/stable-and-fixes/rule.js';
import type { DiffFile, RuleContext, TreeReader } from '../../rules/types.js';

const empty: TreeReader = {
  commit: '0'.repeat(40),
  read: async () => null,
  exists: async () => false,
  list: async () => [],
};

const STABLE = 'stable@vger.kernel.org';

function ctx(title: string, trailers: [string, string][], diff: DiffFile[] = []): RuleContext {
  const patch = {
    tags: { title },
    trailers: trailers.map(([key, value], i) => ({ key, value, line: 3 + i })),
  } as unknown as Message;
  return {
    series: {} as RuleContext['series'],
    patch,
    index: 1,
    commitMessage: `${title}\n\nA change.\n`,
    diff,
    before: empty,
    after: empty,
  };
}

const feature = async (title: string, trailers: [string, string][], diff?: DiffFile[]) =>
  (await stableAndFixes.check(ctx(title, trailers, diff))).map((h) => h.title);

const FEATURE = 'Cc: stable on a patch that adds a feature';

/** A diff adding a Kconfig symbol. */
const kconfig: DiffFile[] = [
  {
    from: 'drivers/pci/Kconfig',
    to: 'drivers/pci/Kconfig',
    chunks: [
      {
        content: '@@ -1,1 +1,2 @@',
        oldStart: 1,
        oldLines: 1,
        newStart: 1,
        newLines: 2,
        changes: [
          { type: 'normal', normal: true, ln1: 1, ln2: 1, content: ' if PCI' },
          { type: 'add', add: true, ln: 2, content: '+config PCI_FOO_FIX' },
        ],
      },
    ],
    deletions: 0,
    additions: 1,
  } as DiffFile,
];

describe('stable-and-fixes: fix or feature', () => {
  it('a fix whose subject starts with "Add" is a fix: with Fixes:, or with fix wording alone', async () => {
    const fixes: [string, string] = ['Fixes', '0123456789ab ("vfio/pci: Map the extra regions")'];
    assert.deepEqual(
      await feature('vfio/pci: Add missing range check in vfio_pci_mmap', [fixes, ['Cc', STABLE]]),
      [],
    );
    assert.deepEqual(
      await feature('vfio/pci: Add missing range check in vfio_pci_mmap', [['Cc', STABLE]]),
      [],
    );
    assert.deepEqual(
      await feature('PCI: Add bridge lock to pci_slot_lock()', [fixes, ['Cc', STABLE]]),
      [],
    );
    for (const t of [
      'PCI: Add a NULL check in pci_foo()',
      'PCI: Introduce a lock to avoid a race in pci_bar()',
      'PCI: Enable the workaround to prevent a hang on resume',
      'PCI: Add bounds check to stop an out-of-bounds read',
      'PCI: Allow config reads to handle a surprise removal',
      'PCI: Add error path to fix a leak',
    ])
      assert.deepEqual(await feature(t, [['Cc', STABLE]]), [], t);
  });

  it('quirks and device IDs go to stable; so does a patch marked as a prerequisite', async () => {
    assert.deepEqual(
      await feature('PCI: Add ACS quirk for Foo multi-function devices', [['Cc', STABLE]]),
      [],
    );
    assert.deepEqual(await feature('PCI: Add device ID for the Foo 9000', [['Cc', STABLE]]), []);
    assert.deepEqual(
      await feature('PCI: Introduce pci_foo_lock()', [
        ['Cc', `${STABLE} # 6.6.x: prerequisite for the next patch`],
      ]),
      [],
    );
  });

  it('still a feature: the first verb without fix wording, or hard evidence even with Fixes:', async () => {
    assert.deepEqual(
      await feature('vfio/pci: Enable PCI resource mmap() on s390 and remove VFIO_PCI_MMAP', [
        ['Cc', STABLE],
      ]),
      [FEATURE],
    );
    assert.deepEqual(await feature('PCI: Add support for the Foo controller', [['Cc', STABLE]]), [
      FEATURE,
    ]);
    assert.deepEqual(
      await feature('PCI: Introduce pci_foo_lock()', [['Cc', `${STABLE} # 6.6.x`]]),
      [FEATURE],
    );
    const hits = await stableAndFixes.check(
      ctx(
        'PCI: Fix small BARs with a new option',
        [
          ['Fixes', '0123456789ab ("PCI: x")'],
          ['Cc', STABLE],
        ],
        kconfig,
      ),
    );
    assert.deepEqual(
      hits.map((h) => [h.title, h.file, h.line]),
      [[FEATURE, 'drivers/pci/Kconfig', 2]],
    );
    assert.match(hits[0]!.detail, /adds Kconfig symbol PCI_FOO_FIX/);
  });

  it('without Cc: stable, no feature finding at all', async () => {
    assert.deepEqual(await feature('PCI: Add support for the Foo controller', []), []);
  });
});
