// Raw header blocks: where a message's headers end, the unfolded fields, and
// MIME parameter values. Works on "binary" (latin1) strings, one char per byte,
// so offsets are byte offsets and nothing is decoded behind our back.
// (mailparser decodes the top-level headers for the Message; this is for the
// MIME structure, which we walk ourselves so the patch bytes stay exact.)

export interface HeaderSplit {
  /** The header block, without the blank line that ends it. */
  header: string;
  /** Everything after the blank line ('' when the message has no body). */
  body: string;
  /** Byte offset of the body in the message (= raw.length when there is none). */
  bodyOffset: number;
}

/** Split a message at the first empty line (LF or CRLF). */
export function splitHeaderBody(raw: string): HeaderSplit {
  // The first line may itself be empty: then there are no headers at all.
  if (raw.startsWith('\n')) return { header: '', body: raw.slice(1), bodyOffset: 1 };
  if (raw.startsWith('\r\n')) return { header: '', body: raw.slice(2), bodyOffset: 2 };
  const m = /\r?\n\r?\n/.exec(raw);
  if (!m) return { header: raw.replace(/\r?\n$/, ''), body: '', bodyOffset: raw.length };
  const bodyOffset = m.index + m[0].length;
  return { header: raw.slice(0, m.index), body: raw.slice(bodyOffset), bodyOffset };
}

/** A field name as RFC 5322 allows it: printable ASCII except colon and space. */
export const FIELD_LINE = /^([\x21-\x39\x3b-\x7e]+)[ \t]*:/;

export interface HeaderField {
  /** Lower-cased name. */
  name: string;
  /** Unfolded value (folding CRLF removed, leading whitespace trimmed), still raw bytes. */
  value: string;
}

/** Unfold a header block into fields; lines that are neither fields nor continuations are returned apart. */
export function parseHeaderFields(header: string): { fields: HeaderField[]; junk: number[] } {
  const fields: HeaderField[] = [];
  const junk: number[] = [];
  const lines = header.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if ((line.startsWith(' ') || line.startsWith('\t')) && fields.length > 0) {
      fields[fields.length - 1]!.value += line;
      continue;
    }
    const m = FIELD_LINE.exec(line);
    if (!m) {
      junk.push(i + 1);
      continue;
    }
    fields.push({ name: m[1]!.toLowerCase(), value: line.slice(m[0].length) });
  }
  for (const f of fields) f.value = f.value.trim();
  return { fields, junk };
}

export function headerValue(fields: HeaderField[], name: string): string | undefined {
  return fields.find((f) => f.name === name)?.value;
}

export interface ParamValue {
  /** Lower-cased `type/subtype` (or disposition), '' when empty. */
  value: string;
  /** Parameters by lower-cased name; RFC 2231 continuations joined and decoded. */
  params: Record<string, string>;
}

/** Parse `text/plain; charset="utf-8"; format=flowed` (and RFC 2231 `name*0*=`). */
export function parseParamHeader(raw: string | undefined): ParamValue {
  if (!raw) return { value: '', params: {} };
  let i = 0;
  const s = raw;
  const readUntil = (stops: string) => {
    const start = i;
    while (i < s.length && !stops.includes(s[i]!)) i++;
    return s.slice(start, i);
  };
  const value = readUntil(';').trim().toLowerCase();
  const pieces: Record<
    string,
    { charset?: string; parts: Map<number, { text: string; encoded: boolean }> }
  > = {};
  const params: Record<string, string> = {};
  while (i < s.length) {
    i++; // skip ';'
    while (i < s.length && /\s/.test(s[i]!)) i++;
    const name = readUntil('=;').trim().toLowerCase();
    if (s[i] !== '=') continue;
    i++;
    while (i < s.length && /\s/.test(s[i]!)) i++;
    let val: string;
    if (s[i] === '"') {
      i++;
      let out = '';
      for (;;) {
        let j = i;
        while (j < s.length && s[j] !== '"' && s[j] !== '\\') j++;
        out += s.slice(i, j);
        i = j;
        if (i >= s.length || s[i] === '"') break;
        // a backslash quotes the next character (a last backslash stands for itself)
        out += i + 1 < s.length ? s[i + 1] : s[i];
        i += i + 1 < s.length ? 2 : 1;
      }
      i++;
      readUntil(';');
      val = out;
    } else {
      val = readUntil(';').trim();
    }
    if (!name) continue;
    const ext = /^([^*]+)(?:\*(\d+))?(\*)?$/.exec(name);
    if (ext && (ext[2] !== undefined || ext[3] !== undefined)) {
      const base = ext[1]!;
      const index = ext[2] === undefined ? 0 : Number(ext[2]);
      const entry = (pieces[base] ??= { parts: new Map() });
      let text = val;
      const encoded = ext[3] !== undefined;
      if (encoded && index === 0) {
        const m = /^([^']*)'[^']*'(.*)$/.exec(val);
        if (m) {
          entry.charset = m[1] || 'utf-8';
          text = m[2]!;
        }
      }
      entry.parts.set(index, { text, encoded });
    } else {
      params[name] = val;
    }
  }
  for (const [name, entry] of Object.entries(pieces)) {
    const bytes: number[] = [];
    for (const idx of [...entry.parts.keys()].sort((a, b) => a - b)) {
      const { text, encoded } = entry.parts.get(idx)!;
      if (encoded) {
        for (let k = 0; k < text.length; k++) {
          const hex = /^%([0-9a-fA-F]{2})/.exec(text.slice(k, k + 3));
          if (hex) {
            bytes.push(parseInt(hex[1]!, 16));
            k += 2;
          } else bytes.push(text.charCodeAt(k) & 0xff);
        }
      } else {
        for (let k = 0; k < text.length; k++) bytes.push(text.charCodeAt(k) & 0xff);
      }
    }
    params[name] = decodeBytes(Buffer.from(bytes), entry.charset ?? 'utf-8').text;
  }
  return { value, params };
}

/** Charset names the WHATWG decoder gets wrong for mail: us-ascii means 7-bit, i.e. UTF-8 safe. */
const ASCII_LABELS = new Set(['', 'us-ascii', 'ascii', 'ansi_x3.4-1968', 'iso646-us', 'us', '646']);

export interface Decoded {
  text: string;
  /** Why the bytes could not be decoded as declared, or null. */
  problem: string | null;
}

/**
 * Decode bytes in the declared charset into a JS string (UTF-16). Unknown
 * charsets and invalid byte sequences fall back to UTF-8 with replacement
 * characters, and say so.
 */
export function decodeBytes(bytes: Buffer, charset: string): Decoded {
  const label = charset.trim().toLowerCase().replace(/^"|"$/g, '');
  const name = ASCII_LABELS.has(label) ? 'utf-8' : label;
  let decoder: InstanceType<typeof TextDecoder>;
  try {
    decoder = new TextDecoder(name, { fatal: true });
  } catch {
    return {
      text: new TextDecoder('utf-8').decode(bytes),
      problem: `unknown charset "${charset}"; decoded as UTF-8`,
    };
  }
  try {
    return { text: decoder.decode(bytes), problem: null };
  } catch {
    const shown = label === '' ? 'undeclared charset (assumed UTF-8)' : `charset "${charset}"`;
    return {
      text: new TextDecoder(name).decode(bytes),
      problem: `bytes invalid in ${shown}; undecodable bytes replaced with U+FFFD`,
    };
  }
}
