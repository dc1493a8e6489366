// The DKIM result of a trigger mail, checked with mailauth (the library
// behind several mail servers; the DNS lookups go through `resolver`, which
// tests replace, since this machine has no network). A trigger counts as
// signed by its sender when a signature passes and its domain is aligned with
// the From domain (the DMARC sense: the same organisational domain).
import { dkimVerify } from 'mailauth';

/** mailauth's resolver shape: TXT records as arrays of strings. */
export type DnsResolver = (name: string, rrtype: string) => Promise<string[][] | string[]>;

export interface DkimResult {
  /** pass: a passing signature aligned with From; otherwise the best result seen. */
  result: 'pass' | 'fail' | 'neutral' | 'none' | 'temperror' | 'permerror' | 'policy' | 'unaligned';
  /** The signing domain of the result given. */
  domain: string | null;
  /** What mailauth said, one line per signature. */
  detail: string;
}

const RANK: Record<string, number> = {
  pass: 0,
  unaligned: 1,
  fail: 2,
  policy: 3,
  neutral: 4,
  temperror: 5,
  permerror: 6,
  none: 7,
};

export async function checkDkim(
  raw: Buffer,
  opts: { resolver?: DnsResolver; now?: Date } = {},
): Promise<DkimResult> {
  let res;
  try {
    res = await dkimVerify(raw, {
      ...(opts.resolver ? { resolver: opts.resolver } : {}),
      ...(opts.now ? { curTime: opts.now } : {}),
    });
  } catch (err) {
    return {
      result: 'permerror',
      domain: null,
      detail: `not checkable: ${(err as Error).message}`,
    };
  }
  const rows = (res.results ?? []).map((r) => {
    const status = r.status as {
      result: string;
      aligned?: string | false;
      comment?: string | false;
    };
    const base = String(status.result);
    const result = (
      base === 'pass' && !status.aligned ? 'unaligned' : base
    ) as DkimResult['result'];
    return {
      result: result in RANK ? result : 'neutral',
      domain: r.signingDomain || null,
      detail: `${r.signingDomain ?? '?'}: ${base}${status.comment ? ` (${status.comment})` : ''}${base === 'pass' && !status.aligned ? ' (not aligned with From)' : ''}`,
    };
  });
  if (rows.length === 0) return { result: 'none', domain: null, detail: 'no DKIM signature' };
  rows.sort((a, b) => (RANK[a.result] ?? 9) - (RANK[b.result] ?? 9));
  const best = rows[0]!;
  return { result: best.result, domain: best.domain, detail: rows.map((r) => r.detail).join('; ') };
}
