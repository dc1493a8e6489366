// Old titles in changelogs: the formats cover letters and patch notes use
// (written here in those shapes; no list mail is stored), and the text that
// must give nothing (file renames, quoted words, prose, quoted replies).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { titleAliases } from '../../bot/series/changelog.js';

const olds = (text: string, version = 3) =>
  titleAliases(text, version).map((a) => [a.old, a.now, a.upTo]);

describe('titleAliases', () => {
  it('rename ("OLD") to ("NEW"), wrapped over two lines, under a vN->vM heading', () => {
    assert.deepEqual(
      olds(
        'Some cover text.\n\nv2->v3:\n* clarify 4k vs PAGE_SIZE\n* rename ("x86/PCI: Move logic to a helper") to\n' +
          '  ("x86/PCI: Tidy the claim loop")\n* rename ("PCI: Pad tiny (<4k) BARs") to\n  ("PCI: Pad tiny BARs")\n\n' +
          'v1->v2:\n* rename ("PCI: don\'t clear a clear bit") to\n  ("PCI: Keep decoding when nothing moves")\n' +
          '* new patch: ("powerpc/pci: Keep the start alignment")\n',
      ),
      [
        ['x86/PCI: Move logic to a helper', 'x86/PCI: Tidy the claim loop', 2],
        ['PCI: Pad tiny (<4k) BARs', 'PCI: Pad tiny BARs', 2],
        ["PCI: don't clear a clear bit", 'PCI: Keep decoding when nothing moves', 1],
      ],
    );
  });

  it('new subject (was: "OLD") in a patch\'s notes', () => {
    assert.deepEqual(
      olds(
        'Signed-off-by: A <a@b>\n---\nv2->v3:\n* new subject (was: "PCI: Pad tiny (<4k) BARs")\n* reword\n',
      ),
      [['PCI: Pad tiny (<4k) BARs', null, 2]],
    );
  });

  it("renamed patch from 'OLD' to 'NEW' (single quotes, an apostrophe inside), not the file rename beside it", () => {
    assert.deepEqual(
      olds(
        "Changes in v2:\n - renamed patch from 'ASoC: add bindings for the PDM' to\n" +
          "   'ASoC: dt-bindings: Document the PDM's clocks';\n" +
          " - renamed yaml file from 'vnd,pdm.yaml' to 'vendor,pdm.yaml';\n - fixed 'title' to represent HW;\n",
        2,
      ),
      [['ASoC: add bindings for the PDM', "ASoC: dt-bindings: Document the PDM's clocks", 1]],
    );
  });

  it('Renamed patch from "OLD" (no new title), and from/to: with the titles as sub-items', () => {
    assert.deepEqual(
      olds(
        'v1 -> v2:\n - Renamed patch from "net: use GFP_KERNEL over GFP_ATOMIC where possible"\n - Removed a hunk\n',
        4,
      ),
      [['net: use GFP_KERNEL over GFP_ATOMIC where possible', null, 1]],
    );
    assert.deepEqual(
      olds(
        'v2->v3:\n - Squashed two patches\n - Renamed patch from/to:\n     "[PATCH v2 08/10] KVM: PPC: Return to the host for hcalls"\n' +
          '     "[PATCH v3 08/09] KVM: PPC: Enter a secure guest\n - Rebased\n',
      ),
      [['KVM: PPC: Return to the host for hcalls', null, 2]],
    );
  });

  it('headings: Changes in vN, vN:, and none (then any earlier version)', () => {
    assert.deepEqual(olds('Changes in v3:\n- Renamed from "PCI: Old title here"\n'), [
      ['PCI: Old title here', null, 2],
    ]);
    assert.deepEqual(olds('v3: retitled (was "PCI: Old title here")\n', 3), [
      ['PCI: Old title here', null, 2],
    ]);
    assert.deepEqual(olds('- subject changed (previously "PCI: Old title here")\n'), [
      ['PCI: Old title here', null, null],
    ]);
  });

  it('gives nothing for prose, quoted words, subjects changed without the old one, and quoted replies', () => {
    assert.deepEqual(olds('This follows "PCI: Add the helper we need" closely.\n'), []);
    assert.deepEqual(
      olds('v6:\n* Changed subject to match others in log.\n* Changed the title in the yaml\n'),
      [],
    );
    assert.deepEqual(olds('> v2->v3:\n> * new subject (was: "PCI: Old title here")\n'), []);
    assert.deepEqual(olds('* renamed pci_foo() to pci_bar() ("PCI" is not a title)\n'), []);
  });
});
