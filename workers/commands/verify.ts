// `pcibot verify`: build the kernel, boot scenarios in QEMU, print the real layouts.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { resolveTree } from '../../bot/tree/kernel.js';
import { formatSize, shortBdf, hex } from '../../bot/verify/compare.js';
import { loadVerifyScenarios } from '../../bot/verify/scenarios.js';
import {
  pageSizeBytes,
  planScenario,
  verifyScenarios,
  type VerifyReport,
} from '../../bot/verify/verify.js';
import type { BootArch } from '../../bot/kernel/vocabulary.js';
import type { Layout } from '../../bot/kernel/model/layout.js';
import { placeScenario } from '../../bot/kernel/model/place.js';
import { NAMED_POLICIES } from '../../bot/kernel/model/policy.js';
import { UsageError, parseCommandArgs, type Command, type CommandIO } from './command.js';
import { EXIT_FINDINGS, EXIT_OK, EXIT_USAGE } from '../../bot/util/exit.js';

const usage = `usage: pcibot verify <scenario file | dir | ground-truth .cmd> ... [options]
       pcibot verify <series.mbox | patch.eml> [--tree PATH] [--scenarios A,B] [--json]
                 (the series is applied, its kernel built and the library booted:
                  the same as pcibot review --verify)

Builds the kernel (tiny config, ccache, sandboxed), boots every scenario QEMU can
boot as written (x86_64 q35 with SeaBIOS or qboot; arm64 virt at 4K and 64K pages)
and prints the BAR layout the guest kernel really made. Scenarios that cannot boot
here are listed as model-only, with the reason.

options:
  --arch ARCH        x86_64 or arm64 (default: every architecture the scenarios need)
  --page-size LIST   only these page sizes, e.g. 4k,64k
  --tree PATH        kernel git tree (default: $PCIBOT_TREE, else Debian's 6.12
                     checkout prepared in ~/.cache/pcibot)
  --commit REV       commit to build (default HEAD of the tree)
  --policy NAME      compare each measured layout with the model's prediction
                     under this kernel policy (${Object.keys(NAMED_POLICIES).join(', ')})
  --layout           print each measured layout, BAR by BAR
  --json             print the report as JSON
  --progress         print build and boot progress on stderr

cache: \${PCIBOT_CACHE:-~/.cache/pcibot}/verify (sources, build dirs, ccache, images)
exit status: 0 every bootable scenario measured (and matched the model with --policy),
             1 a build or boot failed or the model differs, 2 bad usage`;

export function formatLayout(layout: Layout): string {
  const lines: string[] = [];
  for (const d of layout.devices) {
    lines.push(`  ${shortBdf(d.bdf)} ${d.name} (${d.kind})`);
    for (const b of d.bars) {
      const what = b.flags.io
        ? 'io'
        : `mem${b.flags.is64 ? ' 64-bit' : ''}${b.flags.prefetch ? ' pref' : ''}`;
      const where = b.start === null ? 'unassigned' : hex(b.start);
      const lost = layout.lost.find((l) => l.bdf === d.bdf && l.index === b.index);
      const name = b.index === 6 ? 'ROM ' : `BAR${b.index}`;
      lines.push(
        `      ${name} ${where.padEnd(14)} ${formatSize(b.size).padEnd(9)} ${what}${lost ? `  LOST: ${lost.reason}` : ''}`,
      );
    }
    for (const w of d.windows) {
      lines.push(
        `      window ${w.kind.padEnd(4)} ${hex(w.start)}-${hex(w.end)}${w.is64 ? ' 64-bit' : ''}`,
      );
    }
  }
  if (layout.groups) {
    for (const g of layout.groups)
      lines.push(`  IOMMU group ${g.id}: ${g.bdfs.map(shortBdf).join(' ')}`);
  }
  return lines.join('\n');
}

export function formatReport(report: VerifyReport, withLayouts: boolean): string {
  const out: string[] = [];
  for (const b of report.builds) {
    out.push(
      b.ok
        ? `kernel ${b.arch} ${b.pageSize / 1024}K: ${b.kernelVersion}, built in ${b.seconds.toFixed(1)} s${b.incremental ? ' (incremental)' : ''}`
        : `kernel ${b.arch} ${b.pageSize / 1024}K: build FAILED: ${b.error}\n${b.output ?? ''}`,
    );
    for (const w of b.configWarnings ?? []) out.push(`  config: ${w}`);
  }
  for (const s of report.scenarios) {
    const head = `${s.name} [${s.arch} ${s.pageSize / 1024}K]`;
    if (s.status === 'measured') {
      const l = s.measured!;
      out.push(
        `${head}: measured in ${s.boot!.seconds.toFixed(1)} s: ${l.devices.length} devices, ${l.lost.length} lost BAR(s)${l.groups ? `, ${l.groups.length} IOMMU groups` : ''}`,
      );
      for (const lost of l.lost)
        out.push(`  lost: ${shortBdf(lost.bdf)} BAR${lost.index}: ${lost.reason}`);
      if (withLayouts) out.push(formatLayout(l));
      if (s.predictError) out.push(`  the model failed: ${s.predictError}`);
      if (s.differences) {
        out.push(
          s.differences.length
            ? `  ${s.differences.length} difference(s) from the model:`
            : '  the model agrees',
        );
        for (const d of s.differences) out.push(`    ${d.message}`);
      }
    } else if (s.status === 'model-only') {
      out.push(`${head}: model-only: ${s.reason}`);
    } else {
      out.push(`${head}: ${s.status}: ${s.reason}`);
    }
  }
  out.push(`total ${report.seconds.toFixed(1)} s`);
  return out.join('\n') + '\n';
}

export function parsePageSizes(text: string | undefined): number[] | undefined {
  if (!text) return undefined;
  try {
    return text.split(',').map((p) => pageSizeBytes(p));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function parseArch(text: string | undefined): BootArch | undefined {
  if (text === undefined) return undefined;
  if (text !== 'x86_64' && text !== 'arm64')
    throw new UsageError(`--arch must be x86_64 or arm64, not "${text}"`);
  return text;
}

/** A patch mail or mbox rather than a scenario: `pcibot verify series.mbox` verifies the series. */
function isMailInput(path: string): boolean {
  if (/\.(eml|mbox|patch|mail)$/i.test(path)) return true;
  if (!existsSync(path) || statSync(path).isDirectory()) return false;
  const head = readFileSync(path, { encoding: 'latin1' }).slice(0, 200);
  return (
    /^From [^\n]+\n/.test(head) ||
    /^(From|Subject|Message-ID|Date): /im.test(head.split('\n\n')[0] ?? '')
  );
}

async function run(argv: string[], io: CommandIO): Promise<number> {
  // A series: the review pipeline with --verify (apply, build the patched kernel, boot).
  const withValue = new Set([
    '--tree',
    '--scenarios',
    '--commit',
    '--arch',
    '--page-size',
    '--policy',
    '--branch',
  ]);
  const files = argv.filter((a, i) => !a.startsWith('-') && !withValue.has(argv[i - 1] ?? ''));
  if (files.length && files.every((f) => f !== '-' && isMailInput(resolve(io.cwd, f)))) {
    const passthrough = argv.filter((a) => !['--layout'].includes(a));
    const review = (await import('./review.js')).default;
    return review.run([...passthrough, '--verify'], io);
  }
  const parsed = parseCommandArgs(argv, {
    arch: { type: 'string' },
    'page-size': { type: 'string' },
    tree: { type: 'string' },
    commit: { type: 'string' },
    layout: { type: 'boolean', default: false },
    policy: { type: 'string' },
    json: { type: 'boolean', default: false },
    progress: { type: 'boolean', default: false },
  });
  const { values, positionals } = parsed;
  if (positionals.length === 0) throw new UsageError('no scenario given');
  const arch = parseArch(values.arch);
  const pageSizes = parsePageSizes(values['page-size']);
  const policyName = values.policy;
  const makePolicy = policyName === undefined ? undefined : NAMED_POLICIES[policyName];
  if (policyName !== undefined && !makePolicy) {
    throw new UsageError(
      `unknown --policy "${policyName}" (known: ${Object.keys(NAMED_POLICIES).join(', ')})`,
    );
  }
  const loaded = loadVerifyScenarios(positionals.map((p) => resolve(io.cwd, p)));
  for (const e of loaded.errors) io.stderr(`pcibot verify: ${e.file}: ${e.message}\n`);
  if (loaded.scenarios.length === 0) return EXIT_USAGE;
  const log = values.progress || io.isTTY ? (l: string) => io.stderr(`verify: ${l}\n`) : undefined;
  // The tree is prepared only when something will be built.
  const bootable = loaded.scenarios.some((sc) =>
    planScenario(sc).some(
      (p) =>
        p.bootable && (!arch || p.arch === arch) && (!pageSizes || pageSizes.includes(p.pageSize)),
    ),
  );
  const tree = bootable ? await resolveTree(values.tree, io.env, { log }) : '';
  const report = await verifyScenarios({
    tree,
    commit: values.commit,
    scenarios: loaded.scenarios,
    arch,
    pageSizes,
    log,
    predict: makePolicy
      ? (s, pageSize) => placeScenario(s, makePolicy(), pageSize).layout
      : undefined,
  });
  io.stdout(
    values.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report, values.layout),
  );
  const failed = report.scenarios.some(
    (s) => s.status === 'boot-failed' || s.status === 'build-failed',
  );
  return failed || loaded.errors.length ? EXIT_FINDINGS : EXIT_OK;
}

const command: Command = {
  name: 'verify',
  summary: 'build the kernel, boot scenarios in QEMU and read the real BAR layout',
  usage,
  run,
};
export default command;
