// Maintainer commands in replies: a line at the start of the reply's own text
// (after any attribution and quoted lines, before anything else), such as
//   pcibot: review
//   pcibot: review base=1234abcd
//   pcibot: scenarios q35-small-bars,arm64-virt
//   pcibot: quiet            (stop replying on this thread)
//   pcibot: quiet <rule-id>  (stop reporting one rule on this thread)
// Anything else, or a command further down the mail, is not a command: a
// quoted "pcibot: review" in somebody's reply must not re-trigger a review.

export type TriggerCommand =
  | { kind: 'review'; base: string | null }
  | { kind: 'scenarios'; names: string[] }
  | { kind: 'quiet'; rule: string | null };

export type TriggerParse =
  { command: TriggerCommand; line: string } | { error: string; line: string } | null;

/** The first line of the sender's own text, skipping blank, quoted and attribution lines. */
export function firstOwnLine(body: string): string | null {
  for (const raw of body.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('>')) continue;
    if (/\bwrote:$/.test(line) || /^On .*(wrote|writes):?$/.test(line)) continue;
    return line;
  }
  return null;
}

export function parseTrigger(body: string): TriggerParse {
  const line = firstOwnLine(body);
  if (line === null) return null;
  const m = /^pcibot:\s*(\S+)(.*)$/i.exec(line);
  if (!m) return null;
  const verb = m[1]!.toLowerCase();
  const rest = m[2]!.trim();
  if (verb === 'review') {
    if (rest === '') return { command: { kind: 'review', base: null }, line };
    const b = /^base=([0-9a-f]{7,40})$/i.exec(rest);
    if (b) return { command: { kind: 'review', base: b[1]!.toLowerCase() }, line };
    return {
      error: `"pcibot: review" takes nothing or base=<commit id> (7-40 hex digits), got "${rest}"`,
      line,
    };
  }
  if (verb === 'scenarios') {
    const names = rest.split(/[\s,]+/).filter(Boolean);
    if (names.length === 0 || names.some((n) => !/^[a-z0-9][a-z0-9._-]*$/i.test(n)))
      return {
        error: `"pcibot: scenarios" takes a comma-separated list of scenario names, got "${rest}"`,
        line,
      };
    return { command: { kind: 'scenarios', names }, line };
  }
  if (verb === 'quiet') {
    if (rest === '') return { command: { kind: 'quiet', rule: null }, line };
    if (/^[a-z0-9][a-z0-9/_-]*$/.test(rest))
      return { command: { kind: 'quiet', rule: rest }, line };
    return { error: `"pcibot: quiet" takes nothing or a rule id, got "${rest}"`, line };
  }
  return { error: `unknown pcibot command "${verb}" (known: review, scenarios, quiet)`, line };
}
