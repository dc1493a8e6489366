// The sandbox builds and boots run in: unprivileged, no network, limited, killable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  makeSandboxWritable,
  readBelow,
  runSandboxed,
  sandboxIdentity,
  SANDBOX_ROOT,
  writeBelow,
  insideSandbox,
  BUILD_LIMITS,
} from '../../bot/verify/sandbox.js';

function tempRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'pcibot-sandbox-'));
  chmodSync(root, 0o755);
  return root;
}

const opts = (root: string) => ({ root, cwd: SANDBOX_ROOT, timeoutMs: 20_000 });

test('commands run as an unprivileged user', async () => {
  const root = tempRoot();
  try {
    const id = sandboxIdentity();
    assert.notEqual(id.uid, 0);
    const r = await runSandboxed(['sh', '-c', 'id -u; cat /proc/self/uid_map'], opts(root));
    assert.equal(r.code, 0, r.stderr);
    const [uid, ...map] = r.stdout.trim().split('\n');
    if (id.dropsPrivileges) {
      assert.equal(Number(uid), id.uid);
    } else {
      // A user namespace: root inside maps to our own (non-zero) uid outside.
      assert.match(map.join('\n'), new RegExp(`^\\s*0\\s+${id.uid}\\s+1`));
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('no network: 127.0.0.1 is unreachable from the sandbox', async () => {
  const root = tempRoot();
  // A listener on the host's loopback that the sandbox must not reach (Redis's port
  // when Redis runs here; our own listener otherwise).
  const server = createServer((s) => {
    s.on('error', () => {});
    s.end('hello\n');
  });
  const port = await new Promise<number>((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
  try {
    const hostReaches = await new Promise<boolean>((resolve) => {
      const c = createConnection({ host: '127.0.0.1', port }, () => {
        c.destroy();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    assert.equal(hostReaches, true, 'the host reaches its own listener');
    for (const p of [port, 6379]) {
      const r = await runSandboxed(
        ['bash', '-c', `echo > /dev/tcp/127.0.0.1/${p} && echo CONNECTED`],
        opts(root),
      );
      assert.notEqual(r.code, 0);
      assert.doesNotMatch(r.stdout, /CONNECTED/);
      assert.match(r.stderr, /Network is unreachable|Connection refused/);
    }
    const links = await runSandboxed(['cat', '/proc/net/dev'], opts(root));
    const ifaces = links.stdout
      .split('\n')
      .slice(2)
      .filter(Boolean)
      .map((l) => l.split(':')[0]!.trim());
    assert.deepEqual(ifaces, ['lo']);
  } finally {
    server.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('resource limits are in force', async () => {
  const root = tempRoot();
  try {
    const r = await runSandboxed(['cat', '/proc/self/limits'], opts(root));
    const limit = (name: string) => new RegExp(`^${name}\\s+(\\S+)`, 'm').exec(r.stdout)?.[1];
    assert.equal(limit('Max address space'), String(BUILD_LIMITS.addressSpace));
    assert.equal(limit('Max processes'), String(BUILD_LIMITS.processes));
    assert.equal(limit('Max cpu time'), String(BUILD_LIMITS.cpuSeconds));
    assert.equal(limit('Max core file size'), '0');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a timeout kills the command and everything it started', async () => {
  const root = tempRoot();
  try {
    // Unusual durations so pgrep finds only these (a background child and the main one).
    const secs = 3000 + (process.pid % 500);
    const r = await runSandboxed(['sh', '-c', `sleep ${secs} & sleep ${secs + 1}`], {
      ...opts(root),
      timeoutMs: 1000,
    });
    assert.equal(r.timedOut, true);
    assert.ok(r.seconds < 10, `${r.seconds} s`);
    await new Promise((res) => setTimeout(res, 300));
    const left = spawnSync('pgrep', ['-f', `^sleep (${secs}|${secs + 1})$`]);
    assert.equal(left.stdout.toString().trim(), '', 'no process left behind');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the sandbox sees the verify root only, writes only where it was given', async () => {
  const root = tempRoot();
  try {
    mkdirSync(join(root, 'src'));
    writeFileSync(join(root, 'src', 'Makefile'), 'all:\n');
    makeSandboxWritable(join(root, 'build'));
    const r = await runSandboxed(
      [
        'sh',
        '-c',
        [
          `cat ${SANDBOX_ROOT}/src/Makefile`,
          `echo x > ${SANDBOX_ROOT}/build/ok && echo BUILD-WRITABLE`,
          `echo x > ${SANDBOX_ROOT}/src/Makefile 2>/dev/null && echo SRC-WRITABLE`,
          `ls /root >/dev/null 2>&1 && echo ROOT-READABLE`,
          `touch /tmp/private && echo TMP-WRITABLE`,
        ].join('; '),
      ],
      opts(root),
    );
    assert.match(r.stdout, /^all:$/m);
    assert.match(r.stdout, /BUILD-WRITABLE/);
    assert.match(r.stdout, /TMP-WRITABLE/);
    if (sandboxIdentity().dropsPrivileges) {
      assert.doesNotMatch(r.stdout, /SRC-WRITABLE/);
      assert.doesNotMatch(r.stdout, /ROOT-READABLE/);
    }
    assert.equal(insideSandbox(root, join(root, 'build', 'x')), `${SANDBOX_ROOT}/build/x`);
    assert.throws(() => insideSandbox(root, '/etc/passwd'), /outside the verify root/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('files the sandbox owns are read and written without following its symlinks', () => {
  const root = tempRoot();
  try {
    const build = join(root, 'build');
    makeSandboxWritable(build);
    const outside = join(root, 'host-secret');
    writeFileSync(outside, 'secret');
    symlinkSync(outside, join(build, 'kernel.release'));
    mkdirSync(join(build, 'real'));
    symlinkSync(root, join(build, 'include'));
    assert.throws(() => readBelow(build, 'kernel.release'));
    assert.throws(() => readBelow(build, 'include/host-secret'), /not a directory/);
    assert.throws(() => writeBelow(build, 'kernel.release', 'overwritten'));
    writeBelow(build, 'real/.config', 'CONFIG_PCI=y\n');
    assert.equal(readBelow(build, 'real/.config').toString(), 'CONFIG_PCI=y\n');
    assert.equal(spawnSync('cat', [outside]).stdout.toString(), 'secret');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
