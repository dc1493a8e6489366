// `pcibot record-layouts`: boot the scenario library on the base kernel and write
// the real layouts to fixtures/layouts/, which the model's tests are held to.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { resolveTree } from '../../bot/tree/kernel.js';
import { fixturesDir, repoRoot } from '../../bot/util/paths.js';
import { recordedLayoutName, type RecordedLayout } from '../../bot/verify/recorded.js';
import { loadVerifyScenarios } from '../../bot/verify/scenarios.js';
import {
  planScenario,
  verifyScenarios,
  type ScenarioVerification,
} from '../../bot/verify/verify.js';
import type { Scenario } from '../../bot/kernel/model/scenario.js';
import { parseCommandArgs, type Command, type CommandIO } from './command.js';
import { EXIT_FINDINGS, EXIT_OK, EXIT_USAGE } from '../../bot/util/exit.js';
import { parseArch, parsePageSizes } from './verify.js';
import { spawnSync } from 'node:child_process';

const usage = `usage: pcibot record-layouts [scenario file | dir | ground-truth .cmd ...] [options]

Boots each bootable scenario (default: every file in fixtures/scenarios/) on the
base kernel and writes the measured layout to
fixtures/layouts/<scenario>.<arch>[-<page size>].json, with the exact kernel
version, QEMU version and command line. Scenarios that cannot boot here are
listed and skipped.

options:
  --arch ARCH        x86_64 or arm64 (default: both)
  --page-size LIST   only these page sizes, e.g. 4k,64k
  --tree PATH        kernel git tree (default as for pcibot review)
  --out DIR          where to write (default fixtures/layouts)
  --progress         print build and boot progress on stderr`;

async function run(argv: string[], io: CommandIO): Promise<number> {
  const parsed = parseCommandArgs(argv, {
    arch: { type: 'string' },
    'page-size': { type: 'string' },
    tree: { type: 'string' },
    out: { type: 'string' },
    progress: { type: 'boolean', default: false },
  });
  const { values, positionals } = parsed;
  const arch = parseArch(values.arch);
  const pageSizes = parsePageSizes(values['page-size']);
  const inputs = positionals.length
    ? positionals.map((p) => resolve(io.cwd, p))
    : [join(fixturesDir, 'scenarios')];
  const loaded = loadVerifyScenarios(inputs);
  for (const e of loaded.errors) io.stderr(`pcibot record-layouts: ${e.file}: ${e.message}\n`);
  if (loaded.scenarios.length === 0) {
    io.stderr('pcibot record-layouts: no scenario to record\n');
    return EXIT_USAGE;
  }
  const log = values.progress || io.isTTY ? (l: string) => io.stderr(`record: ${l}\n`) : undefined;
  // The tree is prepared only when something will be built.
  const bootable = loaded.scenarios.some((sc) =>
    planScenario(sc).some(
      (p) =>
        p.bootable && (!arch || p.arch === arch) && (!pageSizes || pageSizes.includes(p.pageSize)),
    ),
  );
  const tree = bootable ? await resolveTree(values.tree, io.env, { log }) : '';
  const commit = spawnSync('git', ['-C', tree, 'rev-parse', 'HEAD'], {
    encoding: 'utf8',
  }).stdout.trim();
  const outDir = values.out ? resolve(io.cwd, values.out) : join(fixturesDir, 'layouts');
  mkdirSync(outDir, { recursive: true });
  let failed = loaded.errors.length > 0;
  // Each layout is written as soon as it is measured: a later failure loses nothing.
  const record = (s: ScenarioVerification, scenario: Scenario) => {
    if (s.status === 'model-only') {
      io.stdout(`skipped ${s.name} [${s.arch} ${s.pageSize / 1024}K]: ${s.reason}\n`);
      return;
    }
    if (s.status !== 'measured') {
      failed = true;
      io.stdout(`FAILED  ${s.name} [${s.arch} ${s.pageSize / 1024}K]: ${s.reason}\n`);
      return;
    }
    const data: RecordedLayout = {
      schema: 'pcibot/recorded-layout@1',
      scenario: s.name,
      scenarioFile: relative(repoRoot, scenario.file),
      arch: s.arch as RecordedLayout['arch'],
      pageSize: s.pageSize,
      firmware: scenario.firmware,
      kernelArgs: scenario.kernelArgs ?? '',
      kernelVersion: s.boot!.kernelVersion,
      kernelCommit: commit,
      qemuVersion: s.boot!.qemuVersion,
      commandLine: s.boot!.commandLine,
      recordedAt: new Date().toISOString(),
      layout: s.measured!,
      lostMessages: s.boot!.messages.lost,
      warnings: s.boot!.messages.warnings,
      ...(s.boot!.vfioRegions.length || s.boot!.vfioErrors.length
        ? {
            vfio: {
              regions: s.boot!.vfioRegions,
              subPageReserved: s.boot!.vfioSubPageReserved,
              errors: s.boot!.vfioErrors,
            },
          }
        : {}),
    };
    const file = join(outDir, recordedLayoutName(s.name, s.arch, s.pageSize));
    writeFileSync(`${file}.tmp`, JSON.stringify(data, null, 2) + '\n');
    renameSync(`${file}.tmp`, file);
    io.stdout(
      `recorded ${relative(io.cwd, file)} (${data.layout.devices.length} devices, ${s.boot!.seconds.toFixed(1)} s)\n`,
    );
  };
  const report = await verifyScenarios({
    tree,
    commit,
    scenarios: loaded.scenarios,
    arch,
    pageSizes,
    log,
    onResult: record,
  });
  for (const b of report.builds) {
    if (!b.ok)
      io.stderr(`pcibot record-layouts: ${b.arch} build failed: ${b.error}\n${b.output ?? ''}\n`);
  }
  return failed ? EXIT_FINDINGS : EXIT_OK;
}

const command: Command = {
  name: 'record-layouts',
  summary: 'boot the scenario library on the base kernel and record the real layouts',
  usage,
  run,
};
export default command;
