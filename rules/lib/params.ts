// Finding the kernel and module parameters a patch adds: __setup/early_param/
// core_param and module_param* in C, `pci=` sub-options parsed in pci_setup()
// or an arch's pcibios_setup(), and new entries in kernel-parameters.txt. A
// parameter that the patch only edits or moves (present on a removed line or
// already in the file before) is not new.
import type { RuleContext } from '../types.js';
import { addedLines, codeOnly, isC, removedLines, type DiffLine } from './diff.js';

const DOC = 'Documentation/admin-guide/kernel-parameters.txt';

export interface NewParam {
  name: string;
  kind: 'boot' | 'pci-option' | 'module';
  at: DiffLine;
  documented?: DiffLine;
}

/** Files where `pci=` sub-options are parsed (pci_setup() and the arch pcibios_setup()s). */
const isPciOptionParser = (p: string): boolean =>
  p === 'drivers/pci/pci.c' ||
  /^arch\/[^/]+\/pci\/[^/]+\.c$/.test(p) ||
  /^arch\/[^/]+\/kernel\/pci[^/]*\.c$/.test(p);

function paramsInCode(line: DiffLine): NewParam[] {
  const out: NewParam[] = [];
  const raw = line.text;
  // Keep string contents for these: the parameter name is the string.
  const setup = /\b(__setup|early_param)\s*\(\s*"([^"]+)"/.exec(raw);
  if (setup) out.push({ name: setup[2]!.replace(/=$/, ''), kind: 'boot', at: line });
  const core = /\bcore_param\s*\(\s*(\w+)/.exec(raw);
  if (core) out.push({ name: core[1]!, kind: 'boot', at: line });
  const mod =
    /\bmodule_param(?:_named|_cb|_unsafe|_named_unsafe|_array|_string)?\s*\(\s*(\w+)/.exec(
      codeOnly(raw),
    );
  if (mod) out.push({ name: mod[1]!, kind: 'module', at: line });
  if (isPciOptionParser(line.file)) {
    const opt = /\bstrn?cmp\s*\(\s*str\s*,\s*"([a-z0-9_]+=?)"/.exec(raw);
    if (opt) out.push({ name: `pci=${opt[1]!.replace(/=$/, '')}`, kind: 'pci-option', at: line });
  }
  return out;
}

/** Entry names documented on a kernel-parameters.txt line: "\tfoo=" or "\t\tbar" (a pci= sub-option). */
function paramInDoc(text: string): string | null {
  const m = /^\t{1,2}([a-z][a-z0-9_.-]*)(?:=|\s+\[|\s*$)/.exec(text);
  return m ? m[1]! : null;
}

/** The parameters a patch adds (code or documentation), each once, with where. */
export async function findNewParameters(ctx: RuleContext): Promise<NewParam[]> {
  const added = addedLines(ctx.diff);
  const removedText = removedLines(ctx.diff)
    .map((l) => l.text)
    .join('\n');
  const found: NewParam[] = [];
  for (const line of added) {
    if (!isC(line.file)) continue;
    for (const p of paramsInCode(line)) {
      // A line that was only edited (the same parameter on a removed line) is not new.
      const bare = p.name.replace(/^pci=/, '');
      if (removedText.includes(`"${bare}`) || new RegExp(`\\b${bare}\\b`).test(removedText))
        continue;
      // A parameter moved from elsewhere in the same file is not new either.
      const before = await ctx.before.read(line.file);
      if (p.kind === 'pci-option' && before?.includes(`"${bare}`)) continue;
      if (
        p.kind === 'boot' &&
        before &&
        new RegExp(`(__setup|early_param)\\s*\\(\\s*"${bare}=?"`).test(before)
      )
        continue;
      found.push(p);
    }
  }
  // Documentation entries: attach to the code hit, or stand alone when only documented.
  const doc = await ctx.before.read(DOC);
  for (const line of added.filter((l) => l.file === DOC)) {
    const name = paramInDoc(line.text);
    if (!name) continue;
    const bare = name.replace(/=$/, '');
    const docRe = new RegExp(`^\\t{1,2}${bare.replace(/[.]/g, '\\.')}(=|\\s|$)`, 'm');
    if (docRe.test(removedText) || (doc && docRe.test(doc))) continue;
    const owner = found.find(
      (p) => p.name === bare || p.name === `pci=${bare}` || p.name.endsWith(`.${bare}`),
    );
    if (owner) owner.documented ??= line;
    else found.push({ name: bare, kind: 'boot', at: line, documented: line });
  }
  const seen = new Set<string>();
  return found.filter((p) => !seen.has(p.name) && seen.add(p.name));
}
