// Finding, in a patch, the changes that relax device isolation. Each is read
// from the diff and the tree before/after it, never from file names alone:
//  - a refusal (a guard that skips, fails or returns false) in vfio-pci's mmap,
//    read/write-trap or registration code, or in the ACS/grouping code, that no
//    longer holds anywhere in the patched files, or holds in fewer cases (an
//    extra `&& ...` on a refusal, a dropped requirement on a permission);
//  - a new case in which such code allows (mmap supported, ACS reported);
//  - new ACS quirk table entries (each claims a device isolates its functions);
//  - removed DMA alias quirks and grouping steps (they split IOMMU groups);
//  - a driver newly declaring driver_managed_dma outside vfio;
//  - new "unsafe"/"override"/"allow" switches, switches turned on by default,
//    removed isolated-MSI checks, and new claims of interrupt isolation.
import type { DiffFile, RuleContext } from '../types.js';
import { addedLines, codeOnly, filePath, isC, removedLines, type DiffLine } from '../lib/diff.js';
import { findNewParameters } from '../lib/params.js';
import { findGuards, statementsOf, type Guard } from '../../bot/kernel/c/guards.js';
import { scopeAt, topLevelScopes, type Scope } from '../../bot/kernel/c/source.js';
import { keysCover, literalKey, sameLiteral, significant, statedIn } from './literals.js';

export type RelaxationKind =
  | 'vfio-mmap'
  | 'acs'
  | 'acs-quirk'
  | 'dma-alias'
  | 'dma-ownership'
  | 'unsafe-switch'
  | 'msi-isolation';

export interface Relaxation {
  kind: RelaxationKind;
  /** What the change does, as a clause: "no longer refuses ... when ...". */
  what: string;
  file: string;
  /** New-side line the finding points at. */
  line: number;
  code: string;
}

/** Code areas whose guards carry isolation policy. */
interface Area {
  kind: RelaxationKind;
  files: RegExp;
  /** Functions (top-level scopes) whose refusals and permissions are policy. */
  scopes: RegExp;
  /** Literals that make a guard policy wherever it is (used when `scopes` is broad). */
  literals?: RegExp;
  /** Also treat guards whose literals match this as refusals (the MSI-X read/write trap). */
  traps?: RegExp;
  /** What the scope's permission means, for the message. */
  allows: string;
  /** The statements that grant it (an unrelated `x = true` in the same function does not). */
  grants: RegExp;
}

const AREAS: Area[] = [
  {
    kind: 'vfio-mmap',
    files: /^drivers\/vfio\/pci\/.*\.c$/,
    scopes: /mmap|bar_rw|ioeventfd|region_info|register_device|msix|probe|denylist|sparse/,
    traps: /msix/i,
    allows: 'userspace access to the BAR',
    grants: /mmap|msix|mappable/i,
  },
  {
    kind: 'acs',
    files: /^drivers\/(pci|iommu)\/.*\.c$/,
    scopes: /acs|device_group|alias/,
    allows: 'isolation (smaller IOMMU groups)',
    grants: /^return\s+(true|1)$|acs|isolat/i,
  },
  {
    kind: 'msi-isolation',
    files: /^(drivers\/(vfio|iommu|pci|irqchip)|arch\/[^/]+)\/.*\.c$/,
    scopes: /./,
    literals: /isolated_msi|INTR_REMAP|msi_remap|MSI_REMAP|ISOLATED_MSI|allow_unsafe/,
    allows: 'devices without MSI isolation',
    grants: /unsafe|isolated_msi|remap/i,
  },
];

/** Statements that grant on their own: a bare `return true`, `bar_mmap_supported[...] = true`. */
const ALLOW_STATEMENT =
  /^(return\s+(true|1)|[\w.\->\s]*\bbar_mmap_supported\s*\[[^\]]*\]\s*=\s*true)$/;

const DECLARATION =
  /\.\s*(driver_managed_dma|suppress_auto_claim_dma_owner|no_kernel_api_dma)\s*=\s*(true|1)\b/;
const ALIAS_QUIRK =
  /\bDECLARE_PCI_FIXUP_\w+\s*\(.*\b\w*dma\w*alias\w*\s*\)|\bpci_add_dma_alias\s*\(|\bdma_alias_mask\b/;
const GROUPING_STEPS = [
  'pci_acs_path_enabled',
  'get_pci_alias_group',
  'get_pci_function_alias_group',
  'pci_for_each_dma_alias',
];
const SWITCH_NAME =
  /unsafe|insecure|override|(^|[_.])allow_|(^|[_.=])(disable|no)_?\w*(isolat|acs|remap|denylist|blacklist|protect|secur|iommu)/i;
const SWITCH_FILES =
  /^(drivers\/(pci|vfio|iommu)\/|arch\/[^/]+\/(pci|kernel\/pci)|Documentation\/)/;
const ISOLATION_CLAIM =
  /\bcase\s+IOMMU_CAP_INTR_REMAP\s*:|\bIRQ_DOMAIN_FLAG_(ISOLATED_MSI|MSI_REMAP)\b|\bIOMMU_CAP_INTR_REMAP\b.*\breturn\s+true/;

interface FileState {
  path: string;
  diff: DiffFile;
  before: string | null;
  after: string | null;
  removed: Set<number>;
  added: Set<number>;
}

/** New-side line closest to an old-side (removed) line: the first line after it in the hunk. */
export function newLineFor(f: DiffFile, oldLine: number): number {
  for (const chunk of f.chunks) {
    if (oldLine < chunk.oldStart || oldLine >= chunk.oldStart + Math.max(chunk.oldLines, 1))
      continue;
    let newLine = chunk.newStart;
    let passed = false;
    for (const c of chunk.changes) {
      if (c.type === 'del') {
        if (c.ln >= oldLine) passed = true;
        continue;
      }
      const ln = c.type === 'add' ? c.ln : c.ln2;
      if (passed) return ln;
      newLine = ln + 1;
    }
    return newLine;
  }
  return oldLine;
}

async function fileStates(ctx: RuleContext): Promise<FileState[]> {
  const out: FileState[] = [];
  for (const f of ctx.diff) {
    const path = filePath(f);
    if (!isC(path)) continue;
    const from = f.from && f.from !== '/dev/null' ? f.from : null;
    const removed = new Set<number>();
    const added = new Set<number>();
    for (const chunk of f.chunks)
      for (const c of chunk.changes) {
        if (c.type === 'del') removed.add(c.ln);
        if (c.type === 'add') added.add(c.ln);
      }
    out.push({
      path,
      diff: f,
      before: from ? await ctx.before.read(from) : null,
      after: ctx.after && !f.deleted ? await ctx.after.read(path) : f.deleted ? '' : null,
      removed,
      added,
    });
  }
  return out;
}

const intersects = (set: Set<number>, from: number, to: number): boolean => {
  for (let l = from; l <= to; l++) if (set.has(l)) return true;
  return false;
};

/** Plumbing every ioctl has (copying arguments, sizes, allocation, locking): not policy. */
const PLUMBING =
  /^(copy_from_user|copy_to_user|get_user|put_user|argsz|minsz|k[mzc]alloc\w*|kvzalloc|vzalloc|mutex_\w+|down_\w+|up_\w+|signal_pending|fatal_signal_pending|refcount_\w+|atomic_\w+|offsetofend|sizeof)$/;

/** Variables declared at file level (switches such as allow_unsafe_interrupts), by name. */
function fileGlobals(text: string, scopes: Scope[]): Set<string> {
  const out = new Set<string>();
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (scopes.some((s) => s.start <= i + 1 && i + 1 <= s.end)) continue;
    const m =
      /^(?:static\s+)?(?:const\s+)?(?:bool|int|unsigned(?:\s+int|\s+long)?|long|u8|u16|u32|u64)\s+(\w+)\s*[;=]/.exec(
        line,
      );
    if (m) out.add(m[1]!);
  }
  return out;
}

/** A clause is policy when it tests something beyond locals and plumbing: a field, call, constant or switch. */
const isPolicyClause = (clause: string[], area: Area, globals: Set<string>): boolean =>
  clause.some(
    (l) =>
      [...significant(l)].some((id) => !PLUMBING.test(id)) ||
      (l.match(/\b[A-Za-z_]\w*\b/g) ?? []).some((id) => globals.has(id)),
  ) &&
  (!area.literals || clause.some((l) => area.literals!.test(l)));

const quoteClause = (clause: string[]): string => clause.join(' && ');

function guardRelaxations(files: FileState[], area: Area): Relaxation[] {
  const out: Relaxation[] = [];
  const mine = files.filter(
    (f) => area.files.test(f.path) && f.before !== null && f.after !== null,
  );
  if (mine.length === 0) return out;
  const parsed = mine.map((f) => {
    const bScopes = topLevelScopes(f.before!);
    const aScopes = topLevelScopes(f.after!);
    return {
      f,
      bScopes,
      aScopes,
      globals: new Set([...fileGlobals(f.before!, bScopes), ...fileGlobals(f.after!, aScopes)]),
      bGuards: findGuards(f.before!),
      aGuards: findGuards(f.after!),
      aStatements: statementsOf(f.after!),
    };
  });
  const afterRefusals = parsed.flatMap((p) => p.aGuards.filter((g) => g.kind !== 'allow'));
  const refusalKeys = afterRefusals.flatMap((g) => g.clauses.map((c) => c.map(literalKey)));
  const afterStatements = parsed.flatMap((p) => p.aStatements);

  for (const p of parsed) {
    const { f } = p;
    const changed = new Set<string>();
    for (const l of f.removed) {
      const s = scopeAt(p.bScopes, l);
      if (s) changed.add(s.name);
    }
    for (const l of f.added) {
      const s = scopeAt(p.aScopes, l);
      if (s) changed.add(s.name);
    }
    const policy = (scope: string) => changed.has(scope) && area.scopes.test(scope);
    // A trap does something itself (sets up the MSI-X window); an `if` that only holds others is not one.
    const isTrap = (g: Guard) =>
      g.kind === 'other' &&
      g.statements.length > 0 &&
      !!area.traps &&
      g.clauses.some((c) => c.some((l) => area.traps!.test(l)));

    // Refusals (and traps) that no longer hold.
    for (const g of p.bGuards) {
      if (!policy(g.scope) || !(g.kind === 'deny' || isTrap(g))) continue;
      for (const clause of g.clauses) {
        if (!isPolicyClause(clause, area, p.globals)) continue;
        const keys = clause.map(literalKey);
        const held = refusalKeys.some((c) => keysCover(c, keys));
        if (held || statedIn(clause, afterStatements)) continue;
        // The same refusal with extra conditions: it now holds in fewer cases.
        const narrower = afterRefusals
          .filter((a) => a.scope === g.scope)
          .flatMap((a) => a.clauses)
          .find((c) => clause.every((l) => c.some((x) => sameLiteral(x, l))));
        out.push({
          kind: area.kind,
          what: narrower
            ? `${g.scope}() now refuses only when "${quoteClause(narrower)}", no longer whenever "${quoteClause(clause)}"`
            : isTrap(g)
              ? `${g.scope}() no longer traps accesses when "${quoteClause(clause)}"`
              : `${g.scope}() no longer refuses when "${quoteClause(clause)}"`,
          file: f.path,
          line: newLineFor(f.diff, g.line),
          code: `if (${g.cond})`,
        });
      }
    }

    // Permissions granted in new cases.
    const beforeAllows = p.bGuards.filter((g) => g.kind === 'allow');
    const reported = new Set<string>();
    for (const g of p.aGuards) {
      if (!policy(g.scope) || g.kind !== 'allow') continue;
      if (!intersects(f.added, g.line, g.bodyEnd)) continue;
      if (!g.statements.some((st) => area.grants.test(st))) continue;
      for (const clause of g.clauses) {
        if (!isPolicyClause(clause, area, p.globals)) continue;
        const keys = clause.map(literalKey);
        const asStrict = beforeAllows.some((b) =>
          b.clauses.some((c) => keysCover(c.map(literalKey), keys)),
        );
        if (asStrict) continue;
        reported.add(g.scope);
        out.push({
          kind: area.kind,
          what: `${g.scope}() now grants ${area.allows} when "${quoteClause(clause)}"`,
          file: f.path,
          line: g.line,
          code: `if (${g.cond})`,
        });
      }
    }

    // Unconditional permissions added to an existing function: a grant (a bare
    // `return true`, a new `bar_mmap_supported[...] = true`) outside every guard,
    // and not merely moved there.
    if (area.literals) continue;
    const lines = f.after!.split('\n');
    const removedText = new Set(
      [...f.removed].map((l) => codeOnly(f.before!.split('\n')[l - 1] ?? '').trim()),
    );
    for (const l of [...f.added].sort((a, b) => a - b)) {
      const scope = scopeAt(p.aScopes, l);
      if (!scope || !area.scopes.test(scope.name) || reported.has(scope.name)) continue;
      if (!p.bScopes.some((b) => b.name === scope.name)) continue;
      const code = codeOnly(lines[l - 1] ?? '').trim();
      if (!ALLOW_STATEMENT.test(code.replace(/;$/, '')) || removedText.has(code)) continue;
      const guarded = p.aGuards.some((g) => g.condEnd < l && l <= g.bodyEnd);
      if (guarded) continue;
      reported.add(scope.name);
      out.push({
        kind: area.kind,
        what: `${scope.name}() gains an unconditional grant of ${area.allows}`,
        file: f.path,
        line: l,
        code: (lines[l - 1] ?? '').trim(),
      });
    }
  }
  return out;
}

/** New ACS quirk table entries: each claims a device isolates its functions. */
function acsQuirkEntries(files: FileState[]): Relaxation[] {
  const out: Relaxation[] = [];
  for (const f of files) {
    if (!/^drivers\/pci\/.*\.c$/.test(f.path)) continue;
    const aScopes = f.after ? topLevelScopes(f.after) : null;
    const beforeFlat = (f.before ?? '').replace(/\s+/g, '');
    for (const l of addedLines([f.diff])) {
      const m = /\{\s*([\w]+)\s*,\s*([\w]+)\s*,\s*(\w+)\s*\}/.exec(codeOnly(l.text));
      if (!m) continue;
      const table = aScopes ? scopeAt(aScopes, l.line) : null;
      const inAcsTable = table
        ? table.kind === 'variable' && table.array && /acs/.test(table.name)
        : /acs/.test(m[3]!);
      if (!inAcsTable || /acs_ops|enable_acs/.test(m[3]!)) continue;
      if (beforeFlat.includes(m[0].replace(/\s+/g, ''))) continue; // moved, not new
      out.push({
        kind: 'acs-quirk',
        what: `a new ACS quirk entry (${m[1]}, ${m[2]}, ${m[3]}) tells the IOMMU code that this device isolates its functions, so its IOMMU groups shrink`,
        file: f.path,
        line: l.line,
        code: l.text.trim(),
      });
    }
  }
  return out;
}

/** Removed DMA alias quirks and grouping steps: devices that alias each other stop sharing a group. */
function aliasAndGrouping(files: FileState[]): Relaxation[] {
  const out: Relaxation[] = [];
  for (const f of files) {
    if (!/^drivers\/(pci|iommu)\/.*\.c$/.test(f.path) || f.after === null) continue;
    const afterText = f.after.replace(/\s+/g, '');
    for (const l of removedLines([f.diff])) {
      const code = codeOnly(l.text);
      if (ALIAS_QUIRK.test(code)) {
        const flat = code.trim().replace(/\s+/g, '');
        if (flat && afterText.includes(flat)) continue;
        out.push({
          kind: 'dma-alias',
          what: 'a DMA alias quirk is removed, so devices that alias each other may no longer share an IOMMU group',
          file: f.path,
          line: newLineFor(f.diff, l.line),
          code: l.text.trim(),
        });
      }
    }
    if (!f.before) continue;
    const bScopes = topLevelScopes(f.before);
    const aScopes = topLevelScopes(f.after);
    for (const step of GROUPING_STEPS) {
      const calls = (text: string, scopes: typeof bScopes, name: string) => {
        const s = scopes.find((x) => x.name === name);
        if (!s) return 0;
        const body = codeOnlyBlock(text, s.start, s.end);
        return (body.match(new RegExp(`\\b${step}\\s*\\(`, 'g')) ?? []).length;
      };
      for (const s of bScopes.filter((x) => /device_group|alias_group/.test(x.name))) {
        const removedHere = [...f.removed].some((l) => l >= s.start && l <= s.end);
        if (!removedHere) continue;
        const before = calls(f.before, bScopes, s.name);
        const after = calls(f.after, aScopes, s.name);
        if (after >= before) continue;
        const at = removedLines([f.diff]).find((l) => new RegExp(`\\b${step}\\s*\\(`).test(l.text));
        out.push({
          kind: 'acs',
          what: `${s.name}() calls ${step}() in fewer places, so fewer devices are merged into one IOMMU group`,
          file: f.path,
          line: at ? newLineFor(f.diff, at.line) : s.start,
          code: at?.text.trim() ?? `${step}()`,
        });
      }
    }
  }
  return out;
}

function codeOnlyBlock(text: string, start: number, end: number): string {
  return text
    .split('\n')
    .slice(start - 1, end)
    .map(codeOnly)
    .join('\n');
}

/** A driver outside vfio newly exempted from kernel DMA ownership. */
function dmaOwnership(ctx: RuleContext): Relaxation[] {
  const removed = new Set(removedLines(ctx.diff, isC).map((l) => l.text.trim()));
  return addedLines(ctx.diff, isC)
    .filter((l) => !l.file.startsWith('drivers/vfio/') && DECLARATION.test(codeOnly(l.text)))
    .filter((l) => !removed.has(l.text.trim()))
    .map((l) => ({
      kind: 'dma-ownership' as const,
      what: `${l.file} now declares driver_managed_dma, so devices in its IOMMU group can be given to userspace while it stays bound`,
      file: l.file,
      line: l.line,
      code: l.text.trim(),
    }));
}

/** New unsafe/override switches, switches on by default, new interrupt-isolation claims. */
async function switches(ctx: RuleContext): Promise<Relaxation[]> {
  const out: Relaxation[] = [];
  for (const p of await findNewParameters(ctx)) {
    if (!SWITCH_NAME.test(p.name) || !SWITCH_FILES.test(p.at.file)) continue;
    out.push({
      kind: 'unsafe-switch',
      what: `a new ${p.kind === 'module' ? 'module' : 'kernel'} parameter "${p.name}" switches a protection off`,
      file: p.at.file,
      line: p.at.line,
      code: p.at.text.trim(),
    });
  }
  const removed = new Set(removedLines(ctx.diff, isC).map((l) => l.text.replace(/\s+/g, '')));
  const added = addedLines(ctx.diff, (p) => isC(p) && SWITCH_FILES.test(p));
  const isNew = (l: DiffLine) => !removed.has(l.text.replace(/\s+/g, ''));
  for (const l of added) {
    const code = codeOnly(l.text);
    const on = /\b(\w*(?:unsafe|insecure|override)\w*)\s*=\s*(true|1)\s*[;,]/i.exec(code);
    if (on && isNew(l))
      out.push({
        kind: 'unsafe-switch',
        what: `${on[1]} is turned on`,
        file: l.file,
        line: l.line,
        code: l.text.trim(),
      });
    if (ISOLATION_CLAIM.test(code) && isNew(l) && !/&\s*~\s*IRQ_DOMAIN_FLAG/.test(code))
      out.push({
        kind: 'msi-isolation',
        what: 'the platform now claims interrupt (MSI) isolation, which vfio relies on to let devices be assigned',
        file: l.file,
        line: l.line,
        code: l.text.trim(),
      });
  }
  return out;
}

/** Every relaxation of isolation in the patch, in diff order, one per file and line. */
export async function findRelaxations(ctx: RuleContext): Promise<Relaxation[]> {
  const files = await fileStates(ctx);
  const all = [
    ...AREAS.flatMap((a) => guardRelaxations(files, a)),
    ...acsQuirkEntries(files),
    ...aliasAndGrouping(files),
    ...dmaOwnership(ctx),
    ...(await switches(ctx)),
  ];
  const seen = new Set<string>();
  const order = ctx.diff.map(filePath);
  return all
    .filter((r) => {
      const key = `${r.file}:${r.line}:${r.kind}`;
      return !seen.has(key) && seen.add(key);
    })
    .sort((a, b) => order.indexOf(a.file) - order.indexOf(b.file) || a.line - b.line);
}
