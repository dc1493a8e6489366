// A change that makes the kernel realign or reassign every BAR of every device
// by default: the default alignment becomes non-zero for everyone, realloc is
// turned on by default, or PCI_REASSIGN_ALL_RSRC is set unconditionally.
// Bjorn Helgaas on "PCI: Align small BARs" (seed 001): "I'm frankly pretty
// scared about reassigning every BAR by default ... I'd be more comfortable if
// users had to specify a new option to get this behavior". The rule reads the
// kernel policy before and after the patch (bot/kernel/policy/read.ts), so it speaks
// only when the default really changes, not when a patch adds an opt-in.
import {
  readPolicyChange,
  touchesPolicy,
  type PolicyChange,
} from '../../bot/kernel/policy/read.js';
import { ARCHES, type Arch } from '../../bot/kernel/vocabulary.js';
import { describeAlignment } from '../../bot/kernel/policy/alignment.js';
import { ARCH_FILES } from '../../bot/kernel/policy/fields.js';
import { addedLines, touchedFiles, type DiffLine } from '../lib/diff.js';
import { patchIndex } from '../../bot/types.js';
import type { Rule, RuleContext, RuleHit } from '../types.js';
import { parseUnifiedDiff } from '../../bot/mail/diffparse.js';

const ALIGN_FUNCTIONS = [
  'pcibios_default_alignment',
  'pci_specified_resource_alignment',
  'pci_reassigndev_resource_alignment',
  'pci_request_resource_alignment',
];

/** Options this series adds elsewhere that look like a switch for this behaviour. */
function seriesOptions(ctx: RuleContext): { name: string; patch: number }[] {
  const out: { name: string; patch: number }[] = [];
  for (const [pos, p] of ctx.series.patches.entries()) {
    if (!p.diff) continue;
    const index = patchIndex(p, pos);
    for (const l of addedLines(parseUnifiedDiff(p.diff))) {
      const m =
        /\bstrn?cmp\s*\(\s*str\s*,\s*"([a-z0-9_]+)=?"/.exec(l.text) ??
        /\b(?:__setup|early_param)\s*\(\s*"([a-z0-9_.]+)=?"/.exec(l.text);
      if (!m || !/align|bar|realloc|reassign|page/i.test(m[1]!)) continue;
      if (!out.some((o) => o.name === m[1])) out.push({ name: m[1]!, patch: index });
    }
  }
  return out;
}

function firstAdded(
  lines: DiffLine[],
  file: string,
  from: number,
  re?: RegExp,
): DiffLine | undefined {
  const inFile = lines.filter((l) => l.file === file && l.line >= from);
  return (re ? inFile.find((l) => re.test(l.text)) : undefined) ?? inFile[0];
}

/**
 * What the new default makes pci_reassigndev_resource_alignment() do, as the
 * patched tree reads: with "already aligned BARs are kept" and "decoding only
 * when needed" (v3 7/8 and 2/8) only devices with a misaligned small BAR are
 * touched; without them every device is.
 */
function whatMoves(c: PolicyChange): string {
  const ra = c.after.policy.resourceAlignment;
  const align = describeAlignment(c.after.policy.defaultAlignment);
  const bars =
    ra.keepAligned === 'no'
      ? 'every small memory BAR of every device'
      : `every small memory BAR that does not already start on a ${align} boundary`;
  const decode = ra.onlyWhenNeeded
    ? 'turns off memory decoding (and releases the bridge windows) of each device that has such a BAR'
    : 'turns off memory decoding of every device (and releases every bridge window)';
  const nothing =
    ra.keepAligned !== 'no' && ra.onlyWhenNeeded
      ? ': where firmware aligned every BAR nothing moves, but where it did not (or assigned nothing) every such device is reassigned'
      : '';
  return `pci_reassigndev_resource_alignment() marks ${bars} for reassignment and ${decode}${nothing}`;
}

async function check(ctx: RuleContext): Promise<RuleHit[]> {
  const patched = ctx.after;
  if (!patched) return [];
  const touched = touchedFiles(ctx.diff);
  if (!touched.some(touchesPolicy) && !touched.some((p) => /(^|\/)Kconfig$/.test(p))) return [];
  const read = (arch: Arch) =>
    readPolicyChange(ctx.before, patched, arch, { changedPaths: touched, facts: false });
  // 1. The default alignment becomes non-zero.
  const isAligned = (c: PolicyChange) =>
    c.before.policy.defaultAlignment === 'zero' && c.after.policy.defaultAlignment !== 'zero';
  // 2. Realloc on by default.
  const isRealloc = (c: PolicyChange) =>
    c.before.policy.realloc !== 'on' && c.after.policy.realloc === 'on';
  // 3. PCI_REASSIGN_ALL_RSRC set unconditionally where it was not.
  const isReassign = (c: PolicyChange) => {
    const had = new Set(c.before.facts.reassignAll.map((r) => `${r.file}:${r.function}`));
    return c.after.facts.reassignAll.some(
      (r) => !r.conditional && !had.has(`${r.file}:${r.function}`),
    );
  };
  const hit = (c: PolicyChange) => isAligned(c) || isRealloc(c) || isReassign(c);
  // The generic code is the same for every arch: read x86_64, and the others when the
  // patch touches their code or something changed (to say exactly where).
  const first = await read('x86_64');
  const changes: PolicyChange[] = [first];
  for (const arch of ARCHES.slice(1))
    if (hit(first) || touched.some((p) => p.startsWith(ARCH_FILES[arch].dir)))
      changes.push(await read(arch));
  const aligned = changes.filter(isAligned);
  const realloc = changes.filter(isRealloc);
  const reassign = changes.filter(isReassign);
  if (!aligned.length && !realloc.length && !reassign.length) return [];
  const added = addedLines(ctx.diff);
  const hits: RuleHit[] = [];

  // Opt-outs: switches the reader found, and options the series adds.
  const optOut: string[] = [];
  const evidenceSwitches: unknown[] = [];
  for (const c of [...aligned]) {
    for (const s of c.after.facts.alignmentSwitches) {
      evidenceSwitches.push(s);
      const other = describeAlignment(s.onByDefault ? s.whenOff : s.whenOn);
      const name = s.kind === 'variable' ? `"${s.name}"` : s.name;
      const text = `${name} (${s.onByDefault ? 'on' : 'off'} by default; turning it ${s.onByDefault ? 'off' : 'on'} gives ${other})`;
      if (!optOut.includes(text)) optOut.push(text);
    }
  }
  const after = changes[0]!.after;
  for (const o of seriesOptions(ctx)) {
    const known = after.facts.pciOptions.find((p) => p.name === o.name);
    const feeds = known?.usedIn.some((f) => ALIGN_FUNCTIONS.includes(f));
    let text = `pci=${o.name} (patch ${o.patch})`;
    if (known && !feeds) {
      const vars = known.targets.filter((t) => /^[a-z_]\w*$/.test(t) && !/\(/.test(t));
      text += `, although nothing on the alignment path reads ${vars.length ? vars.join(', ') : 'what it sets'} in the tree after this patch`;
    } else if (!known && o.patch > ctx.index) text += ', added later in the series';
    if (!optOut.some((x) => x.startsWith(`pci=${o.name} `))) optOut.push(text);
  }
  const optText = optOut.length
    ? ` The series offers a way out: ${optOut.join('; ')}. That is still an opt-out: every system gets the new behaviour unless someone who knows about it turns it off.`
    : ' There is no opt-in and no way to turn it off.';

  if (aligned.length) {
    const c = aligned[0]!;
    const src = c.after.sources['defaultAlignment'] ?? '';
    const file = src.split(':')[0]!;
    const shape = c.after.functions[`${file}:pcibios_default_alignment`];
    const at = firstAdded(added, file, shape?.line ?? 0, /\breturn\b/);
    const arches = aligned.map((x) => x.arch);
    hits.push({
      title: `Realigns ${c.after.policy.resourceAlignment.keepAligned === 'no' ? 'every memory BAR of every device' : 'every small memory BAR not already aligned'} by default (default alignment ${describeAlignment(c.after.policy.defaultAlignment)})`,
      detail:
        `After this patch pcibios_default_alignment() returns ${describeAlignment(c.after.policy.defaultAlignment)} instead of 0 on ${arches.join(', ')}, ` +
        `so ${whatMoves(c)} at boot, whether or not anything is passed through. Maintainers asked for this to be opt-in ` +
        '(a parameter that names the passthrough use, tested where the alignment is applied).' +
        optText,
      ...(at ? { file: at.file, line: at.line } : {}),
      evidence: {
        change: 'default-alignment',
        before: c.before.policy.defaultAlignment,
        after: c.after.policy.defaultAlignment,
        expression: c.after.facts.defaultAlignmentExpr,
        arches,
        source: src,
        optOut,
        switches: evidenceSwitches,
      },
    });
  }
  if (realloc.length) {
    const at =
      added.find((l) => /pci_realloc_enable\s*=/.test(l.text)) ??
      added.find((l) => /(^|\/)Kconfig$/.test(l.file) && /default\s+y/.test(l.text));
    hits.push({
      title: 'Turns on PCI resource reallocation by default',
      detail:
        `After this patch realloc is on by default (${realloc.map((x) => x.arch).join(', ')}): the kernel releases and ` +
        'reassigns bridge windows and BARs the firmware set up whenever something does not fit. Realloc has been ' +
        'opt-in (pci=realloc) because the reassignment machinery is not trusted to run everywhere.' +
        optText,
      ...(at ? { file: at.file, line: at.line } : {}),
      evidence: {
        change: 'realloc',
        before: realloc[0]!.before.policy.realloc,
        after: 'on',
        arches: realloc.map((x) => x.arch),
        optOut,
      },
    });
  }
  if (reassign.length) {
    const at = added.find((l) => /PCI_REASSIGN_ALL_RSRC/.test(l.text));
    const where = reassign.flatMap((c) =>
      c.after.facts.reassignAll
        .filter((r) => !r.conditional)
        .map((r) => `${r.function}() (${r.file})`),
    );
    hits.push({
      title: 'Reassigns every BAR by default (PCI_REASSIGN_ALL_RSRC)',
      detail:
        `After this patch ${[...new Set(where)].join(', ')} sets PCI_REASSIGN_ALL_RSRC unconditionally on ` +
        `${reassign.map((x) => x.arch).join(', ')}: every firmware assignment is thrown away and the kernel assigns all ` +
        'BARs itself on every system.' +
        optText,
      ...(at ? { file: at.file, line: at.line } : {}),
      evidence: { change: 'reassign-all', where, arches: reassign.map((x) => x.arch), optOut },
    });
  }
  return hits;
}

const rule: Rule = {
  id: 'realign-by-default',
  title: 'Realigns or reassigns every BAR by default',
  severity: 'warning',
  rationale:
    'Moving every BAR of every device by default risks breaking systems that do not need it (decoding is ' +
    'turned off, firmware assignments are discarded, the reassignment code runs everywhere); maintainers ' +
    'want such behaviour opt-in, so that users know what they changed and can change it back.',
  references: [
    'Bjorn Helgaas, Re: [PATCH v3 8/8] PCI: Align small BARs, linux-pci, 2024-08 ("I\'m frankly pretty scared about reassigning every BAR by default")',
    'drivers/pci/pci.c: pcibios_default_alignment(), pci_reassigndev_resource_alignment()',
  ],
  check,
};

export default rule;
