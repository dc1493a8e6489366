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
/** A stable tag's comment saying the patch is needed by a fix (the stable rules' prerequisite form). */
const PREREQUISITE = /#.*\b(prerequisite|dependen(cy|cies|t)|depends|needed by|required by)\b/i;
/** What the stable rules take besides fixes: "just add a device ID", quirks and workarounds. */
const STABLE_ALLOWS =
  /\b(quirks?|(device|pci|vendor)[ -]ids?|ids? (for|of)\b|id table|workarounds?|errat(a|um))\b/i;
/** A sentence saying a commit broke something (with a commit named, it wants a Fixes: tag). */
const FIX_WORDS = /\b(fix(e[sd])?|broke|broken|breaks|regress(ion|ed)?|introduced|caused|bug)\b/i;
/**
 * A subject that describes a fix, whatever its first verb: "Add missing range
 * check", "Add a NULL check", "Add lock to avoid a race", "Enable ... to
 * prevent a hang". Such a patch is stable material unless it adds an option.
 */
const FIX_WORDING = new RegExp(
  '\\b(' +
    [
      'fix(e[sd]|ing)?',
      'missing',
      'avoid(s|ed|ing)?',
      'prevent(s|ed|ing)?',
      'correct(s|ed|ly|ion)?',
      'incorrect(ly)?',
      'check(s|ing)?',
      'handl(e|es|ed|ing)',
      'leak(s|ed|ing)?',
      'overflow(s|ed|ing)?',
      'underflow(s|ed|ing)?',
      'races?',
      'racy',
      'deadlock(s|ed)?',
      'crash(es|ed|ing)?',
      'hang(s|ing)?',
      'lockup',
      'oops',
      'panic',
      'null',
      'use-after-free',
      'uaf',
      'double[- ]free',
      'out-of-bounds',
      'oob',
      'corrupt(s|ed|ion)?',
      'broken',
      'breaks?',
      'regress(ion|ed)?',
      'bug',
      'wrong(ly)?',
      'bogus',
    ].join('|') +
    ')\\b',
  'i',
);
const COMMIT_REF = /\bcommit\s+([0-9a-f]{12,40})\s*\(\s*"([^"]+)"\s*\)/gi;

const fixesTrailer = (ctx: RuleContext) =>
  ctx.patch.trailers.find((t) => t.key.toLowerCase() === 'fixes') ?? null;

/**
 * What makes the patch a feature rather than a fix, or null: hard evidence
 * first (an added Kconfig symbol or parameter is a feature even in a fix),
 * then the subject's first verb, unless the patch says it fixes something.
 */
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
  // Without such hard evidence, a Fixes: tag or a subject that speaks of a
  // fix makes it a fix, whatever the first verb ("Add missing range check").
  if (fixesTrailer(ctx)) return null;
  // "PCI: portdrv: Add foo" -> "Add foo": drop the subsystem prefixes.
  const title = ctx.patch.tags.title.replace(/^(?:[\w/.,-]+: +)+/, '');
  if (FEATURE_SUBJECT.test(title) && !FIX_WORDING.test(title) && !STABLE_ALLOWS.test(title))
    return {
      what: `subject "${ctx.patch.tags.title}" describes a feature (it has no Fixes: tag and names no bug)`,
    };
  return null;
}

async function check(ctx: RuleContext): Promise<RuleHit[]> {
  const hits: RuleHit[] = [];
  const stableTrailer = ctx.patch.trailers.find(
    (t) => t.key.toLowerCase() === 'cc' && STABLE.test(t.value),
  );
  // `Cc: stable@vger.kernel.org # 6.6.x: prerequisite for ...`: a dependency, marked as such.
  if (stableTrailer && !PREREQUISITE.test(stableTrailer.value)) {
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
  if (!fixesTrailer(ctx)) {
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
