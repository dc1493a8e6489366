// Reading a UAPI header the way its users depend on it: the macros (names and
// values) and the member layout of each struct. Comparing the two states of a
// header tells what a patch adds, renumbers, removes or moves.
import { blankCommentsAndLiterals, skipBraces } from '../../bot/kernel/c/lex.js';
import { Lines } from '../../bot/kernel/c/lines.js';
import { evalInteger } from '../../bot/kernel/c/expr.js';

export interface Define {
  name: string;
  value: string;
  /** 1-based line of the #define. */
  line: number;
  /** The struct whose body the #define sits in (vfio.h puts flag bits there), or null. */
  struct: string | null;
}

export interface StructLayout {
  name: string;
  line: number;
  /** Members in order, normalised ("__u32 argsz", "__u8 data[]"). */
  members: string[];
}

export interface Header {
  defines: Map<string, Define>;
  structs: Map<string, StructLayout>;
}

function normaliseMember(m: string): string {
  return m
    .replace(/__DECLARE_FLEX_ARRAY\s*\(\s*([^,]+?)\s*,\s*(\w+)\s*\)/, '$1 $2[]')
    .replace(/\[\s*0?\s*\]/g, '[]')
    .replace(/\b__aligned_(u|s|le|be)(\d+)\b/g, '__$1$2')
    .replace(/\s+/g, ' ')
    .replace(/\s*\*\s*/g, ' *')
    .replace(/\s*\[\s*/g, '[')
    .trim();
}

export function parseHeader(text: string): Header {
  const code = blankCommentsAndLiterals(text);
  const lines = code.split('\n');
  const defines = new Map<string, Define>();
  const structs = new Map<string, StructLayout>();

  // Struct bodies by line range, to place #defines inside them.
  const ranges: { name: string; from: number; to: number }[] = [];
  const flat = lines.map((l) => (/^\s*#/.test(l) ? '' : l)).join('\n');
  const flatLines = new Lines(flat);
  for (const m of flat.matchAll(/\bstruct\s+(\w+)\s*\{/g)) {
    const open = m.index! + m[0].length - 1;
    const close = skipBraces(flat, open) - 1;
    if (close < 0) continue;
    const from = flatLines.lineOf(open);
    const to = flatLines.lineOf(close);
    const body = flat.slice(open + 1, close);
    // Nested struct/union openers and closers are not members; their members are.
    const members = body
      .replace(/\b(struct|union)\s*\w*\s*\{/g, ';')
      .replace(/\}\s*\w*\s*(__attribute__\s*\(\([^)]*\)\))?/g, ';')
      .split(';')
      .map(normaliseMember)
      .filter((s) => s !== '' && s !== '__attribute__');
    // Nested definitions appear in the outer walk too; keep the outermost only once.
    if (!structs.has(m[1]!)) structs.set(m[1]!, { name: m[1]!, line: from, members });
    ranges.push({ name: m[1]!, from, to });
  }

  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*#\s*define\s+([A-Za-z_]\w*)(\([^)]*\))?\s*(.*)$/.exec(lines[i]!);
    if (!m || m[2]) continue;
    let value = m[3]!;
    let j = i;
    while (/\\\s*$/.test(value) && j + 1 < lines.length) {
      value = value.replace(/\\\s*$/, ' ') + lines[++j]!;
    }
    const line = i + 1;
    const inside = ranges.filter((r) => r.from < line && line < r.to);
    const struct = inside.sort((a, b) => a.to - a.from - (b.to - b.from))[0]?.name ?? null;
    defines.set(m[1]!, { name: m[1]!, value: value.replace(/\s+/g, ' ').trim(), line, struct });
  }
  return { defines, structs };
}

/**
 * The value of a macro: a constant expression (bot/kernel/c/expr.ts) whose
 * names are the header's other macros (a few levels deep), or the number of an
 * ioctl (`_IOWR(type, nr, size)` is `nr`: what renumbering changes); else null.
 */
export function evaluate(value: string, defines?: Map<string, Define>, depth = 0): bigint | null {
  const io = /^_IO[RW]*\((\w+),([^,)]+)(?:,.*)?\)$/.exec(value.replace(/\s+/g, ''));
  if (io) return evaluate(io[2]!, defines, depth + 1);
  return evalInteger(value, {
    ident: (name) => {
      const d = defines && depth < 4 ? defines.get(name) : undefined;
      return d ? evaluate(d.value, defines, depth + 1) : null;
    },
  });
}

/** An ioctl number's type and number, e.g. "VFIO_TYPE/VFIO_BASE+21", for comparing ioctls. */
export function ioctlKey(value: string): string | null {
  const m = /^_IO[RW]*\(\s*(\w+)\s*,\s*([^,)]+?)\s*(?:,.*)?\)$/.exec(value.trim());
  return m ? `${m[1]}/${m[2]!.replace(/\s+/g, '')}` : null;
}

const RESERVED = /^(__)?(reserved|resv|rsvd|pad|padding|unused|__pad)\w*$/;

const memberType = (m: string) => m.replace(/\s*\w+(\[[^\]]*\])?$/, '');
const memberName = (m: string) => /(\w+)(\[[^\]]*\])?$/.exec(m)?.[1] ?? '';

/**
 * How `after` breaks the layout of `before`, or null when it only appends
 * members or gives reserved members a use (same type, same place).
 */
export function layoutBreak(before: StructLayout, after: StructLayout): string | null {
  for (let i = 0; i < before.members.length; i++) {
    const b = before.members[i]!;
    const a = after.members[i];
    if (a === b) continue;
    if (RESERVED.test(memberName(b))) return null; // reserved space reused: too varied to judge
    if (a === undefined) return `member "${b}" is removed`;
    const moved = after.members.indexOf(b);
    if (moved > i) return `"${a}" is inserted before the existing member "${b}"`;
    if (memberName(a) === memberName(b)) return `member "${b}" becomes "${a}"`;
    if (memberType(a) === memberType(b) && !after.members.includes(b))
      return `member "${b}" is renamed to "${a}"`;
    return `member "${b}" is replaced by "${a}"`;
  }
  return null;
}
