// Runs rules over one patch. A rule that throws does not stop the others: its
// failure is returned separately (it is pcibot's bug, not a finding about the
// patch, and must never reach a maintainer as one).
import type { Finding } from '../bot/types.js';
import type { Rule, RuleContext, RuleHit } from './types.js';

export interface RuleError {
  rule: string;
  patch: number;
  error: string;
}

/** A rule error as pcibot reports it (logs, the result's internalErrors): the one wording. */
export const ruleErrorText = (e: RuleError): string =>
  `rule ${e.rule} on patch ${e.patch}: ${e.error}`;

export async function runRules(
  rules: readonly Rule[],
  ctx: RuleContext,
): Promise<{ findings: Finding[]; errors: RuleError[] }> {
  const findings: Finding[] = [];
  const errors: RuleError[] = [];
  // All rules at once: they only read, and one rule's wait for git (a blob from
  // cat-file) is another's time to parse. Results are kept in rule order.
  type Outcome = { rule: Rule; hits: RuleHit[] } | { rule: Rule; error: string };
  const outcomes = await Promise.all(
    rules.map(async (rule): Promise<Outcome> => {
      try {
        return { rule, hits: await rule.check(ctx) };
      } catch (err) {
        return { rule, error: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
  for (const o of outcomes) {
    const { rule } = o;
    if ('error' in o) {
      errors.push({ rule: rule.id, patch: ctx.index, error: o.error });
      continue;
    }
    for (const hit of o.hits) {
      findings.push({
        rule: rule.id,
        severity: hit.severity ?? rule.severity,
        title: hit.title,
        detail: hit.detail,
        patch: ctx.index,
        ...(hit.file !== undefined ? { file: hit.file } : {}),
        ...(hit.line !== undefined ? { line: hit.line } : {}),
        evidence: hit.evidence ?? {},
        references: rule.references,
      });
    }
  }
  return { findings, errors };
}
