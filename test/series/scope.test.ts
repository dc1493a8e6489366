import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assembleSeries } from '../../bot/series/assemble.js';
import { scopeSeries } from '../../bot/series/scope.js';
import type { Message, Series } from '../../bot/types.js';
import { mailPath, parseInputs } from '../mail/helpers.js';

async function scopeOf(file: string, pick = (s: Series[]) => s[0]!) {
  const { messages } = await parseInputs([mailPath(file)]);
  return scopeSeries(pick(assembleSeries(messages).series));
}

/** A one-patch series around a hand-written diff. */
function seriesWithDiff(diff: string | null): Series {
  const msg = {
    messageId: 'x@example.org',
    tags: { index: null, total: null, version: 1 },
    diff,
  } as unknown as Message;
  return {
    id: 's-0000000000000000',
    title: 't',
    version: 1,
    rfc: false,
    resend: false,
    author: { name: '', address: '' },
    cover: null,
    patches: [msg],
    expected: null,
    missing: [],
    complete: true,
    baseCommit: null,
    changeId: null,
    supersedes: [],
    replies: [],
  };
}

function fileDiff(
  path: string,
  minus = 'old line',
  plus = 'new line',
  context = 'context',
): string {
  return `diff --git a/${path} b/${path}\nindex 1111111..2222222 100644\n--- a/${path}\n+++ b/${path}\n@@ -1,2 +1,2 @@\n ${context}\n-${minus}\n+${plus}\n`;
}

describe('scopeSeries on fixtures', () => {
  it('the PCI series is in scope and says which paths', async () => {
    const d = await scopeOf('pci-series-v1-v2-mixed.mbox', (s) =>
      s.find((x) => x.title.startsWith('PCI'))!,
    );
    assert.equal(d.inScope, true);
    assert.equal(
      d.reason,
      'touches drivers/pci/toy-setup.c, include/linux/pci-toy.h, drivers/pci/toy-align.c and 1 more',
    );
    assert.deepEqual(d.paths, [
      'drivers/pci/toy-setup.c',
      'include/linux/pci-toy.h',
      'drivers/pci/toy-align.c',
      'drivers/vfio/pci/toy_vfio_core.c',
    ]);
  });

  it('the net series is out of scope', async () => {
    const d = await scopeOf('crlf.mbox');
    assert.deepEqual(
      [d.inScope, d.reason, d.paths],
      [false, 'touches only net/core/toy_dev.c', ['net/core/toy_dev.c']],
    );
  });

  it('hostile paths are refused, even next to a PCI file', async () => {
    const d = await scopeOf('hostile-paths.eml');
    assert.equal(d.inScope, false);
    assert.ok(d.reason.startsWith('refused: '), d.reason);
    assert.ok(
      d.reason.includes('"../../etc/passwd" ("..\\" component)') ||
        d.reason.includes('../../etc/passwd'),
    );
    assert.ok(d.reason.includes('.git/hooks/post-checkout'));
    assert.deepEqual(d.paths, ['../../etc/passwd', '.git/hooks/post-checkout']);
  });

  it('kernel-parameters.txt: a pci= option is in, an unrelated parameter is out', async () => {
    const yes = await scopeOf('kernel-params-pci-option.eml');
    assert.deepEqual(
      [yes.inScope, yes.reason],
      [true, 'touches Documentation/admin-guide/kernel-parameters.txt'],
    );
    const no = await scopeOf('kernel-params-unrelated.eml');
    assert.equal(no.inScope, false);
    assert.equal(
      no.reason,
      'touches only Documentation/admin-guide/kernel-parameters.txt (Documentation/admin-guide/kernel-parameters.txt: no pci= or VFIO option changed)',
    );
  });

  it('drivers/iommu: in when the change is about groups/ACS/PCI, out otherwise', async () => {
    assert.equal((await scopeOf('iommu-acs.eml')).inScope, true);
    const map = await scopeOf('iommu-map.eml');
    assert.equal(map.inScope, false);
    assert.match(map.reason, /no IOMMU group, ACS or PCI change/);
  });

  it('Documentation/PCI is in', async () => {
    assert.deepEqual((await scopeOf('dashdash-in-hunk.eml')).paths, [
      'Documentation/PCI/toy-notes.rst',
    ]);
  });

  it('a cover letter alone: no diff in any patch', async () => {
    const { messages } = await parseInputs([mailPath('missing-part.mbox')]);
    const d = scopeSeries(assembleSeries([messages[0]!]).series[0]!);
    assert.deepEqual([d.inScope, d.reason, d.paths], [false, 'no diff in any patch', []]);
  });
});

describe('scopeSeries: path rules', () => {
  const IN = [
    'drivers/pci/controller/dwc/pcie-designware.c',
    'drivers/vfio/pci/vfio_pci_core.c',
    'include/linux/pci.h',
    'include/linux/pci-epc.h',
    'include/linux/pci_ids.h',
    'include/linux/vfio_pci_core.h',
    'include/uapi/linux/vfio.h',
    'include/uapi/linux/pci_regs.h',
    'arch/x86/pci/fixup.c',
    'arch/powerpc/kernel/pci-common.c',
    'arch/s390/kernel/pci_insn.c',
    'Documentation/PCI/pci.rst',
    'Documentation/devicetree/bindings/pci/toy-pcie.yaml',
  ];
  const OUT = [
    'drivers/net/ethernet/intel/e1000e/netdev.c',
    'drivers/pcmcia/ds.c',
    'drivers/pcifoo/x.c',
    'include/linux/pcs/pcs-xpcs.h',
    'include/linux/mm.h',
    'arch/x86/kernel/apic/apic.c',
    'arch/x86/kvm/pci-like.c',
    'Documentation/networking/pci.rst',
  ];
  for (const p of IN)
    it(`in: ${p}`, () => assert.equal(scopeSeries(seriesWithDiff(fileDiff(p))).inScope, true));
  for (const p of OUT)
    it(`out: ${p}`, () => assert.equal(scopeSeries(seriesWithDiff(fileDiff(p))).inScope, false));

  it('iommu: ACS in the changed lines counts, in the context only it does not', () => {
    const acs = fileDiff(
      'drivers/iommu/iommu.c',
      'return 0;',
      'return pci_acs_enabled(pdev, flags);',
    );
    assert.equal(scopeSeries(seriesWithDiff(acs)).inScope, true);
    const ctx = fileDiff('drivers/iommu/iommu.c', 'x = 1;', 'x = 2;', 'struct iommu_group *group;');
    assert.equal(scopeSeries(seriesWithDiff(ctx)).inScope, false);
  });

  it('kernel-parameters.txt: vfio module parameters count', () => {
    const d = fileDiff(
      'Documentation/admin-guide/kernel-parameters.txt',
      '',
      '\tvfio_iommu_type1.allow_unsafe_interrupts= [VFIO]',
    );
    assert.equal(scopeSeries(seriesWithDiff(d)).inScope, true);
  });

  it('a "--- " removed line inside a hunk is not a file header', () => {
    const d = `diff --git a/net/x.c b/net/x.c\n--- a/net/x.c\n+++ b/net/x.c\n@@ -1,2 +1,1 @@\n--- a/drivers/pci/evil.c\n-+++ b/drivers/pci/evil.c\n`;
    const r = scopeSeries(seriesWithDiff(d));
    assert.deepEqual([r.inScope, r.paths], [false, ['net/x.c']]);
  });

  it('names at most three paths and counts the rest', () => {
    const d = ['a', 'b', 'c', 'd', 'e'].map((n) => fileDiff(`net/${n}.c`)).join('');
    assert.equal(
      scopeSeries(seriesWithDiff(d)).reason,
      'touches only net/a.c, net/b.c, net/c.c and 2 more',
    );
  });

  it('absolute paths are refused', () => {
    const r = scopeSeries(
      seriesWithDiff('--- /etc/shadow\n+++ /etc/shadow\n@@ -1 +1 @@\n-a\n+b\n'),
    );
    assert.equal(r.inScope, false);
    assert.match(
      r.reason,
      /^refused: invalid paths in the diff: "\/etc\/shadow" \(absolute path\)/,
    );
  });

  it('a traditional header with a date after the name: the name is the path', () => {
    const d =
      '--- a/drivers/pci/x.c 2025-01-10 12:00:00\n+++ b/drivers/pci/x.c 2025-01-10 12:00:00\n' +
      '@@ -1 +1 @@\n-a\n+b\n';
    const r = scopeSeries(seriesWithDiff(d));
    assert.deepEqual([r.inScope, r.paths], [true, ['drivers/pci/x.c']]);
    const tab = d.replace(/ 2025-01-10 12:00:00/g, '\t2025-01-10 12:00:00.000000000 +0100');
    assert.deepEqual(scopeSeries(seriesWithDiff(tab)).paths, ['drivers/pci/x.c']);
    const created =
      '--- /dev/null 2025-01-10 12:00:00\n+++ drivers/vfio/new.c 2025-01-10 12:00:00\n' +
      '@@ -0,0 +1 @@\n+x\n';
    const c = scopeSeries(seriesWithDiff(created));
    assert.deepEqual([c.inScope, c.paths], [true, ['drivers/vfio/new.c']]);
  });

  it('-p0 names (no a/ b/) are read whole', () => {
    const d = '--- drivers/pci/x.c\n+++ drivers/pci/x.c\n@@ -1 +1 @@\n-a\n+b\n';
    const r = scopeSeries(seriesWithDiff(d));
    assert.deepEqual([r.inScope, r.paths], [true, ['drivers/pci/x.c']]);
  });

  it('C-quoted names are unquoted: a quote, a tab and UTF-8 in octal', () => {
    const d =
      'diff --git "a/drivers/pci/na\\"me.c" "b/drivers/pci/na\\"me.c"\n' +
      'index 1111111..2222222 100644\n' +
      '--- "a/drivers/pci/na\\"me.c"\n+++ "b/drivers/pci/na\\"me.c"\n@@ -1 +1 @@\n-a\n+b\n' +
      'diff --git "a/net/t\\303\\251st.c" "b/net/t\\303\\251st.c"\n' +
      '--- "a/net/t\\303\\251st.c"\n+++ "b/net/t\\303\\251st.c"\n@@ -1 +1 @@\n-a\n+b\n';
    const r = scopeSeries(seriesWithDiff(d));
    assert.deepEqual([r.inScope, r.paths], [true, ['drivers/pci/na"me.c']]);
    const tab = d.replace(/na\\"me/g, 'a\\tb');
    const t = scopeSeries(seriesWithDiff(tab));
    assert.equal(t.inScope, false, 'a tab in a name is refused');
    assert.match(t.reason, /"drivers\/pci\/a\\tb\.c" \(control character in path\)/);
  });

  it('no diff at all', () => {
    assert.equal(scopeSeries(seriesWithDiff(null)).reason, 'no diff in any patch');
  });
});
