// The VFIO UAPI (include/uapi/linux/vfio*.h) is an ABI that QEMU, DPDK, SPDK
// and others were built against years ago. Alex Williamson's review of the
// 2016 MSI reserved-IOVA series lists what goes wrong: a new flag that makes
// map/unmap bi-modal so that unmapping the whole IOVA space no longer clears
// everything, a single-region limit written into the API, inputs accepted and
// then ignored. This rule reads the header before and after the patch and the
// kernel code that implements it (drivers/vfio and friends, in the patched
// tree), and speaks only about:
//  - new flags, capabilities and ioctls nothing in the kernel implements, or
//    that the kernel accepts in its mask of allowed flags but never tests, or
//    tests only after refusing every call that sets a flag;
//  - renumbered or removed macros and struct layouts that no longer start with
//    the old members (appending and reusing reserved space are fine);
//  - documentation the patch adds that says inputs are ignored, that only one
//    instance may exist, or that existing calls now fail or need the new flag;
//  - an unmap path that now refuses or skips entries on a condition the patch
//    introduces, not on a flag the caller sets.
// An additive, documented ioctl, capability or flag that the kernel
// implements stays quiet.
import { parseUnifiedDiff } from '../../bot/mail/diffparse.js';
import { patchIndex } from '../../bot/types.js';
import type { Rule, RuleContext, RuleHit, TreeReader } from '../types.js';
import { addedLines, filePath, isC, removedLines } from '../lib/diff.js';
import { findGuards } from '../../bot/kernel/c/guards.js';
import { topLevelScopes } from '../../bot/kernel/c/source.js';
import {
  evaluate,
  ioctlKey,
  layoutBreak,
  parseHeader,
  type Define,
  type Header,
} from './header.js';
import { implementationSources, occurrences, rejectedBefore } from './usage.js';

const UAPI = /^include\/uapi\/linux\/vfio[^/]*\.h$/;

const IGNORED = /\b(?:is|are|will be|get|gets) (?:silently )?ignored\b/i;
const NOT_ABOUT_PADDING =
  /\breserved (?:fields?|members?|bits?|space|bytes?)\b|\bpadding\b|\bpad\b|must be (?:zero|0)|\bunused\b/i;
const SINGLE =
  /\b(?:a single|only one|at most one|one and only one|just one)\s+(?:[\w-]+\s+){0,4}?(?:(?:can|may|could|is allowed to)\s+be\s+(?:registered|created|allocated|mapped|reserved|added|attached|opened|set up|installed)|(?:is|are)\s+(?:allowed|supported|permitted))\b/i;
const CHANGES_EXISTING =
  /\bno longer\b|\bnow (?:fails?|returns?|requires?)\b|\bwill fail unless\b|\bmust (?:now )?be (?:un)?(?:mapped|registered|unregistered|removed|released|cleared) (?:with|using)\b|\bmust (?:also )?(?:set|pass|use) (?:the )?[\w-]+ flag\b/i;

type InterfaceKind = 'flag' | 'capability' | 'ioctl';

function interfaceKind(d: Define): InterfaceKind | null {
  if (/\b_IO[RW]*\s*\(/.test(d.value)) return 'ioctl';
  if (/_CAP_/.test(d.name)) return 'capability';
  if (/_FLAGS?_/.test(d.name)) return 'flag';
  const n = evaluate(d.value);
  if (d.struct && n !== null && n > 0n && (n & (n - 1n)) === 0n && /<<|_BITUL|0x/.test(d.value))
    return 'flag';
  return null;
}

/** Comment text the patch adds to a header, as sentences with the line each starts on. */
function addedCommentSentences(ctx: RuleContext, file: string): { text: string; line: number }[] {
  const lines = addedLines(ctx.diff, (p) => p === file);
  // Paragraphs of consecutive added comment lines, remembering where each line starts.
  const paragraphs: { text: string; starts: { at: number; line: number }[] }[] = [];
  let last = -2;
  for (const l of lines) {
    const m =
      /^\s*(?:\/\*+|\*(?!\/)|\/\/)\s?(.*?)(?:\*\/)?\s*$/.exec(l.text) ??
      /\/\*\s*(.*?)\s*\*\/\s*$/.exec(l.text);
    if (!m) {
      last = -2;
      continue;
    }
    const text = m[1]!.trim();
    const cur = paragraphs[paragraphs.length - 1];
    if (l.line === last + 1 && cur) {
      cur.starts.push({ at: cur.text.length + 1, line: l.line });
      cur.text += ` ${text}`;
    } else paragraphs.push({ text, starts: [{ at: 0, line: l.line }] });
    last = l.line;
  }
  const out: { text: string; line: number }[] = [];
  for (const p of paragraphs) {
    for (const m of p.text.matchAll(/(?:[^.!?]|[.!?](?=\S))+(?:[.!?]+|$)/g)) {
      const text = m[0].trim();
      if (!text) continue;
      const at = m.index! + (m[0].length - m[0].trimStart().length);
      const line = [...p.starts].reverse().find((s) => s.at <= at)!.line;
      out.push({ text, line });
    }
  }
  return out;
}

/** Lines that later patches of the series add to kernel code (not UAPI headers), mentioning `name`. */
function laterUse(ctx: RuleContext, name: string): string | null {
  const re = new RegExp(`\\b${name}\\b`);
  for (const [pos, p] of ctx.series.patches.entries()) {
    const index = patchIndex(p, pos);
    if (index <= ctx.index || !p.diff) continue;
    for (const l of addedLines(
      parseUnifiedDiff(p.diff),
      (f) => isC(f) && !UAPI.test(f) && !f.startsWith('tools/'),
    ))
      if (re.test(l.text)) return `patch ${index}, ${l.file}:${l.line}`;
  }
  return null;
}

/** The macros of the other VFIO UAPI headers in a tree state. */
async function otherHeaderDefines(tree: TreeReader, except: string): Promise<Map<string, Define>> {
  const out = new Map<string, Define>();
  for (const f of await tree.list('include/uapi/linux')) {
    if (f === except || !UAPI.test(f)) continue;
    const text = await tree.read(f);
    if (text) for (const [k, v] of parseHeader(text).defines) out.set(k, v);
  }
  return out;
}

/**
 * A flag bit the kernel reads through a mask macro rather than by name (the
 * ioeventfd size bits are read as `flags & VFIO_DEVICE_IOEVENTFD_SIZE_MASK`).
 */
function implementedThroughMask(
  d: Define,
  header: Header,
  srcs: { file: string; text: string }[],
): boolean {
  const bit = evaluate(d.value, header.defines);
  if (bit === null || bit === 0n) return false;
  const family = d.name.replace(/_[^_]+$/, '_');
  for (const m of header.defines.values()) {
    if (!/MASK/.test(m.name) || m.name === d.name) continue;
    if (!(m.struct !== null && m.struct === d.struct) && !m.name.startsWith(family)) continue;
    const mask = evaluate(m.value, header.defines);
    if (mask === null || (mask & bit) !== bit) continue;
    if (occurrences(m.name, srcs).some((o) => o.use !== 'accepted')) return true;
  }
  return false;
}

async function headerHits(
  ctx: RuleContext,
  file: string,
  sources: () => Promise<{ file: string; text: string }[]>,
): Promise<RuleHit[]> {
  const hits: RuleHit[] = [];
  const beforeText = (await ctx.before.read(file)) ?? '';
  const afterText = ctx.after ? await ctx.after.read(file) : null;
  const added = new Set(addedLines(ctx.diff, (p) => p === file).map((l) => l.line));
  const removedText = removedLines(ctx.diff, (p) => p === file)
    .map((l) => l.text)
    .join('\n');

  if (afterText !== null) {
    const b: Header = parseHeader(beforeText);
    const a: Header = parseHeader(afterText);

    // Existing macros renumbered or removed (moving one to another VFIO UAPI header is neither).
    const elsewhere = await otherHeaderDefines(ctx.after!, file);
    for (const d of b.defines.values()) {
      const now = a.defines.get(d.name) ?? elsewhere.get(d.name);
      if (!now) {
        if (!new RegExp(`#\\s*define\\s+${d.name}\\b`).test(removedText)) continue;
        hits.push({
          title: `UAPI macro ${d.name} removed`,
          detail:
            `The patch removes ${d.name} from ${file}. Userspace built against it no longer ` +
            'compiles, and binaries that pass it keep doing so: an ABI value can be deprecated, never taken away.',
          file,
          evidence: { macro: d.name, value: d.value },
        });
        continue;
      }
      const was = evaluate(d.value, b.defines);
      const is = evaluate(now.value, a.defines);
      const ioWas = ioctlKey(d.value);
      const ioIs = ioctlKey(now.value);
      const changed =
        (was !== null && is !== null && was !== is) ||
        (ioWas !== null && ioIs !== null && ioWas !== ioIs);
      if (!changed) continue;
      hits.push({
        title: `UAPI macro ${d.name} changes value`,
        detail:
          `${d.name} changes from "${d.value}" to "${now.value}". Existing binaries still send the ` +
          'old value, which the kernel would now read differently: existing calls change meaning.',
        file,
        line: now.line,
        evidence: { macro: d.name, before: d.value, after: now.value },
      });
    }

    // Existing struct layouts.
    for (const s of b.structs.values()) {
      const now = a.structs.get(s.name);
      if (!now) continue;
      const broken = layoutBreak(s, now);
      if (!broken) continue;
      hits.push({
        title: `Layout of UAPI struct ${s.name} changes`,
        detail:
          `In struct ${s.name}, ${broken}. Binaries built against the old layout pass the old ` +
          'offsets; VFIO structs grow only at the end (argsz tells the kernel how much the caller knows).',
        file,
        line: now.line,
        evidence: { struct: s.name, before: s.members, after: now.members },
      });
    }

    // New interface macros and what the kernel does with them.
    const fresh = [...a.defines.values()].filter(
      (d) => !b.defines.has(d.name) && added.has(d.line),
    );
    for (const d of fresh) {
      const kind = interfaceKind(d);
      if (!kind) continue;
      if (laterUse(ctx, d.name)) continue;
      const srcs = await sources();
      const occ = occurrences(d.name, srcs);
      const evidence = {
        macro: d.name,
        kind,
        uses: occ
          .slice(0, 6)
          .map((o) => `${o.file}:${o.line} (${o.use}): ${o.statement.slice(0, 120)}`),
      };
      if (occ.length === 0 && kind === 'flag' && implementedThroughMask(d, a, srcs)) continue;
      if (occ.length === 0) {
        hits.push({
          title: `New UAPI ${kind} ${d.name} is not implemented`,
          detail:
            `${d.name} is added to ${file}, but nothing in the kernel's VFIO code ` +
            `${kind === 'flag' ? 'tests or sets it' : kind === 'ioctl' ? 'handles it' : 'reports it'}. ` +
            'Userspace that relies on it gets either a refusal or a silent no-op; an ABI should arrive with its implementation.',
          file,
          line: d.line,
          evidence,
        });
        continue;
      }
      if (occ.every((o) => o.use === 'accepted')) {
        hits.push({
          title: `New UAPI flag ${d.name} is accepted but ignored`,
          detail:
            `The kernel adds ${d.name} to the flags it accepts (${occ[0]!.file}:${occ[0]!.line}) but never ` +
            'tests it, so a caller setting it gets success and the old behaviour. Unsupported flags must fail; ' +
            'supported ones must change something.',
          file,
          line: d.line,
          evidence,
        });
        continue;
      }
      if (occ.some((o) => o.use === 'used')) continue;
      const tests = occ.filter((o) => o.use === 'tested');
      const dead = tests.map((o) => ({ o, by: rejectedBefore(o, srcs) }));
      if (tests.length > 0 && dead.every((x) => x.by !== null)) {
        const first = dead[0]!;
        hits.push({
          title: `New UAPI flag ${d.name} can never be used`,
          detail:
            `${d.name} is tested at ${first.o.file}:${first.o.line}, but earlier in the same function ` +
            `"if (${first.by!.cond})" refuses any call with ${first.o.tested} set, so the flag always fails.`,
          file: first.o.file,
          line: first.o.line,
          evidence: { ...evidence, refusedBy: `${first.o.file}:${first.by!.line}` },
        });
      }
    }
  }

  // What the added documentation promises.
  for (const s of addedCommentSentences(ctx, file)) {
    if (IGNORED.test(s.text) && !NOT_ABOUT_PADDING.test(s.text))
      hits.push({
        title: 'UAPI documents inputs that are accepted and ignored',
        detail:
          `The new documentation says "${s.text}". An input the kernel accepts and ignores cannot be given ` +
          'a meaning later without breaking callers that set it; pass it on and let the implementation refuse it, or require it to be zero.',
        file,
        line: s.line,
        evidence: { sentence: s.text },
      });
    if (SINGLE.test(s.text))
      hits.push({
        title: 'Single-instance limit written into the UAPI',
        detail:
          `The new documentation says "${s.text}". A one-of limit in the ABI is like a fixed-length string ` +
          'buffer: fine for the first user, wrong for the next. Let extra instances fail, or report how many are available through a capability.',
        file,
        line: s.line,
        evidence: { sentence: s.text },
      });
    if (CHANGES_EXISTING.test(s.text))
      hits.push({
        title: 'Existing VFIO calls change meaning',
        detail:
          `The new documentation says "${s.text}". Calls that worked before (for example an unmap of the whole ` +
          'IOVA space clearing every mapping) must keep working unchanged for callers that do not use the new flag.',
        file,
        line: s.line,
        evidence: { sentence: s.text },
      });
  }
  return hits;
}

/**
 * In an unmap path that existed before, a new refusal or skip on a condition
 * the patch introduces (not a flag the caller sets): unmapping a range that
 * used to clear everything may now fail or leave entries behind.
 */
async function unmapHits(ctx: RuleContext, uapiBefore: string): Promise<RuleHit[]> {
  if (!ctx.after) return [];
  const hits: RuleHit[] = [];
  for (const f of ctx.diff) {
    const path = filePath(f);
    if (!/^drivers\/vfio\/.*\.c$/.test(path) || f.new || f.deleted) continue;
    const before = await ctx.before.read(f.from ?? path);
    const after = await ctx.after.read(path);
    if (!before || !after) continue;
    const added = new Set(addedLines([f]).map((l) => l.line));
    const existing = new Set(topLevelScopes(before).map((s) => s.name));
    const known = (id: string) =>
      new RegExp(`\\b${id}\\b`).test(before) || new RegExp(`\\b${id}\\b`).test(uapiBefore);
    for (const g of findGuards(after)) {
      if (!/unmap/.test(g.scope) || !existing.has(g.scope) || g.kind !== 'deny') continue;
      let touched = false;
      for (let l = g.line; l <= g.condEnd; l++) if (added.has(l)) touched = true;
      if (!touched || /flags|FLAG/.test(g.cond)) continue;
      const fresh = [...new Set(g.cond.match(/\b[A-Za-z_]\w*\b/g) ?? [])].filter(
        (id) => !known(id),
      );
      if (fresh.length === 0) continue;
      hits.push({
        title: 'Unmap may now fail or leave mappings behind',
        detail:
          `${g.scope}() now refuses or skips entries when "${g.cond}" (${fresh.join(', ')} ${fresh.length === 1 ? 'is' : 'are'} new), ` +
          'whatever flags the caller passes. A caller unmapping a range, up to the whole IOVA space, ' +
          'expects every mapping in it to go, as it did before this patch.',
        file: path,
        line: g.line,
        evidence: { function: g.scope, condition: g.cond, newIdentifiers: fresh },
      });
    }
  }
  return hits;
}

async function check(ctx: RuleContext): Promise<RuleHit[]> {
  const headers = ctx.diff.map(filePath).filter((p) => UAPI.test(p));
  if (headers.length === 0) return [];
  let cached: Promise<{ file: string; text: string }[]> | null = null;
  const tree: TreeReader = ctx.after ?? ctx.before;
  const sources = () => (cached ??= implementationSources(tree));
  const hits: RuleHit[] = [];
  for (const h of headers) hits.push(...(await headerHits(ctx, h, sources)));
  const uapiBefore = (await Promise.all(headers.map((h) => ctx.before.read(h)))).join('\n');
  hits.push(...(await unmapHits(ctx, uapiBefore)));
  return hits;
}

const rule: Rule = {
  id: 'vfio-uapi',
  title: 'VFIO UAPI change that breaks or muddles the ABI',
  severity: 'warning',
  rationale:
    'The VFIO UAPI is used by QEMU and other VMMs built years ago: existing calls must keep their ' +
    'meaning, new flags must do something or fail, and the ABI must not bake in one-instance limits.',
  references: [
    'Alex Williamson, Re: [PATCH v6 2/5] vfio: allow the user to register reserved iova range for MSI mapping, kvm, 2016-04-07',
    'include/uapi/linux/vfio.h: argsz/flags extension conventions',
    'Documentation/driver-api/vfio.rst',
  ],
  check,
};

export default rule;
