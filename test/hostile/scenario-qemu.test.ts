// Scenarios are input: a QEMU line pasted by anyone. Every option or property
// that would make QEMU reach the host (files, sockets, monitors, host devices,
// firmware or kernels by path) is refused before QEMU runs, naming the option
// and the scenario; the whole bundled library and the ground-truth command
// lines stay accepted.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RefusedScenarioError } from '../../bot/kernel/model/errors.js';
import { checkQemuAllowList } from '../../bot/kernel/model/qemu-allow.js';
import { tokenizeShell } from '../../bot/kernel/model/qemu-args.js';
import {
  loadScenarios,
  loadScenariosLenient,
  parseScenario,
} from '../../bot/kernel/model/scenario.js';
import { DEFAULT_LIMITS } from '../../bot/limits.js';
import { fixturesDir } from '../../bot/util/paths.js';
import { groundTruthDir } from '../../bot/verify/ground-truth.js';
import { loadVerifyScenarios } from '../../bot/verify/scenarios.js';
import { runCli } from '../cli-io.js';

const temps: string[] = [];
after(() => Promise.all(temps.map((d) => rm(d, { recursive: true, force: true }))));

const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

function scenarioText(extra: string[]): string {
  return [
    'name: decoy',
    'description: a scenario carrying an option that reaches the host',
    'arch: x86_64',
    'boot: yes',
    `qemu: -M q35 -m 512 -vga none -nic none -device pci-testdev,membar=32 ${extra.map(quote).join(' ')}`,
    '',
  ].join('\n');
}

test('every bundled scenario and every ground-truth command line passes the allow-list', async () => {
  const library = await loadScenarios(join(fixturesDir, 'scenarios'));
  assert.ok(library.length >= 30, `${library.length} scenarios`);
  for (const s of library) checkQemuAllowList(s.qemuArgs);
  const dirs = [groundTruthDir, '/work/shared/ground-truth'].filter((d) => existsSync(d));
  for (const dir of dirs) {
    const loaded = loadVerifyScenarios([dir]);
    assert.deepEqual(loaded.errors, [], dir);
    assert.equal(loaded.scenarios.length, 8, dir);
  }
});

test('allowed: the options that shape the layout and a few that only switch things off', () => {
  for (const line of [
    '-M q35,kernel-irqchip=split -m 512 -smp 2 -cpu max -accel tcg,thread=single -nodefaults',
    '-M virt,iommu=smmuv3 -cpu cortex-a57 -m 1G -nographic -no-reboot -display none -serial none',
    '-device pcie-root-port,id=rp1,chassis=1,bus=pcie.0,addr=0x2,multifunction=on',
    '-device e1000e,romfile= -global pcie-root-port.hotplug=off',
    '-drive if=none,id=d0,file=null-co://,format=raw -device nvme,drive=d0,serial=n0',
    '-object memory-backend-ram,id=m0,size=1M -device ivshmem-plain,memdev=m0',
    '-nic none -netdev user,id=n0 -monitor none -bios /usr/share/qemu/qboot.rom',
    'qemu-system-x86_64 -bios bios.bin -name guest0',
  ])
    checkQemuAllowList(tokenizeShell(line));
});

/** Each refused option, pointing at the decoy file D or the directory T where it can. */
const REFUSED: [option: string, args: (d: string, t: string) => string[]][] = [
  ['-D', (d) => ['-D', d]],
  ['-d', () => ['-d', 'guest_errors']],
  ['-trace', (d) => ['-trace', `enable=*,file=${d}`]],
  ['-chardev', (d) => ['-chardev', `file,id=c0,path=${d}`]],
  ['-monitor', (d) => ['-monitor', `file:${d}`]],
  ['-mon', () => ['-mon', 'chardev=c0']],
  ['-serial', (d) => ['-serial', `file:${d}`]],
  ['-serial', (_d, t) => ['-serial', `unix:${t}/serial.sock,server=on,wait=off`]],
  ['-qmp', (_d, t) => ['-qmp', `unix:${t}/qmp.sock,server=on,wait=off`]],
  ['-drive', (d) => ['-drive', `if=none,id=d0,file=${d},format=raw`]],
  ['-drive', (d) => ['-drive', `if=pflash,file=${d},format=raw`]],
  ['-blockdev', (d) => ['-blockdev', `driver=file,node-name=n0,filename=${d}`]],
  ['-hda', (d) => ['-hda', d]],
  ['-cdrom', (d) => ['-cdrom', d]],
  ['-netdev', () => ['-netdev', 'socket,id=n0,listen=:1234']],
  ['-netdev', () => ['-netdev', 'tap,id=n0']],
  ['-netdev', (_d, t) => ['-netdev', `user,id=n0,smb=${t}`]],
  ['-nic', (_d, t) => ['-nic', `user,tftp=${t}`]],
  ['-object', (d) => ['-object', `memory-backend-file,id=m0,size=1M,mem-path=${d}`]],
  ['-fsdev', (_d, t) => ['-fsdev', `local,id=f0,path=${t},security_model=none`]],
  ['-virtfs', (_d, t) => ['-virtfs', `local,path=${t},mount_tag=t,security_model=none`]],
  ['-incoming', (d) => ['-incoming', `exec:cat ${d}`]],
  ['-pidfile', (d) => ['-pidfile', d]],
  ['-daemonize', () => ['-daemonize']],
  ['-loadvm', () => ['-loadvm', 'snap0']],
  ['-plugin', (d) => ['-plugin', d]],
  ['-readconfig', (d) => ['-readconfig', d]],
  ['-writeconfig', (d) => ['-writeconfig', d]],
  ['-sandbox', () => ['-sandbox', 'off']],
  ['-L', (_d, t) => ['-L', t]],
  ['-bios', (d) => ['-bios', d]],
  ['-kernel', (d) => ['-kernel', d]],
  ['-initrd', (d) => ['-initrd', d]],
  ['-append', () => ['-append', 'console=ttyS0']],
  ['-device', () => ['-device', 'vfio-pci,host=01:00.0']],
  ['-device', (d) => ['-device', `e1000e,romfile=${d}`]],
  ['-device', () => ['-device', 'ivshmem-doorbell,chardev=c0']],
  ['-global', (d) => ['-global', `e1000e.romfile=${d}`]],
  ['-add-fd', (d) => ['-add-fd', `fd=3,set=1,opaque=${d}`]],
  ['-spice', () => ['-spice', 'port=5900,disable-ticketing=on']],
  ['-vnc', () => ['-vnc', ':0']],
  ['-display', () => ['-display', 'gtk']],
  ['-audiodev', (d) => ['-audiodev', `wav,id=a0,path=${d}`]],
  ['-mem-path', (_d, t) => ['-mem-path', t]],
  ['-option-rom', (d) => ['-option-rom', d]],
  ['-fw_cfg', (d) => ['-fw_cfg', `name=opt/x,file=${d}`]],
  ['-smbios', (d) => ['-smbios', `file=${d}`]],
  ['-acpitable', (d) => ['-acpitable', `file=${d}`]],
  ['-boot', (d) => ['-boot', `splash=${d}`]],
  ['-icount', (d) => ['-icount', `shift=1,rr=record,rrfile=${d}`]],
  ['-machine', (d) => ['-machine', `q35,dumpdtb=${d}`]],
  ['-gdb', () => ['-gdb', 'tcp::1234']],
  ['-s', () => ['-s']],
  ['-snapshot', () => ['-snapshot']],
  ['@', (d) => [`@${d}`]],
];

test('refused: each option that reaches the host, named, before QEMU runs; the decoy is untouched and nothing is created', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pcibot-decoy-'));
  temps.push(dir);
  const decoy = join(dir, 'decoy.txt');
  const decoyBytes = Buffer.from('an unrelated file that must survive\n'.repeat(10));
  await writeFile(decoy, decoyBytes);
  const scenarioDir = join(dir, 'scenarios');
  const qemuDir = join(dir, 'qemu-t');
  // A directory the options point at (-L, -fsdev, sockets): it must stay empty.
  await writeFile(join(dir, 'placeholder'), '');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(scenarioDir);
  await mkdir(qemuDir);
  const before = (await readdir(dir)).sort();
  for (const [option, make] of REFUSED) {
    const args = make(decoy, qemuDir);
    const file = join(scenarioDir, 'decoy.scenario');
    await writeFile(file, scenarioText(args));
    assert.throws(
      () => parseScenario(scenarioText(args), file),
      (e: unknown) =>
        e instanceof RefusedScenarioError &&
        e.option.startsWith(option) &&
        e.message.startsWith(`${file}:5: qemu: ${e.option}`) &&
        /refused/.test(e.message),
      args.join(' '),
    );
    for (const sub of ['firmware-check', 'run']) {
      const r = await runCli(['scenario', sub, file], { cwd: dir });
      assert.equal(r.code, 2, `${sub} ${args.join(' ')}: ${r.err}`);
      assert.ok(r.err.includes(file) && r.err.includes(`${option}`), r.err);
      assert.match(r.err, /refused/);
      assert.doesNotMatch(r.out, /SeaBIOS placement|difference/);
    }
    assert.deepEqual(await readFile(decoy), decoyBytes, `${args.join(' ')}: the decoy changed`);
    assert.deepEqual((await readdir(dir)).sort(), before, `${args.join(' ')}: files created`);
    assert.deepEqual(await readdir(qemuDir), [], `${args.join(' ')}: files created`);
    assert.deepEqual(await readdir(scenarioDir), ['decoy.scenario']);
  }
});

test('scenario size limit: a file over maxScenarioBytes is refused by name, unread past the limit', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pcibot-big-'));
  temps.push(dir);
  const ok = scenarioText([]);
  await writeFile(join(dir, 'a.scenario'), ok);
  // A valid scenario padded with comment lines to just over the default limit.
  const big =
    ok + `# ${'x'.repeat(100)}\n`.repeat(Math.ceil(DEFAULT_LIMITS.maxScenarioBytes / 100));
  await writeFile(join(dir, 'big.scenario'), big);
  const lenient = await loadScenariosLenient(dir);
  assert.deepEqual(
    lenient.scenarios.map((s) => s.name),
    ['decoy'],
  );
  assert.equal(lenient.errors.length, 1);
  assert.match(lenient.errors[0]!.message, /big\.scenario: .*maxScenarioBytes limit \(256 KiB\)/);
  assert.match(
    loadVerifyScenarios([join(dir, 'big.scenario')]).errors[0]!.message,
    /maxScenarioBytes/,
  );
  // A smaller limit applies to the small file too.
  await assert.rejects(
    loadScenarios(join(dir, 'a.scenario'), 64),
    /maxScenarioBytes limit \(64 bytes\)/,
  );
  const r = await runCli(['scenario', 'run', join(dir, 'big.scenario')], { cwd: dir });
  assert.equal(r.code, 2);
  assert.match(r.err, /big\.scenario: .*maxScenarioBytes/);
});
