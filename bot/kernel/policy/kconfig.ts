// Just enough Kconfig for the policy reader: the `config` entries of a file
// with their type, defaults (`default`, `def_bool`, with `if` conditions),
// `depends on` and `select`s, and the `choice` blocks (for the page size).
// Conditions are evaluated against a small set of symbols known to be true for
// the architecture being read; anything else counts as unknown.

export interface KconfigDefault {
  value: string;
  cond: string | null;
}

export interface KconfigEntry {
  name: string;
  type: string | null;
  defaults: KconfigDefault[];
  dependsOn: string[];
  selects: string[];
  /** 1-based line of the `config` line. */
  line: number;
}

export interface KconfigChoice {
  defaults: KconfigDefault[];
  members: string[];
}

export interface Kconfig {
  path: string;
  entries: Map<string, KconfigEntry>;
  choices: KconfigChoice[];
}

const KEYWORDS = new Set([
  'config',
  'menuconfig',
  'choice',
  'endchoice',
  'help',
  '---help---',
  'menu',
  'endmenu',
  'if',
  'endif',
  'source',
  'comment',
  'mainmenu',
  'bool',
  'tristate',
  'int',
  'hex',
  'string',
  'def_bool',
  'def_tristate',
  'default',
  'depends',
  'select',
]);

export function parseKconfig(path: string, text: string): Kconfig {
  const entries = new Map<string, KconfigEntry>();
  const choices: KconfigChoice[] = [];
  let cur: KconfigEntry | null = null;
  let choice: KconfigChoice | null = null;
  let inHelp = false;
  let helpIndent = -1;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const indent = /^[\t ]*/.exec(raw)![0].replace(/\t/g, '        ').length;
    const line = raw.replace(/#.*$/, '').trim();
    if (inHelp) {
      if (raw.trim() === '') continue;
      if (helpIndent < 0) helpIndent = indent;
      if (indent >= helpIndent && indent > 0) continue;
      inHelp = false;
    }
    if (line === '') continue;
    // Only keyword lines matter; anything else (prompts' continuation, stray text) is skipped fast.
    const word = line.slice(0, line.search(/\s|$/));
    if (!KEYWORDS.has(word)) continue;
    let m: RegExpExecArray | null;
    if ((m = /^(?:menu)?config\s+([A-Za-z0-9_]+)$/.exec(line))) {
      cur = { name: m[1]!, type: null, defaults: [], dependsOn: [], selects: [], line: i + 1 };
      if (!entries.has(cur.name)) entries.set(cur.name, cur);
      if (choice) choice.members.push(cur.name);
      continue;
    }
    if (line === 'choice') {
      choice = { defaults: [], members: [] };
      choices.push(choice);
      cur = null;
      continue;
    }
    if (line === 'endchoice') {
      choice = null;
      cur = null;
      continue;
    }
    if (/^(help|---help---)$/.test(line)) {
      inHelp = true;
      helpIndent = -1;
      continue;
    }
    if (/^(menu|endmenu|if|endif|source|comment|mainmenu)\b/.test(line)) {
      if (!/^(if|endif)\b/.test(line)) cur = null;
      continue;
    }
    const target = cur ?? null;
    if ((m = /^(bool|tristate|int|hex|string)\b/.exec(line))) {
      if (target) target.type = m[1]!;
      continue;
    }
    if ((m = /^def_(bool|tristate)\s+(.+?)(?:\s+if\s+(.+))?$/.exec(line))) {
      if (target) {
        target.type = m[1]!;
        target.defaults.push({ value: m[2]!, cond: m[3] ?? null });
      }
      continue;
    }
    if ((m = /^default\s+(.+?)(?:\s+if\s+(.+))?$/.exec(line))) {
      const d = { value: m[1]!, cond: m[2] ?? null };
      if (target) target.defaults.push(d);
      else if (choice) choice.defaults.push(d);
      continue;
    }
    if ((m = /^depends\s+on\s+(.+)$/.exec(line))) {
      if (target) target.dependsOn.push(m[1]!);
      continue;
    }
    if ((m = /^select\s+([A-Za-z0-9_]+)/.exec(line))) {
      if (target) target.selects.push(m[1]!);
      continue;
    }
  }
  return { path, entries, choices };
}

/** Symbols taken as set when evaluating Kconfig conditions for an architecture. */
export const ARCH_SYMBOLS: Record<string, string[]> = {
  x86_64: ['X86', 'X86_64', '64BIT', 'PCI', 'PCI_IOV', 'ACPI'],
  arm64: ['ARM64', '64BIT', 'PCI', 'PCI_IOV', 'ACPI', 'OF'],
  ppc64: ['PPC', 'PPC64', 'PPC_BOOK3S_64', 'PPC_BOOK3S', '64BIT', 'PCI', 'PCI_IOV', 'OF'],
  s390x: ['S390', '64BIT', 'PCI', 'PCI_IOV'],
};

/** true/false, or null when the condition names symbols we cannot decide. */
export function evalCondition(cond: string, arch: string): boolean | null {
  const known = new Set(ARCH_SYMBOLS[arch] ?? []);
  const archSyms = new Set(Object.values(ARCH_SYMBOLS).flat());
  const tokens = cond.match(/!|&&|\|\||\(|\)|[A-Za-z0-9_]+|=|!=/g) ?? [];
  let pos = 0;
  const sym = (name: string): boolean | null => {
    if (name === 'y') return true;
    if (name === 'n') return false;
    if (known.has(name)) return true;
    // An architecture symbol of another architecture is unset here.
    if (archSyms.has(name)) return false;
    return null;
  };
  const and = (a: boolean | null, b: boolean | null) =>
    a === false || b === false ? false : a === null || b === null ? null : true;
  const or = (a: boolean | null, b: boolean | null) =>
    a === true || b === true ? true : a === null || b === null ? null : false;
  const primary = (): boolean | null => {
    const t = tokens[pos++];
    if (t === '!') {
      const v = primary();
      return v === null ? null : !v;
    }
    if (t === '(') {
      const v = expr();
      pos++; // ')'
      return v;
    }
    return t === undefined ? null : sym(t);
  };
  const conj = (): boolean | null => {
    let v = primary();
    while (tokens[pos] === '&&') {
      pos++;
      v = and(v, primary());
    }
    return v;
  };
  const expr = (): boolean | null => {
    let v = conj();
    while (tokens[pos] === '||') {
      pos++;
      v = or(v, conj());
    }
    return v;
  };
  return expr();
}

/**
 * The default of a bool symbol for an architecture: the first default whose
 * condition holds. Returns null when a condition cannot be decided, false when
 * there is no default (Kconfig's own default for bool is n).
 */
export function boolDefault(entry: KconfigEntry, arch: string): boolean | null {
  for (const d of entry.defaults) {
    const c = d.cond === null ? true : evalCondition(d.cond, arch);
    if (c === null) return null;
    if (!c) continue;
    if (d.value === 'y' || d.value === 'm') return true;
    if (d.value === 'n') return false;
    return evalCondition(d.value, arch);
  }
  return false;
}
