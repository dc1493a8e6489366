// The guest initramfs: a real cpio archive (checked with the real cpio tool) holding
// a static busybox and an /init that prints every ground-truth marker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { parseBootLog } from '../../bot/verify/bootlog.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  buildInitramfs,
  buildVfioProbe,
  INIT_SCRIPT,
  MARKERS,
  writeCpioNewc,
  S_IFREG,
} from '../../bot/verify/initramfs.js';
import { loadGroundTruth } from '../../bot/verify/ground-truth.js';
import { checkStaticElf } from '../../bot/verify/busybox.js';

function cpioList(archive: Buffer): string[] {
  const r = spawnSync('cpio', ['-t', '--quiet'], { input: archive });
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout.toString().trim().split('\n');
}

test('the x86_64 initramfs lists init, busybox and a console node', () => {
  const root = mkdtempSync(join(tmpdir(), 'pcibot-initramfs-'));
  try {
    const a = buildInitramfs({ arch: 'x86_64', root });
    const b = buildInitramfs({ arch: 'x86_64', root });
    assert.equal(a.path, b.path, 'same inputs, same cached archive');
    const cpio = gunzipSync(readFileSync(a.path));
    const names = cpioList(cpio);
    assert.ok('path' in a.vfioProbe, JSON.stringify(a.vfioProbe));
    for (const n of [
      'init',
      'bin/busybox',
      'bin/sh',
      'dev/console',
      'proc',
      'sys',
      'bin/vfio-probe',
    ]) {
      assert.ok(names.includes(n), `${n} in ${names.join(' ')}`);
    }
    const verbose = spawnSync('cpio', ['-tv', '--quiet'], { input: cpio }).stdout.toString();
    assert.match(verbose, /^crw------- +1 root +root +5, +1 .* dev\/console$/m);
    assert.match(verbose, /^-rwxr-xr-x .* init$/m);
    // Extract with the real tool: init is our script, busybox the host's static one.
    const dir = mkdtempSync(join(tmpdir(), 'pcibot-initramfs-x-'));
    try {
      const x = spawnSync(
        'cpio',
        ['-id', '--quiet', '--no-absolute-filenames', 'init', 'bin/busybox'],
        {
          input: cpio,
          cwd: dir,
        },
      );
      assert.equal(x.status, 0, x.stderr.toString());
      assert.equal(readFileSync(join(dir, 'init'), 'utf8'), INIT_SCRIPT);
      assert.deepEqual(readFileSync(join(dir, 'bin/busybox')), readFileSync(a.busybox));
      checkStaticElf(join(dir, 'bin/busybox'), 'x86_64');
      const y = spawnSync('cpio', ['-id', '--quiet', 'bin/vfio-probe'], { input: cpio, cwd: dir });
      assert.equal(y.status, 0, y.stderr.toString());
      checkStaticElf(join(dir, 'bin/vfio-probe'), 'x86_64');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the init script prints every marker the ground-truth logs carry', () => {
  const seen = new Set<string>();
  for (const b of loadGroundTruth()) {
    for (const line of b.log.split('\n')) {
      const m = /^(@@[A-Z-]+)/.exec(line);
      if (m) seen.add(m[1]!);
    }
  }
  assert.deepEqual([...seen].sort(), [...MARKERS].sort());
  for (const marker of MARKERS) assert.ok(INIT_SCRIPT.includes(marker), marker);
  // Exactly the ground-truth field layout for the per-device lines.
  assert.match(
    INIT_SCRIPT,
    /"@@PCIDEV \$bdf vendor=\$\(cat \$d\/vendor\) device=\$\(cat \$d\/device\) class=\$\(cat \$d\/class\) driver=\$driver iommu_group=\$group"/,
  );
  assert.match(INIT_SCRIPT, /"@@RES \$bdf \$i \$start \$end \$flags"/);
  assert.match(INIT_SCRIPT, /poweroff -f/);
});

test('busybox sh accepts the init script', () => {
  const r = spawnSync('/bin/busybox', ['sh', '-n', '-c', INIT_SCRIPT]);
  assert.equal(r.status, 0, r.stderr.toString());
});

test('the marker loop of /init prints sysfs resource lines as the ground truth does', () => {
  // Run the device loop of the real script with busybox against a fake sysfs tree.
  const dir = mkdtempSync(join(tmpdir(), 'pcibot-sysfs-'));
  try {
    const dev = join(dir, 'devices', '0000:01:00.0');
    const setup = [
      `mkdir -p ${dev}`,
      `echo 0x1b36 > ${dev}/vendor`,
      `echo 0x0005 > ${dev}/device`,
      `echo 0x00ff00 > ${dev}/class`,
      `printf '%s\\n' '0x00000000fe800000 0x00000000fe800fff 0x0000000000040200' '0x000000000000c000 0x000000000000c0ff 0x0000000000040101' '0x0000000000000000 0x0000000000000000 0x0000000000000000' > ${dev}/resource`,
    ].join('\n');
    const loop = INIT_SCRIPT.slice(
      INIT_SCRIPT.indexOf('for d in /sys/bus/pci/devices/*; do\n  [ -e "$d/resource" ]'),
      INIT_SCRIPT.indexOf('echo @@IOMMU-GROUPS-BEGIN'),
    ).replace('/sys/bus/pci/devices/*', `${dir}/devices/*`);
    const r = spawnSync('/bin/busybox', ['sh', '-c', `${setup}\n${loop}`]);
    assert.equal(r.status, 0, r.stderr.toString());
    assert.equal(
      r.stdout.toString(),
      [
        '@@PCIDEV 0000:01:00.0 vendor=0x1b36 device=0x0005 class=0x00ff00 driver=- iommu_group=-',
        '@@RES 0000:01:00.0 0 0x00000000fe800000 0x00000000fe800fff 0x0000000000040200',
        '@@RES 0000:01:00.0 1 0x000000000000c000 0x000000000000c0ff 0x0000000000040101',
        '',
      ].join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeCpioNewc pads names and data to 4 bytes and ends with the trailer', () => {
  const archive = writeCpioNewc([{ name: 'a', mode: S_IFREG | 0o644, data: Buffer.from('xyz') }]);
  assert.equal(archive.length % 4, 0);
  assert.equal(archive.subarray(0, 6).toString(), '070701');
  assert.ok(archive.includes(Buffer.from('TRAILER!!!\0')));
  assert.deepEqual(cpioList(archive), ['a']);
});

test('the vfio-probe helper runs (here, on the host) and speaks the marker format', () => {
  const root = mkdtempSync(join(tmpdir(), 'pcibot-vfio-probe-'));
  try {
    const probe = buildVfioProbe('x86_64', root);
    assert.ok('path' in probe, JSON.stringify(probe));
    checkStaticElf(probe.path, 'x86_64');
    const arm = buildVfioProbe('arm64', root);
    if ('path' in arm) checkStaticElf(arm.path, 'arm64');
    // Run here, on the host: with no VFIO it must say so, and still print /proc/iomem.
    const r = spawnSync(probe.path, ['7', '0000:01:00.0']);
    assert.equal(r.status, 0);
    const text = `@@KEXP-BEGIN\n${r.stdout.toString()}@@KEXP-END\n`;
    const parsed = parseBootLog(text);
    if (existsSync('/dev/vfio/vfio')) {
      assert.ok(parsed.vfioErrors.length > 0);
    } else {
      assert.deepEqual(parsed.vfioErrors, [
        { bdf: '0000:01:00.0', step: 'open-container', errno: 2 },
      ]);
    }
    assert.ok((parsed.vfioIomem ?? []).length > 0, 'it printed /proc/iomem');
    assert.deepEqual(parsed.problems, []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
