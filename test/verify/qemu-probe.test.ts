// `scenario firmware-check` runs QEMU through the verify sandbox: a stand-in
// QEMU (a shell script answering the monitor) reports who and where it ran,
// and firmware-check --record saves that answer.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RefusedQemuOptionError } from '../../bot/kernel/model/errors.js';
import { probeInfoPciSandboxed, PROBE_DIR } from '../../bot/verify/qemu-probe.js';
import { SANDBOX_ROOT, sandboxIdentity } from '../../bot/verify/sandbox.js';
import { runCli } from '../cli-io.js';

const temps: string[] = [];
after(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pcibot-probe-'));
  chmodSync(d, 0o755);
  temps.push(d);
  return d;
}

/**
 * A stand-in for qemu-system-x86_64 under the verify root `root` (the sandbox
 * has its own /tmp, so it sees the root only through its bind mount); returns
 * its path inside the sandbox. It answers every monitor command with an
 * `info pci` block that SeaBIOS counts as done, carrying its uid, working
 * directory and network interfaces, and records its arguments.
 */
function fakeQemu(root: string): string {
  mkdirSync(join(root, 'bin'), { recursive: true });
  const bin = join(root, 'bin', 'fake-qemu');
  writeFileSync(
    bin,
    [
      '#!/bin/sh',
      // As SeaBIOS would, say on the debug console (when asked for one) that PCI setup is done.
      "prev=''",
      'for a in "$@"; do',
      '  [ "$prev" = -debugcon ] && echo "Found 1 cpu(s) max supported 1 cpu(s)" > "${a#file:}"',
      '  prev=$a',
      'done',
      'while read -r line; do',
      '  case "$line" in quit) exit 0 ;; esac',
      '  echo "Bus  0, device   0, function 0:"',
      '  echo "  uid $(id -u)"',
      '  echo "  cwd $(pwd)"',
      // Interfaces of its network namespace (/proc is the sandbox's own).
      `  echo "  net $(sed -n '3,$s/:.*//p' /proc/net/dev | tr -d ' ' | tr '\\n' ' ')"`,
      '  echo "  args $*"',
      '  echo "  secondary bus 1."',
      '  echo "(qemu)"',
      'done',
      '',
    ].join('\n'),
  );
  chmodSync(bin, 0o755);
  return `${SANDBOX_ROOT}/bin/fake-qemu`;
}

function checkSandboxed(info: string): void {
  const id = sandboxIdentity();
  const uid = /uid (\d+)/.exec(info)?.[1];
  // Dropping privileges: the sandbox user; unprivileged: root of a user namespace
  // (our own uid outside), as in test/verify/sandbox.test.ts.
  assert.equal(Number(uid), id.dropsPrivileges ? id.uid : 0, info);
  assert.notEqual(id.uid, 0);
  assert.match(info, new RegExp(`cwd ${SANDBOX_ROOT}/${PROBE_DIR}\\n`));
  // A fresh network namespace: loopback only.
  assert.match(info, /net lo \n/);
}

test('probeInfoPciSandboxed: QEMU runs as the sandbox user, in its scratch directory, without network', async () => {
  const dir = tempDir();
  const info = await probeInfoPciSandboxed(['-M', 'q35', '-m', '512'], {
    binary: fakeQemu(join(dir, 'verify')),
    workDir: join(dir, 'verify'),
    timeoutMs: 20_000,
  });
  checkSandboxed(info);
  assert.match(info, /args -M q35 -m 512 -display none -serial none -monitor stdio -accel tcg -S/);
});

test('probeInfoPciSandboxed: the allow-list is checked again before QEMU starts', async () => {
  const dir = tempDir();
  assert.throws(
    () =>
      probeInfoPciSandboxed(['-M', 'q35', '-D', join(dir, 'log')], {
        binary: fakeQemu(join(dir, 'verify')),
        workDir: join(dir, 'verify'),
      }),
    RefusedQemuOptionError,
  );
});

test('scenario firmware-check: QEMU runs in the sandbox (recorded answer of a stand-in QEMU)', async () => {
  const dir = tempDir();
  const record = join(dir, 'record');
  mkdirSync(record);
  const file = join(dir, 'probe.scenario');
  writeFileSync(
    file,
    [
      'name: probe',
      'description: one test device',
      'arch: x86_64',
      'boot: yes',
      'qemu: -M q35 -m 512 -vga none -nic none -device pci-testdev,membar=32',
      '',
    ].join('\n'),
  );
  const r = await runCli(
    ['scenario', 'firmware-check', file, '--qemu', fakeQemu(join(dir, 'cache', 'verify'))].concat([
      '--record',
      record,
    ]),
    { cwd: dir, env: { PATH: process.env.PATH, PCIBOT_CACHE: join(dir, 'cache') } },
  );
  // The stand-in's answer is not a machine, so the comparison finds differences (exit 1).
  assert.equal(r.code, 1, r.err);
  const info = readFileSync(join(record, 'probe.info-pci'), 'utf8');
  checkSandboxed(info);
  assert.match(info, /args -M q35 -m 512 -vga none -nic none -device pci-testdev,membar=32 /);
  // The firmware log QEMU wrote in the probe directory is removed once it has exited.
  const log = new RegExp(`-debugcon file:${SANDBOX_ROOT}/${PROBE_DIR}/(fwlog-[\\w-]+\\.log)`).exec(
    info,
  );
  assert.ok(log, info);
  for (let i = 0; i < 50 && existsSync(join(dir, 'cache', 'verify', PROBE_DIR, log[1]!)); i++)
    await new Promise((r) => setTimeout(r, 100));
  assert.ok(!existsSync(join(dir, 'cache', 'verify', PROBE_DIR, log[1]!)));
});
