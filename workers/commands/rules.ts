// `pcibot rules`: what the review rules are, and how often each fires over a
// corpus of mails. `stats` runs the whole review pipeline (parse, assemble,
// scope, apply, rules) and counts findings per rule and severity; on the quiet
// corpus (fixtures/quiet-corpus, mails a maintainer would take without
// remarks) every error or warning it counts is a false positive.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { buildFixtureTree } from '../../fixtures/kernel-tree/build.js';
import { allRules } from '../../rules/index.js';
import type { Rule } from '../../rules/types.js';
import { runReview } from '../pipeline.js';
import type { Finding, Severity } from '../../bot/types.js';
import { isApplied } from '../../bot/tree/apply.js';
import { resolveTree } from '../../bot/tree/kernel.js';
import { fixturesDir, repoRoot } from '../../bot/util/paths.js';
import { UsageError, parseCommandArgs, type Command, type CommandIO } from './command.js';
import { EXIT_OK, EXIT_USAGE } from '../../bot/util/exit.js';

/** The corpus `pcibot rules stats` reads when given no directory. */
export const QUIET_CORPUS = join(fixturesDir, 'quiet-corpus');

export interface RuleHitCounts {
  id: string;
  title: string;
  severity: Severity;
  hits: Record<Severity, number>;
  /** Distinct patches (series id + index) the rule spoke about. */
  patches: number;
}

export interface RuleStats {
  schema: 'pcibot/rule-stats@1';
  inputs: string[];
  /** The tree the mails were applied to, or null when reviewed unapplied. */
  tree: string | null;
  messages: number;
  /** Messages that could not be parsed (with the reason in `failures`). */
  failed: number;
  series: number;
  reviewed: number;
  /** Patches of reviewed series, and how many of them applied. */
  patches: number;
  applied: number;
  rules: RuleHitCounts[];
  /** Findings that come from other analyses than the rules (policy reader, model), by id. */
  other: RuleHitCounts[];
  totals: Record<Severity, number>;
  /** pcibot's own problems (a rule that threw); never findings. */
  internalErrors: string[];
  failures: string[];
  elapsedMs: number;
}

/**
 * Review every mail under `dirs` against `tree` (a git tree path, or null to
 * review unapplied) and count each rule's findings by severity. For the bench
 * and `pcibot rules stats`.
 */
export async function ruleStats(
  dirs: string[],
  tree: string | null,
  opts: { rules?: readonly Rule[] } = {},
): Promise<RuleStats> {
  const rules = opts.rules ?? allRules;
  const t0 = performance.now();
  const report = await runReview({ inputs: dirs, tree, rules });
  type Count = {
    title: string;
    severity: Severity;
    hits: Record<Severity, number>;
    patches: Set<string>;
  };
  const counts = new Map<string, Count>();
  for (const r of rules)
    counts.set(r.id, {
      title: r.title,
      severity: r.severity,
      hits: { error: 0, warning: 0, info: 0 },
      patches: new Set(),
    });
  // Findings of other analyses (the policy reader, the model) are counted under their own ids.
  const countOf = (f: Finding): Count => {
    let c = counts.get(f.rule);
    if (!c) {
      c = {
        title: f.title,
        severity: f.severity,
        hits: { error: 0, warning: 0, info: 0 },
        patches: new Set(),
      };
      counts.set(f.rule, c);
    }
    return c;
  };
  let patches = 0;
  let applied = 0;
  for (const s of report.series) {
    if (s.status !== 'reviewed') continue;
    for (const f of s.findings) {
      const c = countOf(f);
      c.hits[f.severity]++;
      c.patches.add(`${s.id}#${f.patch ?? 'series'}`);
    }
    for (const p of s.patches) {
      patches++;
      if (p.apply && isApplied(p.apply.status)) applied++;
      for (const f of p.findings) {
        const c = countOf(f);
        c.hits[f.severity]++;
        c.patches.add(`${s.id}#${p.index}`);
      }
    }
  }
  const row = (id: string): RuleHitCounts => {
    const c = counts.get(id)!;
    return { id, title: c.title, severity: c.severity, hits: c.hits, patches: c.patches.size };
  };
  const ruleIds = new Set(rules.map((r) => r.id));
  const ruleCounts = rules.map((r) => row(r.id));
  const other = [...counts.keys()]
    .filter((id) => !ruleIds.has(id))
    .sort()
    .map(row);
  const totals: Record<Severity, number> = { error: 0, warning: 0, info: 0 };
  for (const r of [...ruleCounts, ...other])
    for (const s of ['error', 'warning', 'info'] as const) totals[s] += r.hits[s];
  return {
    schema: 'pcibot/rule-stats@1',
    inputs: dirs,
    tree,
    messages: report.summary.messages,
    failed: report.summary.failed,
    series: report.summary.series,
    reviewed: report.summary.reviewed,
    patches,
    applied,
    rules: ruleCounts,
    other,
    totals,
    internalErrors: report.internalErrors.map(
      (e) => `${e.stage}${e.series ? ` ${e.series}` : ''}: ${e.detail}`,
    ),
    failures: report.failures.map(
      (f) => `${f.origin.file}${f.origin.index ? `#${f.origin.index}` : ''}: ${f.reason}`,
    ),
    elapsedMs: Math.round(performance.now() - t0),
  };
}

const usage = `usage: pcibot rules list [--json]
       pcibot rules stats [dir | file ...] [--tree PATH|fixture|none] [--json]

list    the review rules: id, severity and what each looks for
stats   review every mail in the inputs and count each rule's findings by
        severity, with how many series and patches were reviewed. Default
        input: the quiet corpus (fixtures/quiet-corpus), mails that should
        raise no error or warning.

options:
  --tree T   fixture (default): a temporary build of the fixture kernel tree,
             which the quiet corpus is written against; none: review the mails
             without applying them; otherwise a kernel git tree, or "auto"
  --json     print JSON (list: the rules; stats: schema pcibot/rule-stats@1)`;

function pad(s: string | number, n: number, right = false): string {
  const t = String(s);
  return right ? t.padStart(n) : t.padEnd(n);
}

function renderList(io: CommandIO, rules: readonly Rule[]): void {
  const width = Math.max(...rules.map((r) => r.id.length));
  for (const r of rules) io.stdout(`${pad(r.id, width)}  ${pad(r.severity, 7)}  ${r.title}\n`);
}

function renderStats(io: CommandIO, s: RuleStats, treeLabel: string): void {
  const inputs = s.inputs.map((i) => relative(repoRoot, i) || '.').join(', ');
  io.stdout(`pcibot rules stats: ${inputs} (tree: ${treeLabel})\n`);
  io.stdout(
    `  ${s.messages} messages (${s.failed} unreadable), ${s.series} series, ${s.reviewed} reviewed, ` +
      `${s.patches} patches (${s.applied} applied), ${s.elapsedMs} ms\n\n`,
  );
  const rows = [...s.rules, ...s.other];
  const width = Math.max(4, ...rows.map((r) => r.id.length));
  io.stdout(
    `  ${pad('rule', width)}  ${pad('error', 5, true)}  ${pad('warning', 7, true)}  ${pad('info', 4, true)}  patches\n`,
  );
  const line = (r: RuleHitCounts) =>
    io.stdout(
      `  ${pad(r.id, width)}  ${pad(r.hits.error, 5, true)}  ${pad(r.hits.warning, 7, true)}  ${pad(r.hits.info, 4, true)}  ${pad(r.patches, 7, true)}\n`,
    );
  s.rules.forEach(line);
  if (s.other.length) {
    io.stdout('  (other analyses)\n');
    s.other.forEach(line);
  }
  io.stdout(
    `  ${pad('total', width)}  ${pad(s.totals.error, 5, true)}  ${pad(s.totals.warning, 7, true)}  ${pad(s.totals.info, 4, true)}\n`,
  );
  for (const e of s.internalErrors) io.stderr(`pcibot rules stats: internal error: ${e}\n`);
  for (const f of s.failures) io.stderr(`pcibot rules stats: unreadable: ${f}\n`);
}

async function stats(argv: string[], io: CommandIO): Promise<number> {
  const parsed = parseCommandArgs(argv, {
    tree: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  const inputs = parsed.positionals.length
    ? parsed.positionals.map((p) => resolve(io.cwd, p))
    : [QUIET_CORPUS];
  for (const input of inputs)
    if (!existsSync(input)) {
      io.stderr(`pcibot rules stats: ${input}: no such file or directory\n`);
      return EXIT_USAGE;
    }

  const spec = parsed.values.tree ?? 'fixture';
  let work: string | null = null;
  let tree: string | null = null;
  let label = 'none';
  try {
    if (spec === 'fixture') {
      work = await mkdtemp(join(tmpdir(), 'pcibot-rules-stats-'));
      const built = await buildFixtureTree(join(work, 'tree'));
      tree = built.path;
      label = `fixture tree ${built.commit.slice(0, 12)}`;
    } else if (spec !== 'none') {
      try {
        tree = await resolveTree(spec, io.env, { log: (line) => io.stderr(`${line}\n`) });
      } catch (err) {
        io.stderr(`pcibot rules stats: ${(err as Error).message}\n`);
        return EXIT_USAGE;
      }
      label = tree;
    }
    const s = await ruleStats(inputs, tree);
    if (parsed.values.json)
      io.stdout(JSON.stringify(work ? { ...s, tree: label } : s, null, 2) + '\n');
    else renderStats(io, s, label);
    return EXIT_OK;
  } finally {
    if (work) await rm(work, { recursive: true, force: true });
  }
}

async function run(argv: string[], io: CommandIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'list') {
    const parsed = parseCommandArgs(rest, { json: { type: 'boolean', default: false } });
    if (parsed.positionals.length)
      throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`);
    if (parsed.values.json)
      io.stdout(
        JSON.stringify(
          allRules.map((r) => ({
            id: r.id,
            title: r.title,
            severity: r.severity,
            rationale: r.rationale,
            references: r.references,
          })),
          null,
          2,
        ) + '\n',
      );
    else renderList(io, allRules);
    return EXIT_OK;
  }
  if (sub === 'stats') return stats(rest, io);
  throw new UsageError(sub ? `unknown subcommand "${sub}" (list or stats)` : 'list or stats?');
}

const rules: Command = {
  name: 'rules',
  summary: 'list the review rules, or count their findings over a corpus of mails',
  usage,
  run,
};
export default rules;
