// When to verify a series (build the patched kernel, boot the scenarios): the
// one decision `pcibot review --verify` and the service's verify queue both
// take. Verify is slow (a build and boots), so it runs only when asked (the CLI
// flag, a deployment's verify.enabled) and only for a series that applied and
// changes a file the kernel policy is read from: for any other series a boot
// cannot show a difference from the base the model does not already know.
//
// `auto` asks for a boot exactly when the model's own answer needs one: a
// policy-carrying function changed in a way the reader did not understand (the
// model kept its base value, so its before/after may be wrong), or the model
// predicts an error the series introduces (confirmed or contradicted by the
// real kernel before anyone is told). It is decided on the series checks'
// findings; before they exist (the service schedules the verify job beside the
// analyse job) the decision is `pending` and the verify job takes it again
// with the same findings the report sees.
import { touchesPolicy } from '../kernel/policy/read.js';
import { anyApplied } from '../tree/apply.js';
import type { Applied, Finding } from '../types.js';

export type VerifyMode = 'off' | 'on' | 'auto';

export interface VerifyDecision {
  /** Verify was asked for (the CLI flag, the deployment), in either mode. */
  asked: boolean;
  /** `auto`: only when the model needs a boot (absent: on or off as `asked` says). */
  mode?: 'auto';
  verify: boolean;
  /** `auto` before the series checks ran: schedule the job, it decides. */
  pending?: boolean;
  /** Why, in a few words (reported beside the result). */
  reason: string;
}

/** `--verify`, `--verify auto`, `verify.enabled: true | "auto"`: the mode. */
export function verifyMode(asked: boolean | VerifyMode): VerifyMode {
  return asked === true ? 'on' : asked === false ? 'off' : asked;
}

/** Why the model needs a boot, from the series checks' findings (null: it does not). */
export function modelNeedsBoot(series: readonly Finding[]): string | null {
  const notUnderstood = [
    ...new Set(
      series
        .filter((f) => f.rule === 'policy/not-understood')
        .map((f) => String(f.evidence['function'] ?? f.file ?? 'a policy function')),
    ),
  ];
  if (notUnderstood.length)
    return `a policy change the model does not understand (${notUnderstood
      .slice(0, 3)
      .map((n) => (/^\w+$/.test(n) ? `${n}()` : n))
      .join(', ')}${notUnderstood.length > 3 ? ', ...' : ''})`;
  const errors = series.filter(
    (f) =>
      /^model\//.test(f.rule) &&
      f.evidence['change'] === 'introduced' &&
      (f.severity === 'error' || f.evidence['modelSeverity'] === 'error'),
  );
  if (errors.length) return `the model predicts ${errors.map((f) => f.title).join('; ')}`;
  return null;
}

export function whenToVerify(
  asked: boolean | VerifyMode,
  applied: Applied | null,
  /** The series checks' findings (analysis.series); undefined: not known yet; null: the checks failed. */
  series?: readonly Finding[] | null,
): VerifyDecision {
  const mode = verifyMode(asked);
  const base = { asked: mode !== 'off', ...(mode === 'auto' ? { mode: 'auto' as const } : {}) };
  if (mode === 'off') return { ...base, verify: false, reason: 'not asked for' };
  if (!anyApplied(applied))
    return { ...base, verify: false, reason: 'no patch of the series applied' };
  const policy = Object.keys(applied.overlay).filter(touchesPolicy).sort();
  if (!policy.length)
    return {
      ...base,
      verify: false,
      reason: 'the series changes no file the kernel policy is read from',
    };
  const more = policy.length > 3 ? ` and ${policy.length - 3} more` : '';
  const files = `${policy.slice(0, 3).join(', ')}${more}`;
  if (mode === 'on') return { ...base, verify: true, reason: `the series changes ${files}` };
  if (series === undefined)
    return {
      ...base,
      verify: true,
      pending: true,
      reason: `auto: the series changes ${files}; booted if the model needs it`,
    };
  if (series === null)
    return {
      ...base,
      verify: false,
      reason: 'auto: the series checks failed, so nothing says the model needs a boot',
    };
  const why = modelNeedsBoot(series);
  return why
    ? { ...base, verify: true, reason: `auto: ${why}` }
    : {
        ...base,
        verify: false,
        reason:
          'auto: the model understood every policy change and predicts no error the series introduces',
      };
}
