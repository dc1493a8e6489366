// IOMMU groups from the topology: the host-side view and the guest view under
// each vIOMMU, with the facts real boots showed (bot/verify measured these).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fixturesDir } from '../../bot/util/paths.js';
import { computeGroups, dmaAliases, guestGroups } from '../../bot/kernel/model/groups.js';
import { buildScenarioMachine, placeScenario } from '../../bot/kernel/model/place.js';
import { policyAcsFix2025, policyFor6_12 } from '../../bot/kernel/model/policy.js';
import { loadScenarios } from '../../bot/kernel/model/scenario.js';

const scenarios = new Map(
  (await loadScenarios(join(fixturesDir, 'scenarios'))).map((s) => [s.name, s]),
);
const groupsOf = (name: string, policy = policyFor6_12()) => {
  const m = buildScenarioMachine(scenarios.get(name)!);
  return computeGroups(m, policy).groups.map((g) => g.bdfs.map((b) => b.slice(5)).join(' '));
};

test('DMA aliases: a PCIe-to-PCI bridge stands in for everything below it, root ports are transparent', () => {
  const m = buildScenarioMachine(scenarios.get('seed-001-reproducer-arm64')!);
  const dev = m.functions.find((f) => f.def.driver === 'pci-testdev' && f.slot === 2)!;
  assert.deepEqual(
    dmaAliases(dev).map((a) => a.rid.toString(16)),
    ['110', '100'],
  );
  const rp = buildScenarioMachine(scenarios.get('e1000e-rootport')!);
  const nic = rp.functions.find((f) => f.def.driver === 'e1000e')!;
  assert.deepEqual(
    dmaAliases(nic).map((a) => a.rid.toString(16)),
    ['100'],
  );
});

test('host view: ACS root ports isolate, switch downstream ports without ACS keep their device, siblings unmerged (pre-2025)', () => {
  assert.deepEqual(groupsOf('e1000e-rootport'), [
    '00:00.0',
    '00:01.0',
    '00:1f.0 00:1f.2 00:1f.3',
    '01:00.0',
  ]);
  assert.deepEqual(groupsOf('switch-no-acs'), [
    '00:00.0',
    '00:01.0',
    '00:1f.0 00:1f.2 00:1f.3',
    '01:00.0',
    '02:00.0 03:00.0',
    '02:01.0 04:00.0',
  ]);
  assert.deepEqual(groupsOf('multifunction-no-acs'), [
    '00:00.0',
    '00:01.0',
    '00:1f.0 00:1f.2 00:1f.3',
    '01:00.0 01:00.1',
  ]);
});

test('host view with the 2025 ACS fix: sibling ports merge, PCIe functions without ACS stay apart, the PCIe-to-PCI bridge is left out', () => {
  const fix = policyAcsFix2025();
  assert.deepEqual(groupsOf('switch-no-acs', fix), [
    '00:00.0',
    '00:01.0',
    '00:1f.0 00:1f.2 00:1f.3',
    '01:00.0',
    '02:00.0 02:01.0 03:00.0 04:00.0',
  ]);
  assert.deepEqual(groupsOf('multifunction-no-acs', fix), [
    '00:00.0',
    '00:01.0',
    '00:1f.0 00:1f.2 00:1f.3',
    '01:00.0',
    '01:00.1',
  ]);
  const behind = groupsOf('seed-001-reproducer-qboot', fix);
  assert.ok(behind.includes('00:03.0'), 'the bridge alone');
  assert.ok(behind.includes('01:00.0 01:01.0 01:02.0 01:03.0'), 'the aliased devices together');
});

test("guest view under a DT SMMUv3: ACS is requested too late, so each root port shares its device's group (measured)", () => {
  const p = placeScenario(scenarios.get('virtio-smmu-arm64')!, policyFor6_12(), 65536);
  assert.deepEqual(
    p.layout.groups!.map((g) => g.bdfs.map((b) => b.slice(5)).join(' ')),
    ['00:01.0 01:00.0', '00:02.0 02:00.0', '00:03.0 03:01.0'],
  );
  assert.deepEqual(
    p.guestRejected.map((r) => r.bdf.slice(5)),
    ['00:00.0', '03:02.0'],
  );
  assert.match(p.guestRejected[1]!.reason, /stream 768 already in use/);
  // The host-side view of the same topology (an IOMMU that asks for ACS early) isolates the ports.
  assert.ok(p.hostGroups.groups.some((g) => g.bdfs.length === 1 && g.bdfs[0] === '0000:01:00.0'));
});

test('guest view under intel-iommu attaches every function, host bridge included (base-iommu)', () => {
  const m = buildScenarioMachine(scenarios.get('seed-001-reproducer-iommu')!);
  const g = guestGroups(m, policyFor6_12(), computeGroups(m, policyFor6_12()));
  assert.equal(g.rejected.length, 0);
  assert.equal(g.groups[0]!.bdfs[0], '0000:00:00.0');
});

test('bus numbers follow the firmware: qboot numbers the last bridge of a bus first (measured with hotplug-rootports-qboot)', () => {
  const q = placeScenario(scenarios.get('hotplug-rootports-qboot')!, policyFor6_12(), 4096);
  assert.ok(
    q.layout.devices.some((d) => d.bdf === '0000:01:00.0' && d.name === 'e1000e'),
    'e1000e behind the third root port is bus 1',
  );
  const s = placeScenario(
    scenarios.get('hotplug-rootports-qboot')!,
    policyFor6_12(),
    4096,
    'seabios',
  );
  assert.ok(
    s.layout.devices.some((d) => d.bdf === '0000:03:00.0' && d.name === 'e1000e'),
    'SeaBIOS numbers in devfn order',
  );
});
