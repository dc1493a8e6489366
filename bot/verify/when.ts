// When to verify a series (build the patched kernel, boot the scenarios): the
// one decision `pcibot review --verify` and the service's verify queue both
// take. Verify is slow (minutes), so it runs only when asked (the CLI flag, a
// deployment's verify.enabled) and only for a series that applied and changes
// a file the kernel policy is read from: for any other series a boot cannot
// show a difference from the base the model does not already know.
import { touchesPolicy } from '../kernel/policy/read.js';
import { anyApplied } from '../tree/apply.js';
import type { Applied } from '../types.js';

export interface VerifyDecision {
  /** Verify was asked for (the CLI flag, the deployment). */
  asked: boolean;
  verify: boolean;
  /** Why, in a few words (reported beside the result). */
  reason: string;
}

export function whenToVerify(asked: boolean, applied: Applied | null): VerifyDecision {
  if (!asked) return { asked, verify: false, reason: 'not asked for' };
  if (!anyApplied(applied))
    return { asked, verify: false, reason: 'no patch of the series applied' };
  const policy = Object.keys(applied.overlay).filter(touchesPolicy).sort();
  if (!policy.length)
    return {
      asked,
      verify: false,
      reason: 'the series changes no file the kernel policy is read from',
    };
  const more = policy.length > 3 ? ` and ${policy.length - 3} more` : '';
  return {
    asked,
    verify: true,
    reason: `the series changes ${policy.slice(0, 3).join(', ')}${more}`,
  };
}
