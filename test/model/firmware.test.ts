// The SeaBIOS model against real SeaBIOS 1.16.2 (Debian 12's QEMU 7.2): the
// `info pci` QEMU printed after its firmware ran (recorded in
// fixtures/scenarios/seabios/ by `pcibot scenario firmware-check --record`),
// and one live run of the installed QEMU.
import { probeInfoPciSandboxed } from '../../bot/verify/qemu-probe.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fixturesDir } from '../../bot/util/paths.js';
import { runSeabios } from '../../bot/kernel/model/firmware/seabios.js';
import { buildScenarioMachine } from '../../bot/kernel/model/place.js';
import {
  compareFirmware,
  parseInfoPci,
  SEABIOS_DONE,
  seabiosLogDone,
} from '../../bot/kernel/model/qemu-info.js';
import { loadScenarios } from '../../bot/kernel/model/scenario.js';

const scenarioDir = join(fixturesDir, 'scenarios');
const recordedDir = join(scenarioDir, 'seabios');
const scenarios = new Map((await loadScenarios(scenarioDir)).map((s) => [s.name, s]));

test('recorded SeaBIOS placements cover every bootable x86 SeaBIOS scenario', async () => {
  const recorded = (await readdir(recordedDir))
    .filter((f) => f.endsWith('.info-pci'))
    .map((f) => f.replace(/\.info-pci$/, ''))
    .sort();
  const wanted = [...scenarios.values()]
    .filter((s) => s.arch === 'x86_64' && s.firmware === 'seabios' && s.boot)
    .map((s) => s.name)
    .sort();
  assert.deepEqual(recorded, wanted);
});

for (const file of (await readdir(recordedDir)).filter((f) => f.endsWith('.info-pci')).sort()) {
  const name = file.replace(/\.info-pci$/, '');
  test(`SeaBIOS model equals real SeaBIOS: ${name}`, async () => {
    const info = parseInfoPci(await readFile(join(recordedDir, file), 'utf8'));
    assert.ok(info.length >= 5, 'the recording lists the functions');
    const m = buildScenarioMachine(scenarios.get(name)!);
    const fw = runSeabios(m, 4096);
    const assignedBars = [...fw.bars.values()].reduce((n, b) => n + b.size, 0);
    assert.ok(assignedBars >= 3, 'the comparison covers real BAR addresses');
    assert.deepEqual(compareFirmware(m, fw, info), []);
  });
}

test('the comparison is not vacuous: SeaBIOS without the 4 KiB minimum differs from the real one', async () => {
  const info = parseInfoPci(
    await readFile(join(recordedDir, 'seed-001-reproducer.info-pci'), 'utf8'),
  );
  const m = buildScenarioMachine(scenarios.get('seed-001-reproducer')!);
  const diffs = compareFirmware(m, runSeabios(m, 0), info);
  assert.ok(
    diffs.some((d) => /01:01\.0 pci-testdev BAR2: model 0xe0000020, SeaBIOS 0xe0001000/.test(d)),
    diffs.join('\n'),
  );
});

test('SeaBIOS details: 64-bit overflow, reserve capability, hotplug reserve, SMBus at 0x700', () => {
  const big = buildScenarioMachine(scenarios.get('ivshmem-64bit-above-4g')!);
  const fw = runSeabios(big, 4096);
  const iv = big.functions.find((f) => f.def.driver === 'ivshmem-plain')!;
  assert.equal(fw.bars.get(iv.uid)!.get(2), 2 ** 32, '2 GiB BAR2 moved above 4 GiB');
  assert.equal(
    fw.bars.get(iv.uid)!.get(0),
    0xfebfe000,
    '256-byte BAR0 padded to 4 KiB, top-down below 0xfec00000',
  );
  assert.deepEqual(
    fw.mem64,
    [2 ** 32, 6 * 2 ** 30 - 1],
    'the 64-bit window ends on the next 1 GiB boundary',
  );

  const r = buildScenarioMachine(scenarios.get('rootport-reserve-seabios')!);
  const rf = runSeabios(r, 4096);
  const port = (id: string) => rf.windows.get(r.functions.find((f) => f.qemuId === id)!.uid)!;
  assert.equal(port('rp3').mem!.limit - port('rp3').mem!.base + 1, 8 * 2 ** 20, 'mem-reserve=8M');
  assert.equal(
    port('rp3').pref!.limit - port('rp3').pref!.base + 1,
    64 * 2 ** 20,
    'pref64-reserve=64M',
  );
  assert.equal(port('rp2').io, undefined, 'io-reserve=0 hard-disables the I/O window');
  assert.ok(port('rp').io!.limit < port('rp').io!.base, 'an empty PCIe port gets no I/O window');
  assert.equal(
    port('pb').pref!.limit - port('pb').pref!.base + 1,
    2 * 2 ** 20,
    'an SHPC bridge reserves 2 MiB even when empty',
  );
  const smbus = r.functions.find((f) => f.def.device === 0x2930)!;
  assert.equal(rf.bars.get(smbus.uid)!.get(4), 0x700);
});

test('SeaBIOS is done with PCI when its log moves past pci_setup(), not when the SMBus has its base', () => {
  // SeaBIOS enables decoding device by device; those behind a bridge come after the SMBus.
  const during = ['PCI: init bdf=00:1f.3 id=8086:2930', 'PCI: init bdf=01:00.0 id=1b36:0005'].join(
    '\n',
  );
  assert.equal(seabiosLogDone(during), false);
  assert.equal(seabiosLogDone(`${during}\nPCI: Using 00:01.0 for primary VGA\n`), false);
  assert.equal(
    seabiosLogDone(`${during}\nFound 1 cpu(s) max supported 1 cpu(s)\n`),
    true,
    'smp_setup() runs right after pci_setup()',
  );
  assert.equal(seabiosLogDone('Found 8 PCI devices (max PCI bus is 01)\n'), false);
});

test("live: the installed QEMU 7.2 + SeaBIOS places seed 001's reproducer exactly as modelled", async () => {
  const s = scenarios.get('seed-001-reproducer')!;
  const text = await probeInfoPciSandboxed(s.qemuArgs, {
    binary: 'qemu-system-x86_64',
    runFirmware: SEABIOS_DONE,
  });
  const m = buildScenarioMachine(s);
  const info = parseInfoPci(text);
  const bridge = info.find((i) => i.vendor === 0x1b36 && i.device === 0x000e)!;
  assert.deepEqual(
    bridge.windows.map((w) => [w.kind, w.base, w.limit]),
    [
      ['io', 0xc000, 0xcfff],
      ['mem', 0xfe800000, 0xfe9fffff],
      ['pref', 0xd0000000, 0xefffffff],
    ],
  );
  assert.deepEqual(compareFirmware(m, runSeabios(m, 4096), info), []);
});
