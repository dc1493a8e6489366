// `pcibot scenario`: run the BAR-placement / VFIO-safety model on scenario
// files, compare two kernel policies, or check a pasted lspci / sysfs layout.
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Finding } from '../../bot/types.js';
import { ModelInputError, QemuArgError } from '../../bot/kernel/model/errors.js';
import { FIRMWARES, type Firmware } from '../../bot/kernel/vocabulary.js';
import { formatLayout } from '../../bot/kernel/model/format.js';
import { checkPastedLayout } from '../../bot/kernel/model/lspci.js';
import { runSeabios } from '../../bot/kernel/model/firmware/seabios.js';
import { buildScenarioMachine } from '../../bot/kernel/model/place.js';
import { compareFirmware, parseInfoPci, SEABIOS_DONE } from '../../bot/kernel/model/qemu-info.js';
import { verifyRoot } from '../../bot/verify/build.js';
import { probeInfoPciSandboxed } from '../../bot/verify/qemu-probe.js';
import {
  NAMED_POLICIES,
  describePolicy,
  type KernelPolicy,
} from '../../bot/kernel/model/policy.js';
import { evaluate, runModel } from '../../bot/kernel/model/run.js';
import {
  loadScenariosLenient,
  parsePageSizes,
  FileOverLimitError,
  readBoundedFile,
  type Scenario,
} from '../../bot/kernel/model/scenario.js';
import { DEFAULT_LIMITS, formatBytes } from '../../bot/limits.js';
import { pageLabel } from '../../bot/kernel/model/safety.js';
import { buildAddressMap, sharedBars, textMap } from '../report/addrmap.js';
import { libraryPage, type LibraryEntry } from '../report/html.js';
import { comparedRunSvg, libraryMaps, mapFileName, toMapFinding } from '../report/library.js';
import { UsageError, parseCommandArgs, type Command, type CommandIO } from './command.js';
import { EXIT_FINDINGS, EXIT_OK, EXIT_USAGE } from '../../bot/util/exit.js';

const usage = `usage: pcibot scenario run <file.scenario | dir>... [options]
       pcibot scenario check-lspci <file | dir | -> [--page-size SIZES] [--json]
       pcibot scenario firmware-check <file.scenario | dir>... [--record DIR]

run          place every BAR of each QEMU scenario (firmware, then Linux), print the
             layout and the VFIO safety findings at each page size
check-lspci  check a pasted layout as-is: \`lspci -v\`/\`-vv\` text, a sysfs
             \`resource\` file, or a directory of <bdf>/resource files
firmware-check  run each x86 SeaBIOS scenario in the installed QEMU (firmware only,
             no kernel) and compare SeaBIOS's BAR and window placement with the
             model's; --record DIR also saves QEMU's \`info pci\` as DIR/<name>.info-pci

options:
  --page-size SIZES   page sizes to check, e.g. 4k,16k,64k (default: the scenario's)
  --firmware NAME     override the firmware: ${FIRMWARES.filter((f) => f !== 'ovmf').join(', ')}
  --policy NAME       kernel policy: ${Object.keys(NAMED_POLICIES).join(', ')} (default 6.12)
  --before NAME       with --after: compare two policies; prints what the change fixes,
  --after NAME          introduces and leaves per scenario and page size
  --no-layout         print findings only (and the pages that matter)
  --json              JSON output (schema pcibot/model@1)
  --svg DIR           also write each address map as DIR/<scenario>-<page size>.svg
                      (before and after side by side with --before/--after) and
                      DIR/index.html showing them all

exit status: 0 no error findings, 1 error findings, 2 bad usage or unreadable input`;

function policyNamed(name: string): KernelPolicy {
  const f = NAMED_POLICIES[name];
  if (!f)
    throw new UsageError(
      `unknown policy "${name}" (known: ${Object.keys(NAMED_POLICIES).join(', ')})`,
    );
  return f();
}

function formatFinding(f: Finding): string {
  return `  ${f.severity.toUpperCase().padEnd(7)} ${f.rule}: ${f.title}\n          ${f.detail}\n          ref: ${f.references.join('; ')}`;
}

const hasErrors = (fs: Finding[]) => fs.some((f) => f.severity === 'error');

async function loadAll(
  paths: string[],
  io: CommandIO,
): Promise<{ scenarios: Scenario[]; bad: number }> {
  const scenarios: Scenario[] = [];
  let bad = 0;
  for (const p of paths) {
    try {
      const r = await loadScenariosLenient(resolve(io.cwd, p));
      scenarios.push(...r.scenarios);
      for (const e of r.errors) {
        io.stderr(`pcibot scenario: ${e.message}\n`);
        bad++;
      }
    } catch (e) {
      io.stderr(`pcibot scenario: ${p}: ${(e as Error).message}\n`);
      bad++;
    }
  }
  return { scenarios, bad };
}

async function cmdRun(
  args: string[],
  values: Record<string, unknown>,
  io: CommandIO,
): Promise<number> {
  if (!args.length) throw new UsageError('scenario run needs a scenario file or directory');
  let pageSizes: number[] | undefined;
  try {
    if (typeof values['page-size'] === 'string') pageSizes = parsePageSizes(values['page-size']);
  } catch (e) {
    throw new UsageError(`--page-size: ${(e as Error).message}`);
  }
  const fw = values['firmware'] as string | undefined;
  if (fw !== undefined && !FIRMWARES.includes(fw as Firmware))
    throw new UsageError(`unknown firmware "${fw}"`);
  const firmware = fw as Firmware | undefined;
  const json = Boolean(values['json']);
  const showLayout = !values['no-layout'];
  const svgDir = typeof values['svg'] === 'string' ? resolve(io.cwd, values['svg']) : null;
  const { scenarios, bad } = await loadAll(args, io);
  let errorFindings = false;

  if (values['before'] !== undefined || values['after'] !== undefined) {
    if (typeof values['before'] !== 'string' || typeof values['after'] !== 'string')
      throw new UsageError('--before and --after go together');
    const before = policyNamed(values['before']);
    const after = policyNamed(values['after']);
    const run = runModel(scenarios, before, after, { firmware, pageSizes });
    for (const e of run.errors) io.stderr(`pcibot scenario: ${e.file}: ${e.message}\n`);
    errorFindings = run.results.some((r) => hasErrors(r.after.findings));
    if (json) {
      io.stdout(
        JSON.stringify(
          {
            schema: 'pcibot/model-compare@1',
            before: before.name,
            after: after.name,
            results: run.results.map((r) => ({
              scenario: r.scenario,
              file: r.file,
              pageSize: r.pageSize,
              summary: r.summary,
              fixed: r.fixed,
              introduced: r.introduced,
              unchanged: r.unchanged,
              before: r.before.layout,
              after: r.after.layout,
            })),
            errors: run.errors,
          },
          null,
          2,
        ) + '\n',
      );
    } else {
      io.stdout(`${describePolicy(before)}\n${describePolicy(after)}\n\n`);
      for (const r of run.results) {
        io.stdout(`${r.summary}\n`);
        for (const f of r.fixed) io.stdout(`    fixed:      ${f.rule}: ${f.title}\n`);
        for (const f of r.introduced) io.stdout(`    introduced: ${f.rule}: ${f.title}\n`);
        // The pages that matter: those holding BARs that share a page before or after.
        const b = buildAddressMap(r.before.layout, r.pageSize);
        const a = buildAddressMap(r.after.layout, r.pageSize);
        const focus = sharedBars(b, a);
        if (focus.size && (r.fixed.length || r.introduced.length)) {
          const side = (label: string, lines: string[]) =>
            lines.forEach((l, i) =>
              io.stdout(`    ${i === 0 ? label : ' '.repeat(label.length)}${l}\n`),
            );
          side('before  ', textMap(b, focus));
          side('after   ', textMap(a, focus));
        }
      }
    }
    if (svgDir) {
      await mkdir(svgDir, { recursive: true });
      const entries = new Map<string, LibraryEntry>();
      for (const r of run.results) {
        const file = mapFileName(r.scenario, r.pageSize);
        await writeFile(join(svgDir, file), comparedRunSvg(r));
        const s = scenarios.find((x) => x.name === r.scenario && x.file === r.file);
        const e = entries.get(r.file) ?? {
          name: r.scenario,
          description: s?.description ?? '',
          arch: s?.arch ?? '',
          firmware: firmware ?? s?.firmware ?? '',
          maps: [],
        };
        e.maps.push({
          pageSize: r.pageSize,
          href: encodeURIComponent(file),
          shared: buildAddressMap(r.after.layout, r.pageSize).shared.length,
          findings: r.after.findings.length,
        });
        entries.set(r.file, e);
      }
      await writeFile(
        join(svgDir, 'index.html'),
        libraryPage([...entries.values()], { policy: `${before.name} -> ${after.name}` }),
      );
      if (!json) io.stdout(`\naddress maps: ${join(svgDir, 'index.html')}\n`);
    }
    return bad || run.errors.length ? EXIT_USAGE : errorFindings ? EXIT_FINDINGS : EXIT_OK;
  }

  const policy = policyNamed(typeof values['policy'] === 'string' ? values['policy'] : '6.12');
  const out: unknown[] = [];
  let failed = 0;
  if (!json) io.stdout(`${describePolicy(policy)}\n`);
  for (const s of scenarios) {
    try {
      const sizes = pageSizes ?? s.pageSizes;
      const evals = sizes.map((ps) => evaluate(s, policy, ps, { firmware }));
      errorFindings ||= evals.some((e) => hasErrors(e.findings));
      if (json) {
        out.push({
          name: s.name,
          file: s.file,
          description: s.description,
          arch: s.arch,
          firmware: firmware ?? s.firmware,
          pageSizes: evals.map((e) => ({
            pageSize: e.pageSize,
            layout: e.layout,
            findings: e.findings,
            notes: e.notes,
          })),
        });
        continue;
      }
      io.stdout(
        `\n== ${s.name} (${s.file})\n${s.description}\narch ${s.arch}, firmware ${firmware ?? s.firmware}, pages ${sizes.map(pageLabel).join(' ')}\n`,
      );
      let lastLayout = '';
      for (const e of evals) {
        const text = formatLayout(e.layout);
        if (showLayout && text !== lastLayout) {
          io.stdout(
            `\nlayout (guest kernel page size for ${pageLabel(e.pageSize)} checks):\n${text}`,
          );
          lastLayout = text;
        }
        io.stdout(
          `\nfindings at ${pageLabel(e.pageSize)} pages: ${e.findings.length ? '' : 'none'}\n`,
        );
        for (const f of e.findings) io.stdout(formatFinding(f) + '\n');
        const map = buildAddressMap(
          e.layout,
          e.pageSize,
          e.findings.map((f) => toMapFinding(f)),
        );
        const lines = textMap(map);
        io.stdout(
          lines.length
            ? `pages shared at ${pageLabel(e.pageSize)} (address, page size, BARs in it):\n${lines.map((l) => `  ${l}\n`).join('')}`
            : `pages shared at ${pageLabel(e.pageSize)}: none\n`,
        );
      }
      for (const n of evals[0]?.notes ?? []) io.stdout(`note: ${n}\n`);
    } catch (e) {
      if (!(e instanceof QemuArgError || e instanceof ModelInputError)) throw e;
      io.stderr(`pcibot scenario: ${s.file}: ${e.message}\n`);
      failed++;
    }
  }
  if (json)
    io.stdout(
      JSON.stringify({ schema: 'pcibot/model@1', policy: policy.name, scenarios: out }, null, 2) +
        '\n',
    );
  if (svgDir) {
    const lib = libraryMaps(scenarios, policy, {
      ...(pageSizes ? { pageSizes } : {}),
      ...(firmware ? { firmware } : {}),
    });
    await mkdir(svgDir, { recursive: true });
    for (const [file, svg] of lib.files) await writeFile(join(svgDir, file), svg);
    await writeFile(join(svgDir, 'index.html'), libraryPage(lib.entries, { policy: policy.name }));
    if (!json) io.stdout(`\naddress maps: ${join(svgDir, 'index.html')}\n`);
  }
  return bad || failed ? EXIT_USAGE : errorFindings ? EXIT_FINDINGS : EXIT_OK;
}

const overLayoutLimit = (max: number) =>
  `over the maxLayoutBytes limit (${formatBytes(max)}) for a pasted layout`;

/** Standard input, up to `max` bytes (a paste, not a stream without end). */
async function readStdin(io: CommandIO, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let got = 0;
  for await (const c of io.stdin) {
    const b = typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
    got += b.length;
    if (got > max) throw new Error(overLayoutLimit(max));
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A directory of `<bdf>/resource` files (a copy of /sys/bus/pci/devices) as one text. */
async function readResourceDir(dir: string, max: number): Promise<string> {
  const parts: string[] = [];
  let left = max;
  for (const e of (await readdir(dir)).sort()) {
    const f = join(dir, e, 'resource');
    let text: string;
    try {
      // Regular files only, read no further than what is left of the limit.
      text = readBoundedFile(f, left, overLayoutLimit(max));
    } catch (err) {
      if (err instanceof FileOverLimitError)
        throw new FileOverLimitError(dir, undefined, overLayoutLimit(max));
      continue; // not a device directory
    }
    left -= Buffer.byteLength(text);
    parts.push(`${f}\n${text}`);
  }
  if (!parts.length) throw new Error(`${dir}: no <bdf>/resource files inside`);
  return parts.join('\n');
}

async function cmdCheckLspci(
  args: string[],
  values: Record<string, unknown>,
  io: CommandIO,
): Promise<number> {
  if (args.length !== 1) throw new UsageError('check-lspci takes one file, directory or -');
  const arg = args[0]!;
  let text: string;
  let file = arg;
  try {
    const max = DEFAULT_LIMITS.maxLayoutBytes;
    if (arg === '-') {
      text = await readStdin(io, max);
      file = '<stdin>';
    } else {
      const p = resolve(io.cwd, arg);
      text = (await stat(p)).isDirectory()
        ? await readResourceDir(p, max)
        : readBoundedFile(p, max, overLayoutLimit(max));
    }
  } catch (e) {
    // A ModelInputError names its file already.
    const why = e instanceof ModelInputError ? e.message : `${arg}: ${(e as Error).message}`;
    io.stderr(`pcibot scenario: ${why}\n`);
    return EXIT_USAGE;
  }
  let pageSizes = [4096];
  try {
    if (typeof values['page-size'] === 'string') pageSizes = parsePageSizes(values['page-size']);
  } catch (e) {
    throw new UsageError(`--page-size: ${(e as Error).message}`);
  }
  const policy = policyNamed(typeof values['policy'] === 'string' ? values['policy'] : '6.12');
  let res;
  try {
    res = checkPastedLayout(text, { file, pageSizes, policy });
  } catch (e) {
    if (!(e instanceof ModelInputError)) throw e;
    io.stderr(`pcibot scenario: ${e.message}\n`);
    return EXIT_USAGE;
  }
  if (values['json']) {
    io.stdout(
      JSON.stringify(
        {
          schema: 'pcibot/model-lspci@1',
          file,
          pageSizes,
          layout: res.layout,
          findings: res.findings,
        },
        null,
        2,
      ) + '\n',
    );
  } else {
    if (!values['no-layout']) io.stdout(formatLayout(res.layout));
    io.stdout(
      `\nfindings (${pageSizes.map(pageLabel).join(', ')} pages; IOMMU groups unknown, each function counted as its own owner): ${res.findings.length ? '' : 'none'}\n`,
    );
    for (const f of res.findings) io.stdout(formatFinding(f) + '\n');
  }
  return hasErrors(res.findings) ? EXIT_FINDINGS : EXIT_OK;
}

async function cmdFirmwareCheck(
  args: string[],
  values: Record<string, unknown>,
  io: CommandIO,
): Promise<number> {
  if (!args.length) throw new UsageError('firmware-check needs a scenario file or directory');
  const { scenarios, bad } = await loadAll(args, io);
  const binary = typeof values['qemu'] === 'string' ? values['qemu'] : 'qemu-system-x86_64';
  const record = typeof values['record'] === 'string' ? resolve(io.cwd, values['record']) : null;
  let failed = 0;
  let checked = 0;
  for (const s of scenarios) {
    if (s.arch !== 'x86_64' || s.firmware !== 'seabios' || !s.boot) continue;
    checked++;
    try {
      // In the verify sandbox, as the sandbox user, in its scratch directory.
      const info = await probeInfoPciSandboxed(s.qemuArgs, {
        binary,
        runFirmware: SEABIOS_DONE,
        workDir: verifyRoot(io.env),
      });
      const m = buildScenarioMachine(s);
      const diffs = compareFirmware(m, runSeabios(m, 4096), parseInfoPci(info));
      if (record)
        await writeFile(
          join(record, `${s.name}.info-pci`),
          `# QEMU \`info pci\` after SeaBIOS ran (${binary}, no kernel), recorded by pcibot scenario firmware-check\n${info.trimEnd()}\n`,
        );
      io.stdout(
        `${s.name}: ${diffs.length ? `${diffs.length} difference(s)` : 'SeaBIOS placement matches the model'}\n`,
      );
      for (const d of diffs) io.stdout(`    ${d}\n`);
      if (diffs.length) failed++;
    } catch (e) {
      io.stderr(`pcibot scenario: ${s.file}: ${(e as Error).message}\n`);
      failed++;
    }
  }
  if (!checked) io.stdout('no x86 SeaBIOS scenario with boot: yes to check\n');
  return bad ? EXIT_USAGE : failed ? EXIT_FINDINGS : EXIT_OK;
}

async function run(argv: string[], io: CommandIO): Promise<number> {
  const parsed = parseCommandArgs(argv, {
    'page-size': { type: 'string' },
    firmware: { type: 'string' },
    policy: { type: 'string' },
    before: { type: 'string' },
    after: { type: 'string' },
    'no-layout': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    record: { type: 'string' },
    qemu: { type: 'string' },
    svg: { type: 'string' },
  });
  const [sub, ...rest] = parsed.positionals;
  switch (sub) {
    case 'run':
      return cmdRun(rest, parsed.values, io);
    case 'check-lspci':
      return cmdCheckLspci(rest, parsed.values, io);
    case 'firmware-check':
      return cmdFirmwareCheck(rest, parsed.values, io);
    case undefined:
      throw new UsageError('missing subcommand (run or check-lspci)');
    default:
      throw new UsageError(`unknown subcommand "${sub}" (run or check-lspci)`);
  }
}

const command: Command = {
  name: 'scenario',
  summary: 'place BARs for QEMU scenarios and check VFIO safety; check pasted lspci layouts',
  usage,
  run,
};

export default command;
