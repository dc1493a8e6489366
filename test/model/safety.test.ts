// Each safety check has a scenario that fires it and one that must stay quiet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Finding } from '../../bot/types.js';
import { fixturesDir } from '../../bot/util/paths.js';
import {
  policyAcsFix2025,
  policyFor6_12,
  policyFor6_15,
  type KernelPolicy,
} from '../../bot/kernel/model/policy.js';
import { evaluate } from '../../bot/kernel/model/run.js';
import { runSafetyChecks } from '../../bot/kernel/model/safety.js';
import { loadScenarios } from '../../bot/kernel/model/scenario.js';
import type { Layout } from '../../bot/kernel/model/layout.js';

const scenarios = new Map(
  (await loadScenarios(join(fixturesDir, 'scenarios'))).map((s) => [s.name, s]),
);

function findings(
  name: string,
  pageSize: number,
  policy: KernelPolicy = policyFor6_12(),
): Finding[] {
  const s = scenarios.get(name);
  assert.ok(s, name);
  return evaluate(s, policy, pageSize).findings;
}
const of = (fs: Finding[], rule: string) => fs.filter((f) => f.rule === rule);

test('every finding names devices, BARs or groups, carries a stable key and a reference', () => {
  for (const [name, ps] of [
    ['seed-001-reproducer-qboot', 4096],
    ['nvme-arm64', 65536],
    ['oversized-ism-bar', 4096],
    ['multifunction-no-acs', 4096],
  ] as const) {
    for (const f of findings(name, ps)) {
      assert.match(f.rule, /^model\//);
      assert.ok(['error', 'warning', 'info'].includes(f.severity));
      assert.ok(f.title && f.detail && f.references.length, `${f.rule} is explained`);
      assert.equal(typeof f.evidence['key'], 'string');
      assert.equal(f.patch, undefined);
      assert.equal(f.file, undefined);
    }
  }
});

test('1 shared-page fires: qboot packs three 32-byte BAR2s of different devices into one 4K page', () => {
  const fs = of(findings('seed-001-reproducer-qboot', 4096), 'model/shared-page');
  assert.equal(fs.length, 1);
  const f = fs[0]!;
  assert.equal(f.severity, 'error');
  assert.deepEqual(f.evidence['pages'], ['0x110000000']);
  assert.deepEqual(f.evidence['devices'], ['0000:01:00.0', '0000:01:01.0', '0000:01:02.0']);
  assert.deepEqual(
    (f.evidence['bars'] as { start: string }[]).map((b) => b.start),
    ['0x110000000', '0x110000020', '0x110000040'],
  );
  assert.match(f.references[0]!, /XSA-461 \/ CVE-2024-31146/);
});

test('1 shared-page quiet: SeaBIOS pads the same BARs to 4 KiB', () => {
  assert.deepEqual(of(findings('seed-001-reproducer', 4096), 'model/shared-page'), []);
  assert.deepEqual(of(findings('rootport-small-bars', 4096), 'model/shared-page'), []);
});

test('1 shared-page at larger pages: the same SeaBIOS layout shares 64K pages', () => {
  const fs = of(findings('seed-001-reproducer', 65536), 'model/shared-page');
  assert.ok(
    fs.some(
      (f) =>
        (f.evidence['devices'] as string[]).length === 4 &&
        (f.evidence['pages'] as string[])[0] === '0xfe800000',
    ),
  );
});

test('2 subpage-mmap fires for an unaligned or non-exclusive small BAR, quiet when the page is exclusive', () => {
  const fs = of(findings('seed-001-reproducer-qboot', 4096), 'model/subpage-mmap');
  assert.deepEqual(fs.map((f) => `${f.evidence['device']}/${f.evidence['bar']}`).sort(), [
    '0000:01:00.0/2',
    '0000:01:01.0/2',
    '0000:01:02.0/2',
  ]);
  assert.ok(fs.every((f) => f.severity === 'warning'));
  assert.deepEqual(of(findings('rootport-small-bars', 4096), 'model/subpage-mmap'), []);
  assert.deepEqual(of(findings('rootport-small-bars-arm64', 65536), 'model/subpage-mmap'), []);
});

test('3 msix-page fires at 64K for nvme (table shares the host page with doorbells), quiet at 4K and with msix-exclusive-bar', () => {
  const fs = of(findings('nvme-arm64', 65536), 'model/msix-page');
  assert.equal(fs.length, 1);
  assert.equal(fs[0]!.evidence['device'], '0000:01:00.0');
  assert.deepEqual(fs[0]!.evidence['table'], { offset: '0x2000', size: 1040 });
  assert.match(fs[0]!.detail, /follows the 4 KiB rule/);
  assert.deepEqual(of(findings('nvme-arm64', 4096), 'model/msix-page'), []);
  assert.deepEqual(of(findings('nvme-msix-shared-bar', 4096), 'model/msix-page'), []);
  assert.deepEqual(of(findings('nvme-msix-exclusive-bar-arm64', 65536), 'model/msix-page'), []);
  assert.deepEqual(of(findings('e1000e-rootport', 4096), 'model/msix-page'), []);
});

test("3 msix-page fires at 4K when registers share the table's 4 KiB range (PCIe r6.x 7.7.2)", () => {
  const fs = of(findings('custom-msix-small-bar', 4096), 'model/msix-page');
  assert.equal(fs.length, 1);
  assert.match(fs[0]!.title, /shares a 4 KiB range/);
  assert.match(fs[0]!.references[0]!, /7\.7\.2/);
});

test('4 oversized-bar fires under 6.12 (mmap offered for a 256 TiB BAR), quiet under 6.15 and for normal BARs', () => {
  const fs = of(findings('oversized-ism-bar', 4096), 'model/oversized-bar');
  assert.equal(fs.length, 1);
  assert.equal(fs[0]!.severity, 'error');
  assert.equal(fs[0]!.evidence['id'], '1014:04ed');
  assert.equal(fs[0]!.evidence['size'], 2 ** 48);
  assert.notEqual(fs[0]!.evidence['start'], null, 'Linux placed it (in the 1 PiB 64-bit hole)');
  assert.deepEqual(
    of(findings('oversized-ism-bar', 4096, policyFor6_15()), 'model/oversized-bar'),
    [],
  );
  assert.deepEqual(of(findings('e1000e-rootport', 4096), 'model/oversized-bar'), []);
  const capped = { ...policyFor6_12(), vfio: { ...policyFor6_12().vfio, maxMappableBar: 2 ** 40 } };
  assert.deepEqual(
    of(findings('oversized-ism-bar', 4096, capped), 'model/oversized-bar'),
    [],
    'a policy that refuses the mmap is quiet',
  );
});

test('5 group fires behind a PCIe-to-PCI bridge and for a multifunction slot without ACS; quiet with one device per port', () => {
  const behind = of(findings('seed-001-reproducer', 4096), 'model/group');
  assert.equal(behind.length, 1);
  assert.deepEqual(behind[0]!.evidence['devices'], [
    '0000:00:03.0',
    '0000:01:00.0',
    '0000:01:01.0',
    '0000:01:02.0',
    '0000:01:03.0',
  ]);
  assert.match(behind[0]!.detail, /requester ID/);
  const mf = of(findings('multifunction-no-acs', 4096), 'model/group');
  assert.equal(mf.length, 1);
  assert.deepEqual(mf[0]!.evidence['devices'], ['0000:01:00.0', '0000:01:00.1']);
  assert.deepEqual(of(findings('e1000e-rootport', 4096), 'model/group'), []);
  assert.deepEqual(
    of(findings('ioh3420-no-acs-arm64', 4096), 'model/group'),
    [],
    'ports on the root bus stay separate',
  );
});

test('5 group: the switch without ACS is quiet before the 2025 ACS fix and fires with it', () => {
  assert.deepEqual(of(findings('switch-no-acs', 4096), 'model/group'), []);
  const fixed = of(findings('switch-no-acs', 4096, policyAcsFix2025()), 'model/group');
  assert.equal(fixed.length, 1);
  assert.ok(
    (fixed[0]!.evidence['devices'] as string[]).filter(
      (d) => d.startsWith('0000:03:') || d.startsWith('0000:04:'),
    ).length === 2,
  );
  assert.equal(fixed[0]!.evidence['grouping'], 'acs-fix-2025');
});

test('viommu-attach: SMMUv3 refuses the devices that alias to an in-use StreamID', () => {
  const fs = of(findings('seed-001-reproducer-arm64-smmu', 65536), 'model/viommu-attach');
  assert.equal(fs.length, 1);
  assert.deepEqual(
    (fs[0]!.evidence['rejected'] as { bdf: string }[]).map((r) => r.bdf),
    ['0000:01:02.0', '0000:01:03.0', '0000:01:04.0'],
  );
  assert.deepEqual(of(findings('seed-001-reproducer-iommu', 4096), 'model/viommu-attach'), []);
});

test('quiet when safe: a one-device scenario yields no finding at all', () => {
  assert.deepEqual(findings('e1000e-rootport', 4096), []);
  assert.deepEqual(findings('hotplug-rootports-qboot', 4096), []);
});

test('runSafetyChecks on a hand-made layout: an aligned sub-page BAR with its page free is mmap-able', () => {
  const layout: Layout = {
    devices: [
      {
        bdf: '0000:01:00.0',
        name: 'a',
        kind: 'endpoint',
        bars: [
          {
            index: 0,
            start: 0x10000,
            size: 0x100,
            flags: { io: false, is64: false, prefetch: false },
          },
        ],
        windows: [],
      },
      {
        bdf: '0000:02:00.0',
        name: 'b',
        kind: 'endpoint',
        bars: [
          {
            index: 0,
            start: 0x11000,
            size: 0x1000,
            flags: { io: false, is64: false, prefetch: false },
          },
        ],
        windows: [],
      },
    ],
    groups: null,
    lost: [],
  };
  assert.deepEqual(
    runSafetyChecks({
      layout,
      pageSize: 4096,
      policy: policyFor6_12(),
      groupOf: null,
      source: 't',
    }),
    [],
  );
  const at64k = runSafetyChecks({
    layout,
    pageSize: 65536,
    policy: policyFor6_12(),
    groupOf: null,
    source: 't',
  });
  assert.deepEqual(at64k.map((f) => f.rule).sort(), [
    'model/shared-page',
    'model/subpage-mmap',
    'model/subpage-mmap',
  ]);
  const never = runSafetyChecks({
    layout,
    pageSize: 4096,
    policy: { ...policyFor6_12(), vfio: { ...policyFor6_12().vfio, subPageMmap: 'never' } },
    groupOf: null,
    source: 't',
  });
  assert.deepEqual(
    never.map((f) => f.rule),
    ['model/subpage-mmap'],
  );
});
