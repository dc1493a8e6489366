// `pcibot scenario`, run in-process: output and exit codes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { execFileSync } from 'node:child_process';
import { DEFAULT_LIMITS } from '../../bot/limits.js';
import { repoRoot } from '../../bot/util/paths.js';
import { UsageError, type CommandIO } from '../../workers/commands/command.js';
import scenarioCommand from '../../workers/commands/scenario.js';

/** Temporary directories made by the tests, removed at the end. */
const temps: string[] = [];
after(() => Promise.all(temps.map((d) => rm(d, { recursive: true, force: true }))));

function io(stdin = ''): CommandIO & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    stdin: Readable.from([stdin]),
    isTTY: false,
    stdoutIsTTY: false,
    env: {},
    cwd: repoRoot,
  };
}

test('scenario run: layout and findings; exit 1 on error findings, 0 when quiet', async () => {
  const a = io();
  assert.equal(
    await scenarioCommand.run(
      ['run', 'fixtures/scenarios/seed-001-reproducer-qboot.scenario', '--page-size', '4k'],
      a,
    ),
    1,
  );
  const text = a.out.join('');
  assert.match(text, /01:00\.0 pci-testdev \[1b36:0005\]/);
  assert.match(text, /ERROR +model\/shared-page: 3 devices share a 4K page at 0x110000000/);
  const b = io();
  assert.equal(
    await scenarioCommand.run(['run', 'fixtures/scenarios/e1000e-rootport.scenario'], b),
    0,
  );
  assert.match(b.out.join(''), /findings at 4K pages: none/);
});

test('scenario run --json: plain data with layouts and findings per page size', async () => {
  const a = io();
  await scenarioCommand.run(
    [
      'run',
      'fixtures/scenarios/seed-001-reproducer-arm64.scenario',
      '--json',
      '--policy',
      'max-4k-page',
    ],
    a,
  );
  const j = JSON.parse(a.out.join(''));
  assert.equal(j.schema, 'pcibot/model@1');
  assert.equal(j.policy, '6.12+max-4k-page');
  assert.deepEqual(
    j.scenarios[0].pageSizes.map((p: { pageSize: number }) => p.pageSize),
    [4096, 16384, 65536],
  );
  assert.equal(j.scenarios[0].pageSizes[2].layout.devices.length, 7);
});

test('scenario run --before/--after prints per-page summaries', async () => {
  const a = io();
  const code = await scenarioCommand.run(
    [
      'run',
      'fixtures/scenarios/seed-001-reproducer-arm64.scenario',
      '--before',
      '6.12',
      '--after',
      'max-4k-page',
    ],
    a,
  );
  assert.equal(code, 0, 'nothing left in error after the change');
  assert.match(
    a.out.join(''),
    /seed-001-reproducer-arm64 at 64K: \d+ fixed, 0 introduced, 1 unchanged/,
  );
});

test('scenario run: a bad scenario file is named, the others still run, exit 2', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pcibot-cli-'));
  temps.push(dir);
  await writeFile(
    join(dir, 'good.scenario'),
    'name: good\ndescription: d\narch: x86_64\nqemu: -M q35 -vga none -nic none\n',
  );
  await writeFile(
    join(dir, 'bad.scenario'),
    'name: bad\ndescription: d\narch: x86_64\nqemu: -M q35 -device flux-capacitor\n',
  );
  const a = io();
  assert.equal(await scenarioCommand.run(['run', dir], a), 2);
  assert.match(a.err.join(''), /bad\.scenario:4: .*"flux-capacitor"/);
  assert.match(a.out.join(''), /== good/);
});

test('scenario: usage errors', async () => {
  await assert.rejects(scenarioCommand.run([], io()), UsageError);
  await assert.rejects(scenarioCommand.run(['fly'], io()), /unknown subcommand "fly"/);
  await assert.rejects(
    scenarioCommand.run(['run', 'fixtures/scenarios', '--policy', '2.6'], io()),
    /unknown policy "2\.6"/,
  );
  await assert.rejects(
    scenarioCommand.run(['run', 'fixtures/scenarios', '--page-size', '3k'], io()),
    /--page-size/,
  );
  await assert.rejects(
    scenarioCommand.run(['run', 'fixtures/scenarios', '--before', '6.12'], io()),
    /--before and --after go together/,
  );
});

test('scenario check-lspci: file, stdin and sysfs directory; exit codes', async () => {
  const a = io();
  assert.equal(
    await scenarioCommand.run(['check-lspci', 'fixtures/lspci/seed-001-example-2.txt'], a),
    1,
  );
  assert.match(a.out.join(''), /ERROR +model\/shared-page/);
  const b = io(
    await (
      await import('node:fs/promises')
    ).readFile(join(repoRoot, 'fixtures/lspci/seed-001-example-1.txt'), 'utf8'),
  );
  assert.equal(await scenarioCommand.run(['check-lspci', '-', '--json'], b), 0, 'warnings only');
  assert.deepEqual(
    JSON.parse(b.out.join(''))
      .findings.map((f: { rule: string }) => f.rule)
      .sort(),
    ['model/msix-page', 'model/subpage-mmap', 'model/subpage-mmap', 'model/subpage-mmap'],
  );
  const dir = await mkdtemp(join(tmpdir(), 'pcibot-sysfs-'));
  temps.push(dir);
  for (const [bdf, start] of [
    ['0000:01:00.0', '0x00000000fe800000'],
    ['0000:01:01.0', '0x00000000fe800100'],
  ] as const) {
    await mkdir(join(dir, bdf));
    const zero = '0x0000000000000000 0x0000000000000000 0x0000000000000000';
    const end = '0x' + (BigInt(start) + 0xffn).toString(16).padStart(16, '0');
    await writeFile(
      join(dir, bdf, 'resource'),
      [`${start} ${end} 0x0000000000040200`, ...Array(10).fill(zero)].join('\n') + '\n',
    );
  }
  const c = io();
  assert.equal(await scenarioCommand.run(['check-lspci', dir], c), 1);
  assert.match(c.out.join(''), /2 devices share a 4K page at 0xfe800000/);
  const d = io();
  assert.equal(await scenarioCommand.run(['check-lspci', 'fixtures/lspci/no-such-file'], d), 2);
  assert.match(d.err.join(''), /no-such-file/);
});

test('scenario check-lspci: a FIFO is refused unopened, a paste past maxLayoutBytes by name', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pcibot-lspci-bounds-'));
  temps.push(dir);
  const fifo = join(dir, 'paste.fifo');
  execFileSync('mkfifo', [fifo]);
  const a = io();
  assert.equal(await scenarioCommand.run(['check-lspci', fifo], a), 2, 'no wait on a FIFO');
  assert.match(a.err.join(''), /paste\.fifo.*not a regular file/);
  const big = 'x'.repeat(DEFAULT_LIMITS.maxLayoutBytes + 1);
  const file = join(dir, 'huge.txt');
  await writeFile(file, big);
  const b = io();
  assert.equal(await scenarioCommand.run(['check-lspci', file], b), 2);
  assert.match(b.err.join(''), /huge\.txt: over the maxLayoutBytes limit \(16 MiB\)/);
  const c = io(big);
  assert.equal(await scenarioCommand.run(['check-lspci', '-'], c), 2);
  assert.match(c.err.join(''), /over the maxLayoutBytes limit/);
});
