import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturesDir } from '../../bot/util/paths.js';
import { ModelInputError } from '../../bot/kernel/model/errors.js';
import { buildScenarioMachine } from '../../bot/kernel/model/place.js';
import {
  loadScenarios,
  loadScenariosLenient,
  parseScenario,
} from '../../bot/kernel/model/scenario.js';

/** Temporary directories made by the tests, removed at the end. */
const temps: string[] = [];
after(() => Promise.all(temps.map((d) => rm(d, { recursive: true, force: true }))));

const BASIC = `# a comment
name: demo
description: a demo
arch: x86_64                 # x86_64 | arm64
page-sizes: 4k,64k
kernel-args: pci=resource_alignment=12@pci:1b36:0005
boot: yes
qemu: qemu-system-x86_64 -M q35 -m 512 -vga none -nic none \\
  -device pcie-pci-bridge,id=pcie.1 \\
  -device pci-testdev,bus=pcie.1,membar=32
`;

test('parseScenario: fields, inline comments, backslash continuation, defaults', () => {
  const s = parseScenario(BASIC, 'demo.scenario');
  assert.equal(s.name, 'demo');
  assert.equal(s.arch, 'x86_64');
  assert.equal(s.firmware, 'seabios', 'x86 without -bios runs SeaBIOS');
  assert.deepEqual(s.pageSizes, [4096, 65536]);
  assert.equal(s.kernelArgs, 'pci=resource_alignment=12@pci:1b36:0005');
  assert.equal(s.boot, true);
  assert.deepEqual(s.qemuArgs, [
    'qemu-system-x86_64',
    '-M',
    'q35',
    '-m',
    '512',
    '-vga',
    'none',
    '-nic',
    'none',
    '-device',
    'pcie-pci-bridge,id=pcie.1',
    '-device',
    'pci-testdev,bus=pcie.1,membar=32',
  ]);
  assert.equal(s.file, 'demo.scenario');
  assert.deepEqual(JSON.parse(JSON.stringify(s)), s, 'a Scenario is JSON-serialisable');
});

test('parseScenario: indented continuation lines and firmware from -bios', () => {
  const s = parseScenario(
    'name: q\ndescription: d\narch: x86_64\nqemu: -M q35\n  -bios /usr/share/qemu/qboot.rom\n  -device e1000e\n',
    'q',
  );
  assert.equal(s.firmware, 'qboot');
  assert.deepEqual(s.qemuArgs, [
    '-M',
    'q35',
    '-bios',
    '/usr/share/qemu/qboot.rom',
    '-device',
    'e1000e',
  ]);
  assert.deepEqual(s.pageSizes, [4096]);
  const a = parseScenario('name: a\ndescription: d\narch: arm64\nqemu: -M virt\n', 'a');
  assert.equal(a.firmware, 'none');
  assert.deepEqual(a.pageSizes, [4096, 16384, 65536]);
});

test('parseScenario: errors name the file, line and the offending key, option, device or property', () => {
  const bad = (text: string, re: RegExp) => {
    assert.throws(
      () => parseScenario(text, 'bad.scenario'),
      (e: unknown) =>
        e instanceof ModelInputError && re.test(e.message) && e.message.startsWith('bad.scenario'),
    );
  };
  bad('name: x\ncolour: blue\n', /bad\.scenario:2: unknown key "colour"/);
  bad(
    'name: x\ndescription: d\narch: x86_64\nqemu: -M q35 -device pci-testdev,membar=32,colour=blue\n',
    /bad\.scenario:4: .*no modelled property "colour"/,
  );
  bad(
    'name: x\ndescription: d\narch: x86_64\nqemu: -M q35 -device sound-blaster\n',
    /device "sound-blaster" is not in the catalogue/,
  );
  bad('name: x\ndescription: d\narch: x86_64\nqemu: -M q35 -usb\n', /option -usb is not modelled/);
  bad(
    'name: x\ndescription: d\narch: x86_64\nqemu: -M q35\npage-sizes: 8k\n',
    /bad\.scenario:5: page-sizes: page size 8k/,
  );
  bad('name: x\ndescription: d\narch: sparc\nqemu: -M q35\n', /arch "sparc"/);
  bad(
    'name: x\ndescription: d\narch: x86_64\nboot: yes\nqemu: -M q35 -device custom,bar0=mem32:4K\n',
    /boot: yes, but custom is not a QEMU 7.2 device/,
  );
  bad(
    'name: x\ndescription: d\narch: x86_64\nqemu: -M q35\nkernel-args: pci=nocrs\n',
    /pci=nocrs is not modelled/,
  );
  bad('name: x\narch: x86_64\nqemu: -M q35\n', /missing "description:"/);
  bad(
    'name: x\ndescription: d\narch: x86_64\nqemu: -M q35 -device e1000e,bus=nowhere\n',
    /bus "nowhere" does not exist/,
  );
});

test('the scenario library: at least 20 scenarios, all valid, names unique, descriptions say what they exercise', async () => {
  const all = await loadScenarios(join(fixturesDir, 'scenarios'));
  assert.ok(all.length >= 20, `${all.length} scenarios`);
  assert.equal(new Set(all.map((s) => s.name)).size, all.length);
  for (const s of all) {
    assert.ok(s.description.length > 60, `${s.name}: description says what it exercises`);
    assert.ok(s.file.endsWith(`${s.name}.scenario`), `${s.file} is named after the scenario`);
    buildScenarioMachine(s);
  }
  const cover = (re: RegExp) => all.filter((s) => re.test(s.qemuArgs.join(' ')));
  assert.ok(cover(/pcie-root-port/).length >= 3);
  assert.ok(cover(/pci-bridge|pcie-pci-bridge/).length >= 3);
  assert.ok(cover(/nvme/).length >= 2);
  assert.ok(cover(/igb/).length >= 2);
  assert.ok(cover(/xio3130-downstream/).length >= 1);
  assert.ok(cover(/multifunction=on/).length >= 1);
  assert.ok(cover(/256T/).length >= 1);
  assert.ok(
    all.some((s) => s.pageSizes.includes(16384)) && all.some((s) => s.pageSizes.includes(65536)),
  );
  assert.ok(
    all.some((s) => s.firmware === 'seabios-nomin') &&
      all.some((s) => s.firmware === 'qboot') &&
      all.some((s) => s.firmware === 'none'),
  );
});

test('loadScenariosLenient: a bad file is reported by name and the rest of the batch still loads', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pcibot-scen-'));
  temps.push(dir);
  await writeFile(join(dir, 'a.scenario'), 'name: a\ndescription: d\narch: x86_64\nqemu: -M q35\n');
  await writeFile(
    join(dir, 'b.scenario'),
    'name: b\ndescription: d\narch: x86_64\nqemu: -M q35 -device nonsense\n',
  );
  await writeFile(join(dir, 'notes.txt'), 'ignored');
  const r = await loadScenariosLenient(dir);
  assert.deepEqual(
    r.scenarios.map((s) => s.name),
    ['a'],
  );
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0]!.message, /b\.scenario:4: .*"nonsense"/);
  await assert.rejects(loadScenarios(dir), /b\.scenario/);
});
