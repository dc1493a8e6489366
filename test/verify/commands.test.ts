// The verify stage without QEMU: which scenarios boot, the QEMU command lines, and
// the commands' handling of model-only scenarios and bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import verifyCommand from '../../workers/commands/verify.js';
import recordCommand from '../../workers/commands/record-layouts.js';
import { UsageError, type CommandIO } from '../../workers/commands/command.js';
import type { BootArch, BootFirmware } from '../../bot/kernel/vocabulary.js';
import { qemuCommand, BootError } from '../../bot/verify/boot.js';
import { groundTruthDir, loadGroundTruth } from '../../bot/verify/ground-truth.js';
import { groundTruthScenario, loadVerifyScenarios } from '../../bot/verify/scenarios.js';
import { planScenario, verifyScenarios } from '../../bot/verify/verify.js';
import { recordedLayoutName } from '../../bot/verify/recorded.js';
import { fixturesDir } from '../../bot/util/paths.js';

const scenariosDir = join(fixturesDir, 'scenarios');

function io(env: Record<string, string> = {}): CommandIO & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const base: CommandIO = {
    stdout: (t: string) => void out.push(t),
    stderr: (t: string) => void err.push(t),
    stdin: Readable.from([]) as unknown as NodeJS.ReadableStream,
    isTTY: false,
    stdoutIsTTY: false,
    // A tree that does not exist: any attempt to build would fail loudly.
    env: { PCIBOT_TREE: '/nonexistent/pcibot-tree', ...env },
    cwd: process.cwd(),
  };
  return { ...base, out, err };
}

test('every ground-truth command line becomes the same QEMU invocation', () => {
  const truth = loadGroundTruth();
  // The eight ground-truth boots (README); an empty list would pass the loop below vacuously.
  assert.equal(truth.length, 8, `ground-truth boots found: ${truth.map((b) => b.name).join(', ')}`);
  for (const b of truth) {
    const s = groundTruthScenario(join(groundTruthDir, `${b.name}.cmd`));
    const argv = qemuCommand({
      arch: s.arch as BootArch,
      qemuArgs: s.qemuArgs,
      kernel: 'K',
      initrd: 'I',
      kernelArgs: s.kernelArgs,
      firmware: s.firmware as BootFirmware,
    });
    const want = b.command.split(/\s+/);
    const devices = (args: string[]) => args.filter((_, i) => args[i - 1] === '-device');
    assert.deepEqual(devices(argv), devices(want), b.name);
    assert.equal(argv[0], want[0], b.name);
    // -append exactly as the ground truth had it (it shows up in /proc/cmdline).
    const append = argv[argv.indexOf('-append') + 1];
    assert.equal(append, b.result.cmdline, b.name);
    for (const opt of ['-M', '-m', '-cpu', '-bios']) {
      const at = want.indexOf(opt);
      if (at >= 0) assert.equal(argv[argv.indexOf(opt) + 1], want[at + 1], `${b.name} ${opt}`);
      else assert.equal(argv.includes(opt), false, `${b.name} ${opt}`);
    }
    assert.ok(argv.includes('-nographic') && argv.includes('-no-reboot'));
    assert.equal(argv.filter((a) => a === '-nographic').length, 1);
  }
});

test('scenario files boot as the model reads them; reserved options are refused', () => {
  const { scenarios, errors } = loadVerifyScenarios([scenariosDir]);
  assert.deepEqual(errors, []);
  const qboot = scenarios.find((s) => s.name === 'seed-001-reproducer-qboot');
  assert.ok(qboot, 'the qboot scenario exists');
  const argv = qemuCommand({
    arch: 'x86_64',
    qemuArgs: qboot.qemuArgs,
    kernel: 'K',
    initrd: 'I',
    firmware: 'qboot',
  });
  assert.deepEqual(argv.slice(-2), ['-bios', '/usr/share/qemu/qboot.rom']);
  assert.equal(argv.filter((a) => a === '-bios').length, 1);
  assert.throws(
    () => qemuCommand({ arch: 'x86_64', qemuArgs: ['-kernel', 'x'], kernel: 'K', initrd: 'I' }),
    (e: unknown) => e instanceof BootError && /-kernel/.test((e as Error).message),
  );
  assert.throws(
    () => qemuCommand({ arch: 'x86_64', qemuArgs: ['-accel', 'kvm'], kernel: 'K', initrd: 'I' }),
    /TCG only/,
  );
  assert.throws(
    () =>
      qemuCommand({
        arch: 'x86_64',
        qemuArgs: ['-bios', '/tmp/evil.rom'],
        kernel: 'K',
        initrd: 'I',
        firmware: 'qboot',
      }),
    /not its firmware/,
  );
  const arm = qemuCommand({
    arch: 'arm64',
    qemuArgs: ['-device', 'pci-testdev'],
    kernel: 'K',
    initrd: 'I',
  });
  assert.deepEqual(arm.slice(0, 7), [
    'qemu-system-aarch64',
    '-accel',
    'tcg',
    '-M',
    'virt',
    '-cpu',
    'cortex-a57',
  ]);
  assert.equal(arm[arm.indexOf('-append') + 1], 'console=ttyAMA0 panic=-1 ');
});

test('which scenarios and page sizes can boot here', () => {
  const { scenarios } = loadVerifyScenarios([scenariosDir]);
  const plans = new Map(scenarios.map((s) => [s.name, planScenario(s)]));
  const seabios = plans.get('seed-001-reproducer')!;
  assert.deepEqual(
    seabios.map((p) => [p.pageSize, p.bootable]),
    [
      [4096, true],
      [16384, false],
      [65536, false],
    ],
  );
  assert.match(seabios[1]!.reason!, /4K pages only/);
  const arm = plans.get('seed-001-reproducer-arm64')!;
  assert.deepEqual(
    arm.map((p) => [p.pageSize, p.bootable]),
    [
      [4096, true],
      [16384, false],
      [65536, true],
    ],
  );
  const nomin = plans.get('seed-001-reproducer-seabios-nomin')!;
  assert.ok(nomin.every((p) => !p.bootable));
});

test('verifyScenarios lists model-only scenarios and builds nothing for them', async () => {
  const { scenarios } = loadVerifyScenarios([
    join(scenariosDir, 'seed-001-reproducer-seabios-nomin.scenario'),
  ]);
  const report = await verifyScenarios({ tree: '/nonexistent/pcibot-tree', scenarios });
  assert.deepEqual(report.builds, []);
  assert.ok(report.scenarios.length > 0);
  assert.ok(report.scenarios.every((s) => s.status === 'model-only' && s.reason));
});

test('pcibot verify: model-only scenarios, bad files and bad options', async () => {
  const a = io();
  const code = await verifyCommand.run(
    [join(scenariosDir, 'seed-001-reproducer.scenario'), '--page-size', '16k,64k'],
    a,
  );
  assert.equal(code, 0, a.err.join(''));
  assert.match(
    a.out.join(''),
    /seed-001-reproducer \[x86_64 16K\]: model-only: x86_64 has 4K pages only/,
  );
  assert.match(a.out.join(''), /seed-001-reproducer \[x86_64 64K\]: model-only/);

  const b = io();
  assert.equal(await verifyCommand.run(['/nonexistent.scenario'], b), 2);
  assert.match(b.err.join(''), /\/nonexistent.scenario: no such file/);

  await assert.rejects(verifyCommand.run(['x.scenario', '--arch', 'mips'], io()), UsageError);
  await assert.rejects(verifyCommand.run([], io()), UsageError);
  await assert.rejects(verifyCommand.run(['x.scenario', '--page-size', '8k'], io()), UsageError);
  await assert.rejects(
    verifyCommand.run(['x.scenario', '--policy', 'nope'], io()),
    /unknown --policy/,
  );
});

test('pcibot record-layouts: skips what cannot boot and writes nothing for it', async () => {
  const out = mkdtempSync(join(tmpdir(), 'pcibot-layouts-'));
  try {
    const a = io();
    const code = await recordCommand.run(
      [join(scenariosDir, 'seed-001-reproducer-seabios-nomin.scenario'), '--out', out],
      a,
    );
    assert.equal(code, 0, a.err.join(''));
    assert.match(
      a.out.join(''),
      /^skipped seed-001-reproducer-seabios-nomin \[x86_64 4K\]: SeaBIOS without/m,
    );
    assert.deepEqual(readdirSync(out), []);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  assert.equal(
    recordedLayoutName('seed-001-reproducer', 'x86_64', 4096),
    'seed-001-reproducer.x86_64.json',
  );
  assert.equal(
    recordedLayoutName('seed-001-reproducer-arm64', 'arm64', 65536),
    'seed-001-reproducer-arm64.arm64-64k.json',
  );
});
