// Stable-tree hygiene. Two things maintainers check by eye on every fix:
//  - `Cc: stable` belongs on fixes for real bugs, not on patches that add a
//    feature, a Kconfig option or a parameter (Alex Williamson on the s390
//    VFIO_PCI_MMAP series: "essentially enabling a new feature", not stable);
//  - a patch that says which commit broke things should carry the matching
//    `Fixes:` trailer, so the fix follows that commit into the stable trees.
import type { Rule, RuleContext, RuleHit } from '../types.js';
import { addedLines } from '../lib/diff.js';
import { findNewParameters } from '../lib/params.js';
import { messageLine, prose } from '../lib/message.js';

const STABLE = /\bstable@(?:vger\.)?kernel\.org\b/i;
const FEATURE_SUBJECT = /^(add|introduce|support|enable|allow|implement|expose|new)\b/i;
const FIX_WORDS = /\b(fix(e[sd])?|broke|broken|breaks|regress(ion|ed)?|introduced|caused|bug)\b/i;
const COMMIT_REF = /\bcommit\s+([0-9a-f]{12,40})\s*\(\s*"([^"]+)"\s*\)/gi;

/** What makes the patch a feature rather than a fix, or null. */
async function featureEvidence(
  ctx: RuleContext,
): Promise<{ what: string; file?: string; line?: number } | null> {
  for (const l of addedLines(ctx.diff)) {
    if (/(^|\/)Kconfig[^/]*$/.test(l.file) && /^\s*(menu)?config\s+[A-Z0-9_]+/.test(l.text))
      return {
        what: `adds Kconfig symbol ${l.text.trim().split(/\s+/)[1]}`,
        file: l.file,
        line: l.line,
      };
  }
  const param = (await findNewParameters(ctx))[0];
  if (param)
    return {
      what: `adds the ${param.kind === 'module' ? 'module' : 'kernel'} parameter "${param.name}"`,
      file: param.at.file,
      line: param.at.line,
    };
  // "PCI: portdrv: Add foo" -> "Add foo": drop the subsystem prefixes.
  const title = ctx.patch.tags.title.replace(/^(?:[\w/.,-]+: +)+/, '');
  if (FEATURE_SUBJECT.test(title) && !FIX_WORDS.test(title))
    return { what: `subject "${ctx.patch.tags.title}" describes a feature` };
  return null;
}

async function check(ctx: RuleContext): Promise<RuleHit[]> {
  const hits: RuleHit[] = [];
  const stableTrailer = ctx.patch.trailers.find(
    (t) => t.key.toLowerCase() === 'cc' && STABLE.test(t.value),
  );
  if (stableTrailer) {
    const feature = await featureEvidence(ctx);
    if (feature)
      hits.push({
        title: 'Cc: stable on a patch that adds a feature',
        detail:
          `The patch is tagged for stable but ${feature.what}. Stable trees take fixes for real ` +
          'bugs; new features, options and parameters wait for the next release. Drop the tag or ' +
          'split the fix from the feature.',
        file: feature.file,
        line: feature.line,
        evidence: { trailer: `Cc: ${stableTrailer.value}`, reason: feature.what },
      });
  }
  const hasFixes = ctx.patch.trailers.some((t) => t.key.toLowerCase() === 'fixes');
  if (!hasFixes) {
    // The commit must be named in the same sentence as a word saying it broke something.
    for (const sentence of prose(ctx)
      .replace(/\n/g, ' ')
      .split(/(?<=[.!?])\s+/)) {
      if (!FIX_WORDS.test(sentence.replace(COMMIT_REF, ''))) continue;
      const ref = new RegExp(COMMIT_REF.source, 'i').exec(sentence);
      if (!ref) continue;
      const sha = ref[1]!.slice(0, 12);
      hits.push({
        title: 'Fix names the commit it fixes but has no Fixes: tag',
        detail:
          `The changelog says commit ${sha} caused the problem. Add ` +
          `"Fixes: ${sha} ("${ref[2]}")" so the fix follows that commit into the stable trees ` +
          'and backporters can find it.',
        evidence: {
          sentence: sentence.trim(),
          commit: ref[1],
          messageLine: messageLine(ctx, new RegExp(ref[1]!)),
        },
      });
      break;
    }
  }
  return hits;
}

const rule: Rule = {
  id: 'stable-and-fixes',
  title: 'Stable tag on a feature, or a fix without Fixes:',
  severity: 'warning',
  rationale:
    'Stable trees take fixes, not features or new options; and a fix that names the commit it ' +
    'repairs needs the Fixes: trailer for backports to find it.',
  references: [
    'Alex Williamson, Re: [v3,0/3] vfio/pci: s390: Fix issues preventing VFIO_PCI_MMAP=y, kvm, 2024-06-06 ("Nothing here looks like stable material")',
    'Documentation/process/stable-kernel-rules.rst',
    'Documentation/process/submitting-patches.rst ("Describe your changes": Fixes: tag)',
  ],
  check,
};

export default rule;
