// `GIT binary patch` data: git's base85 lines and the sizes a binary hunk
// declares and produces (for the apply limits).
import { inflateSync } from 'node:zlib';

export interface BinaryHunk {
  method: 'literal' | 'delta';
  /** The inflated size the header declares (`literal N` / `delta N`). */
  declared: number;
  /** Size of the file the hunk produces, when it could be read (literal: declared; delta: from the delta header). */
  resultSize: number | null;
}

const B85 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~';
const B85_VALUE = new Map([...B85].map((c, i) => [c, i]));

/** Decode git's base85 binary-patch lines (length letter + groups of five); null when invalid. */
export function decodeBase85Lines(lines: string[]): Buffer | null {
  const out: number[] = [];
  for (const line of lines) {
    const l = line[0];
    if (l === undefined) return null;
    let count: number;
    if (l >= 'A' && l <= 'Z') count = l.charCodeAt(0) - 64;
    else if (l >= 'a' && l <= 'z') count = l.charCodeAt(0) - 96 + 26;
    else return null;
    const body = line.slice(1);
    if (body.length !== Math.ceil(count / 4) * 5) return null;
    const bytes: number[] = [];
    for (let g = 0; g < body.length; g += 5) {
      let acc = 0;
      for (let k = 0; k < 5; k++) {
        const v = B85_VALUE.get(body[g + k]!);
        if (v === undefined) return null;
        acc = acc * 85 + v;
      }
      if (acc > 0xffffffff) return null;
      bytes.push((acc >>> 24) & 255, (acc >>> 16) & 255, (acc >>> 8) & 255, acc & 255);
    }
    for (let k = 0; k < count; k++) out.push(bytes[k]!);
  }
  return Buffer.from(out);
}

/** The size a git delta produces (its second header varint), or null. */
function deltaResultSize(delta: Buffer): number | null {
  let i = 0;
  const varint = (): number | null => {
    let v = 0;
    let shift = 0;
    for (;;) {
      if (i >= delta.length || shift > 49) return null;
      const b = delta[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(b & 0x80)) return v;
    }
  };
  if (varint() === null) return null;
  return varint();
}

/**
 * Parse the hunks of a `GIT binary patch` starting at `lines[at]` (the
 * `literal N`/`delta N` line). Delta data is inflated (at most `maxInflate`
 * bytes, never more than declared) only to read the size it produces.
 */
export function parseBinaryHunks(
  lines: string[],
  at: number,
  maxInflate: number,
): { hunks: BinaryHunk[]; next: number; error: string | null } {
  const hunks: BinaryHunk[] = [];
  let i = at;
  while (hunks.length < 2) {
    const m = /^(literal|delta) (\d+)$/.exec(lines[i] ?? '');
    if (!m) break;
    const method = m[1] as 'literal' | 'delta';
    const declared = Number(m[2]);
    i++;
    const data: string[] = [];
    while (i < lines.length && lines[i] !== '') data.push(lines[i++]!);
    i++; // the blank line that ends the hunk
    let resultSize: number | null = method === 'literal' ? declared : null;
    if (method === 'delta' && declared <= maxInflate) {
      const raw = decodeBase85Lines(data);
      if (raw) {
        try {
          resultSize = deltaResultSize(
            inflateSync(raw, { maxOutputLength: Math.max(declared, 1) }),
          );
        } catch {
          resultSize = null;
        }
      }
    }
    hunks.push({ method, declared, resultSize });
  }
  if (hunks.length === 0)
    return { hunks, next: i, error: 'GIT binary patch without a literal or delta hunk' };
  return { hunks, next: i, error: null };
}
