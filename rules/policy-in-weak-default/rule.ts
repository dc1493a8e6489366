// Policy put into an arch hook or a __weak default instead of where it is
// applied, explained by a comment that cites spec compliance while the real
// reason (passthrough, page sharing, isolation), which the changelog gives, is
// not in the comment. Bjorn Helgaas on "PCI: Align small BARs" (seed 001): the
// "spec compliance" comment is "not the *real* reason we want to do this";
// "doing this in pcibios_default_alignment() ends up being a very non-obvious
// way to make this happen" (all implementations of the hook must be looked at,
// and the value only applies two calls up, in pci_reassigndev_resource_alignment()).
import { readPolicyChange } from '../../bot/kernel/policy/read.js';
import { ARCHES } from '../../bot/kernel/vocabulary.js';
import { ARCH_FILES } from '../../bot/kernel/policy/fields.js';
import { SourceSet } from '../../bot/kernel/policy/sources.js';
import type { CDef, CSource } from '../../bot/kernel/c/source.js';
import { addedLines, isC, touchedFiles } from '../lib/diff.js';
import { prose } from '../lib/message.js';
import type { Rule, RuleContext, RuleHit } from '../types.js';

/** A comment citing the spec as the reason: "PCIe r6.1 sec 7.7.2", "per the PCI spec", ... */
const SPEC =
  /\b(?:PCIe?|PCI Express|PCI Local Bus|PCI-SIG)\b[^.\n]{0,40}?\b(?:r|rev\.?|revision|spec(?:ification)?|base spec(?:ification)?)\s*\d|\bsec(?:tion)?\.?\s*\d+(?:\.\d+)+|\bspec(?:ification)?\s+(?:compliance|requires|mandates|says|requirement)|\b(?:per|according to|required by|to comply with) the (?:PCIe? |PCI Express )?spec/i;

/** The reasons that matter for BAR placement and isolation policy. */
const REASON =
  /pass[- ]?through|passed through|\bguests?\b|\bVMs?\b|virtual machine|\bvfio\b|\bisolat|\bshar(?:e|es|ed|ing)\b[^.\n]{0,40}\bpages?\b|\bpages?\b[^.\n]{0,20}\bshar|XSA-\d|CVE-\d|\bsecurity\b|hypervisor/i;

/** Policy-sounding hooks: what a __weak/pcibios_* change is likely to decide. */
const POLICYISH = /align|reassign|realloc|resource|window|acs|mmap|dma|probe_only|flags/i;

interface Comment {
  text: string;
  first: number;
  last: number;
}

function commentsIn(src: CSource, from: number, to: number): Comment[] {
  const out: Comment[] = [];
  const text = src.text.slice(from, to);
  for (const m of text.matchAll(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g)) {
    const at = from + m.index;
    out.push({ text: m[0], first: src.lineOf(at), last: src.lineOf(at + m[0].length - 1) });
  }
  return out;
}

/** Where the comment block above a definition starts (blank and comment lines walked back). */
function commentAbove(src: CSource, def: CDef): number {
  let at = def.start;
  for (;;) {
    const prevEnd = src.text.lastIndexOf('\n', at - 2);
    const line = src.text.slice(prevEnd + 1, at).trim();
    if (prevEnd < 0 || !(line === '' || /^(\/\*|\*|\/\/)/.test(line))) break;
    at = prevEnd + 1;
  }
  return at;
}

/** Abbreviations whose period does not end a sentence ("to e.g. QEMU", "i.e. the BAR"). */
const ABBREVIATION = /(?:^|[\s(])(?:e\.g|i\.e|etc|cf|vs|viz|approx|resp|incl|esp|Fig|Sec|No)\.$/i;

/** Where the sentences of a flat text end: at ". " unless the period belongs to an abbreviation. */
function sentenceEnds(flat: string): number[] {
  const out: number[] = [];
  for (let i = flat.indexOf('. '); i >= 0; i = flat.indexOf('. ', i + 1))
    if (!ABBREVIATION.test(flat.slice(Math.max(0, i - 8), i + 1))) out.push(i);
  return out;
}

function sentenceWith(text: string, re: RegExp): string | null {
  const flat = text.replace(/\s+/g, ' ');
  const m = re.exec(flat);
  if (!m) return null;
  const ends = sentenceEnds(flat);
  const before = ends.filter((e) => e < m.index);
  const start = before.length ? before[before.length - 1]! + 2 : 0;
  const end = ends.find((e) => e >= m.index) ?? flat.length;
  const s = flat.slice(start, end).trim();
  return s.length > 140 ? `${s.slice(0, 137)}...` : s;
}

async function check(ctx: RuleContext): Promise<RuleHit[]> {
  if (!ctx.after) return [];
  const why = sentenceWith(prose(ctx), REASON);
  if (!why) return [];
  const added = addedLines(ctx.diff);
  const before = new SourceSet(ctx.before);
  const after = new SourceSet(ctx.after);
  const hits: RuleHit[] = [];
  let policyFields: Map<string, string[]> | null = null;

  for (const file of touchedFiles(ctx.diff).filter(isC)) {
    const src = await after.c(file);
    if (!src) continue;
    const addedHere = new Set(added.filter((l) => l.file === file).map((l) => l.line));
    if (!addedHere.size) continue;
    const old = await before.c(file);
    // Candidates: __weak definitions and pcibios_* hooks (found in the text, then read properly).
    const names = new Set<string>();
    for (const m of src.text.matchAll(/\b__weak\b[\w\s*]*?\b([A-Za-z_]\w*)\s*\(/g))
      names.add(m[1]!);
    for (const m of src.text.matchAll(/^(?:[A-Za-z_][\w \t*]*[ \t*])?(pcibios_\w+)\s*\(/gm))
      names.add(m[1]!);
    for (const def of [...names].flatMap((n) => src.functions(n))) {
      const hook = /^pcibios_/.test(def.name);
      if (!def.weak && !hook) continue;
      // The code changed (not only its comment).
      const was = old?.functions(def.name) ?? [];
      if (was.length && old!.norm(was[0]!) === src.norm(def)) continue;
      // A new or changed comment in or above it that cites the spec, without the reason.
      const comments = commentsIn(src, commentAbove(src, def), def.close + 1).filter((c) => {
        for (let l = c.first; l <= c.last; l++) if (addedHere.has(l)) return true;
        return false;
      });
      const cited = comments.find((c) => SPEC.test(c.text));
      if (!cited || comments.some((c) => REASON.test(c.text))) continue;
      // It must carry policy: the reader sees a policy field change here, or the hook is about placement.
      if (!policyFields) {
        policyFields = new Map();
        for (const arch of ARCHES) {
          const c = await readPolicyChange(ctx.before, ctx.after, arch, {
            changedPaths: touchedFiles(ctx.diff),
            facts: false,
          });
          for (const f of c.changedFields) {
            const source = c.after.sources[f] ?? '';
            const key = source.split(' (')[0]!;
            policyFields.set(key, [...new Set([...(policyFields.get(key) ?? []), f])]);
          }
        }
      }
      const fields = policyFields.get(`${file}: ${def.name}()`) ?? [];
      if (!fields.length && !POLICYISH.test(def.name)) continue;

      // Where the value is applied: callers in the same file, two levels up.
      const callers = src.functionsUsing(def.name, [def.name]);
      const callers2 = callers.flatMap((c) => src.functionsUsing(c, [c, def.name]));
      // Other implementations an reader has to look at.
      const overrides: string[] = [];
      if (def.weak) {
        for (const af of Object.values(ARCH_FILES))
          for (const f of af.pciFiles) {
            const a = await after.c(f);
            if (a && a.functions(def.name).some((d) => !d.weak)) overrides.push(f);
          }
      }
      const citation =
        sentenceWith(cited.text.replace(/^[ \t]*(?:\/\*+|\*+\/?|\/\/)[ \t]*/gm, ' '), SPEC) ??
        'the spec';
      const msix = /7\.7\.2|MSI-X/i.test(cited.text) && /align/i.test(def.name);
      const kind = def.weak ? 'a __weak default' : 'an arch hook';
      const what = fields.includes('defaultAlignment')
        ? 'the default BAR alignment'
        : `the policy in ${def.name}()`;
      hits.push({
        title: `Policy hidden in ${def.name}() (${kind}) with a spec-compliance comment`,
        detail:
          `This patch puts ${what} into ${def.name}(), ${kind}${overrides.length ? ` that ${overrides.join(', ')} also implement${overrides.length === 1 ? 's' : ''}` : ''}, ` +
          `and its comment justifies it by the spec ("${citation}"). The changelog gives the real reason ("${why}"), ` +
          `but the comment does not${callers.length ? `, and the value only takes effect through ${callers.map((c) => `${c}()`).join(', ')}${callers2.length ? ` in ${[...new Set(callers2)].map((c) => `${c}()`).join(', ')}` : ''}` : ''}. ` +
          'Put the policy where it is applied, with a comment that says why.' +
          (msix
            ? ' (PCIe sec 7.7.2 is about the layout inside one BAR, MSI-X table and PBA against other registers, not about how BARs of different devices are placed.)'
            : ''),
        file,
        line: cited.first,
        evidence: {
          function: def.name,
          weak: def.weak,
          comment: cited.text.replace(/\s+/g, ' ').trim(),
          changelogReason: why,
          fields,
          appliedIn: [...callers, ...new Set(callers2)],
          overrides,
        },
      });
    }
  }
  return hits;
}

const rule: Rule = {
  id: 'policy-in-weak-default',
  title: 'Policy in a __weak default or arch hook, with a spec-compliance comment',
  severity: 'warning',
  rationale:
    'Policy put into a __weak default or an arch hook is found only by tracing every implementation and every ' +
    'caller; when its comment cites the spec instead of the real reason (passthrough, page sharing, ' +
    'isolation), the next reader cannot tell what it is for or whether it is still needed.',
  references: [
    'Bjorn Helgaas, Re: [PATCH v3 8/8] PCI: Align small BARs, linux-pci, 2024-08 ("a \'spec compliance\' comment that is not the *real* reason")',
    'PCIe r6.x sec 7.7.2 (MSI-X Table and PBA: layout within a BAR)',
  ],
  check,
};

export default rule;
