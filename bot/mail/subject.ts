// Subject tags: what `[RFC PATCH v3 2/8]`, `[PATCH net-next]`, `[v3,0/3]`
// (patchwork) and reply markers say about a message.
import type { SubjectTags } from '../types.js';

/** Re:, RE:, Fwd:, AW: (de), SV: (nordic), VS: (fi), Antw: (nl), Odp: (pl), WG: (de), TR: (fr), R: not (too ambiguous). */
const REPLY_MARKER =
  /^(?:re|aw|sv|vs|antw|odp|wg|tr|fw|fwd|rif|ref)(?:\[\d+\]|\(\d+\))?[ \t]*:[ \t]*/i;

const LATE_REPLY_MARKER = /^(?:re|aw|fwd)(?:\[\d+\]|\(\d+\))?[ \t]*:[ \t]*/i;

const PATCH_TOKEN = /^patch(?:[-_]?v(\d+)(?:\.\d+)?)?$/i;
const RFC_TOKEN = /^rfc(?:[-_]?v(\d+))?$/i;
const VERSION_TOKEN = /^v(\d+)(?:\.\d+)?$/i;
const COUNTER_TOKEN = /^(\d+)\/(\d+)$/;

export function parseSubject(subject: string): SubjectTags {
  let s = subject.replace(/\s+/g, ' ').trim();
  let isReply = false;
  const groups: string[] = [];
  // Reply markers and bracket groups, in whatever order they lead the subject.
  for (;;) {
    // After a bracket group ("[linux-pci] Re: ...") only the unmistakable markers count:
    // "[PATCH] fw: ..." is a subsystem prefix, not a forward.
    const marker = groups.length === 0 ? REPLY_MARKER.exec(s) : LATE_REPLY_MARKER.exec(s);
    if (marker) {
      isReply = true;
      s = s.slice(marker[0].length);
      continue;
    }
    if (s.startsWith('[')) {
      const close = s.indexOf(']');
      if (close < 0) break;
      groups.push(s.slice(1, close));
      s = s.slice(close + 1).trimStart();
      continue;
    }
    break;
  }
  const prefixes = groups.flatMap((g) => g.split(/[\s,]+/)).filter((t) => t !== '');
  let hasPatch = false;
  let hasVersion = false;
  let rfc = false;
  let resend = false;
  let version = 1;
  let index: number | null = null;
  let total: number | null = null;
  const treeTags: string[] = [];
  for (const token of prefixes) {
    let m: RegExpExecArray | null;
    if ((m = PATCH_TOKEN.exec(token))) {
      hasPatch = true;
      if (m[1]) {
        version = Number(m[1]);
        hasVersion = true;
      }
    } else if ((m = RFC_TOKEN.exec(token))) {
      rfc = true;
      if (m[1]) {
        version = Number(m[1]);
        hasVersion = true;
      }
    } else if (/^resend$/i.test(token)) {
      resend = true;
    } else if ((m = VERSION_TOKEN.exec(token))) {
      version = Number(m[1]);
      hasVersion = true;
    } else if ((m = COUNTER_TOKEN.exec(token)) && index === null) {
      index = Number(m[1]);
      total = Number(m[2]);
    } else {
      treeTags.push(token);
    }
  }
  if (version < 1) version = 1;
  const hasCounter = index !== null;
  const isPatch = !isReply && (hasPatch || ((rfc || resend || hasVersion) && hasCounter));
  return {
    prefixes,
    isPatch,
    rfc,
    resend,
    version,
    index,
    total,
    treeTags,
    isReply,
    title: s.trim(),
  };
}
