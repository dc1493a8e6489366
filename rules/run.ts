// Runs rules over one patch. A rule that throws does not stop the others: its
// failure is returned separately (it is pcibot's bug, not a finding about the
// patch, and must never reach a maintainer as one).
import type { Finding } from '../bot/types.js';
import type { Rule, RuleContext } from './types.js';

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
  for (const rule of rules) {
    try {
      for (const hit of await rule.check(ctx)) {
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
    } catch (err) {
      errors.push({
        rule: rule.id,
        patch: ctx.index,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }
  return { findings, errors };
}
