// A patch that does not apply is often already upstream: applied as it was
// (then the reverse applies, which apply.ts checks first), or moved, merged
// into another file, or reworked on the way. Before it is called a conflict:
//   - with a tree that has history: a commit on the base or a configured branch
//     with the same patch-id (`git patch-id --stable`), or with the same subject,
//     that no later commit reverted ("already upstream as <commit>");
//   - always: its added lines are looked for in the tree, in the file it
//     changes, then in that file's directory (where a moved or merged file's
//     content goes), weighted by how rare each line is there, clustered near
//     the code the hunk is about (the enclosing function has the name the hunk
//     names, or the name of the function the hunk adds: lines found in another
//     function are a copy), with the lines it removes gone from there. All of a hunk's lines
//     found, for every hunk: "likely already upstream"; two or more rare lines
//     of a hunk: "partly present (reworked)".
// Quiet by default: a line as common as `return -EINVAL;` counts for little, a
// hunk is placed only near code of its own name (or in its own file), and a
// patch that is really not upstream stays a conflict.
import type { UpstreamMatch } from '../types.js';
import type { DiffHunk } from '../util/diff/hunks.js';
import type { DiffSection } from '../util/diff/sections.js';
import type { GitRepo } from './git.js';

export interface UpstreamContext {
  /** The kernel tree (read only). */
  repo: GitRepo;
  /** The commit the series is applied to. */
  base: string;
  /** Other refs whose history counts as upstream (the configured branches that exist). */
  refs: string[];
  /** A file's content in the state the patch was applied to (null: not there). */
  read: (path: string) => Promise<string | null>;
  /** Paths earlier patches of the series changed (their content is not the base commit's). */
  changed: ReadonlySet<string>;
}

export interface UpstreamPatch {
  /** The diff as git got it. */
  text: string;
  sections: DiffSection[];
  /** The commit title (the subject without its tags), when known. */
  subject: string | null;
}

export const UPSTREAM_LIMITS = {
  /** Commits touching the patch's paths whose patch-ids are compared. */
  patchIdCommits: 1000,
  /** Hunks looked for (a patch with more is not looked for at all). */
  hunks: 64,
  /** A line found more often than this in the searched files does not place a hunk. */
  commonHits: 12,
};

const squash = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** A line that can say where code is: not blank, a brace, a lone comment marker or a common keyword line. */
function significant(line: string): boolean {
  const t = squash(line);
  if (t.length < 10) return false;
  if (!/[A-Za-z_]\w{2}/.test(t)) return false;
  if (/^(?:\/\*+|\*+\/|\*)$/.test(t)) return false;
  if (/^#\s*(?:else|endif)\b/.test(t)) return false;
  return true;
}

const dirOf = (p: string): string => {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
};

const short = (oid: string): string => oid.slice(0, 12);

const KEYWORDS = /^(?:if|for|while|switch|return|sizeof)$/;

/**
 * The function a C line at column 0 defines (`static int foo(`, or `foo(` under
 * a return type on the line above, the kernel's style for long signatures), or
 * null. A macro invocation (`DECLARE_PCI_FIXUP_HEADER(...,` over several lines)
 * defines nothing.
 */
function definedName(line: string): string | null {
  if (/^#/.test(line)) return null;
  const m = /^(?:[A-Za-z_][\w \t*]*?[\s*])?([A-Za-z_]\w*)\s*\((?!.*;\s*$)/.exec(line);
  if (!m || KEYWORDS.test(m[1]!)) return null;
  if (/^[A-Z0-9_]+$/.test(m[1]!) && m.index === 0 && line.startsWith(m[1]!)) return null;
  return m[1]!;
}

/**
 * The functions a hunk is about: its header's context and the definitions in
 * its lines, up to its last changed line (a definition in the context after
 * the change is the next function, which the change is not in).
 */
function hunkFunctions(h: DiffHunk): string[] {
  const out = new Set<string>();
  const header = /^@@ [^@]*@@(.*)$/.exec(h.header)?.[1] ?? '';
  const name = (l: string) => /([A-Za-z_]\w*)\s*\(/.exec(l)?.[1];
  const fromHeader = name(header);
  if (fromHeader) out.add(fromHeader);
  let last = -1;
  h.lines.forEach((l, i) => {
    if (l[0] === '+' || l[0] === '-') last = i;
  });
  for (const [i, l] of h.lines.entries()) {
    if (i > last) break;
    if (l[0] === '+') continue;
    const fn = definedName(l.slice(1));
    if (fn) out.add(fn);
  }
  return [...out];
}

/** Whether two function names are the same code: one's words are all in the other's. */
function sameFunction(a: string, b: string): boolean {
  const words = (s: string) => s.split('_').filter(Boolean);
  const [x, y] = [new Set(words(a)), new Set(words(b))];
  const sub = (p: Set<string>, q: Set<string>) => p.size > 0 && [...p].every((w) => q.has(w));
  return sub(x, y) || sub(y, x);
}

/** The function a 0-based line of a C file is in (its definition's line), or null. */
function enclosingFunction(lines: string[], at: number): { name: string; line: number } | null {
  for (let i = at; i >= 0 && i > at - 600; i--) {
    const l = lines[i]!;
    if (i < at && /^\}/.test(l)) return null;
    const name = definedName(l);
    if (name) return { name, line: i + 1 };
  }
  return null;
}

interface Hit {
  file: string;
  /** 1-based. */
  line: number;
}

/** Where in a hunk's lines, by text, each significant added line was found. */
interface HunkSearch {
  hunk: DiffHunk;
  file: string;
  added: string[];
  removed: string[];
  functions: string[];
  /** Functions the hunk's added lines define: found elsewhere, their body is a copy unless of that name. */
  defines: string[];
}

interface Placed {
  file: string;
  lines: number[];
  found: number;
  of: number;
  rare: number;
  complete: boolean;
  fn: string | null;
}

export async function findUpstream(
  ctx: UpstreamContext,
  patch: UpstreamPatch,
): Promise<UpstreamMatch | null> {
  const found = (await byHistory(ctx, patch)) ?? (await byContent(ctx, patch));
  if (!found || found.how === 'patch-id' || found.how === 'subject') return found;
  // A file the patch changes that the tree no longer has: the commit that removed it, if history says.
  for (const s of patch.sections) {
    const path = s.oldPath;
    if (!path || s.isNew || (await ctx.read(path)) !== null) continue;
    const r = await ctx.repo.run([
      '--literal-pathspecs',
      'log',
      '--diff-filter=D',
      '--format=%H%x09%s',
      '-1',
      ctx.base,
      '--',
      path,
    ]);
    const [commit, subject] = r.stdout.toString().trim().split('\t');
    if (commit && subject) {
      found.text += ` (${path} was removed by ${short(commit)} ("${subject}"))`;
      break;
    }
  }
  return found;
}

/** With history: a commit with the patch's patch-id, else its subject, not reverted since. */
async function byHistory(
  ctx: UpstreamContext,
  patch: UpstreamPatch,
): Promise<UpstreamMatch | null> {
  const { repo } = ctx;
  const commits = await repo.run(['rev-list', '--max-count=2', ctx.base]);
  if (commits.code !== 0 || commits.stdout.toString().trim().split('\n').length < 2) return null;
  const refs = [...new Set([ctx.base, ...ctx.refs])];
  const paths = [
    ...new Set(
      patch.sections.flatMap((s) => [s.oldPath, s.newPath]).filter((p): p is string => !!p),
    ),
  ].slice(0, 50);
  if (!paths.length) return null;
  const pathspec = ['--', ...paths];
  const subjectOf = async (commit: string) =>
    (await repo.run(['log', '-1', '--format=%s', commit])).stdout.toString().trim();
  /** A commit on the refs that reverts `subject`, if any. */
  const revertOf = async (subject: string): Promise<string | null> => {
    const r = await repo.run([
      'log',
      '--format=%H%x09%s',
      '-F',
      `--grep=Revert "${subject}"`,
      '--max-count=5',
      ...refs,
    ]);
    for (const l of r.stdout.toString().split('\n')) {
      const [h, s] = l.split('\t');
      if (h && s === `Revert "${subject}"`) return h;
    }
    return null;
  };

  const mine = await repo.run(['patch-id', '--stable'], { input: patch.text });
  const id = mine.stdout.toString().split(/\s/)[0];
  if (id && /^[0-9a-f]{40,64}$/.test(id)) {
    const log = await repo.run([
      '--literal-pathspecs',
      'log',
      '-p',
      '--no-color',
      '--no-ext-diff',
      '--no-textconv',
      '--no-renames',
      `--max-count=${UPSTREAM_LIMITS.patchIdCommits}`,
      ...refs,
      ...pathspec,
    ]);
    if (log.code === 0 && log.stdout.length) {
      const ids = await repo.run(['patch-id', '--stable'], { input: log.stdout });
      for (const l of ids.stdout.toString().split('\n')) {
        const [pid, commit] = l.split(' ');
        if (pid !== id || !commit) continue;
        const subject = await subjectOf(commit);
        const reverted = await revertOf(subject);
        if (reverted) return null; // applied once, reverted since: what is in the tree is not the change
        return {
          how: 'patch-id',
          commit: short(commit),
          text: `already upstream as ${short(commit)} ("${subject}"): same patch-id`,
        };
      }
    }
  }
  const subject = patch.subject?.trim();
  if (subject) {
    const dirs = [...new Set(paths.map(dirOf))].map((d) => d || '.');
    const r = await repo.run([
      '--literal-pathspecs',
      'log',
      '--format=%H%x09%s',
      '-F',
      `--grep=${subject}`,
      '--max-count=20',
      ...refs,
      '--',
      ...dirs,
    ]);
    for (const l of r.stdout.toString().split('\n')) {
      const [commit, s] = l.split('\t');
      if (!commit || s?.trim() !== subject) continue;
      if (await revertOf(subject)) return null;
      return {
        how: 'subject',
        commit: short(commit),
        text: `already upstream as ${short(commit)} ("${subject}"): same subject, the diff differs from the patch's`,
      };
    }
  }
  return null;
}

/** Line ranges as a list: 1766-1767,1776. */
function ranges(lines: number[]): string {
  const s = [...new Set(lines)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < s.length; i++) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    out.push(j > i ? `${s[i]}-${s[j]}` : `${s[i]}`);
    i = j;
  }
  return out.join(',');
}

/** Always: the added lines in the target file or its directory, the removed ones gone. */
async function byContent(
  ctx: UpstreamContext,
  patch: UpstreamPatch,
): Promise<UpstreamMatch | null> {
  // Lines the patch both removes and adds (code it moves or re-indents) are in the
  // tree whether or not the patch is: they say nothing.
  const all = patch.sections.flatMap((s) => s.hunks.flatMap((h) => h.lines));
  const addedAnywhere = new Set(all.filter((l) => l[0] === '+').map((l) => squash(l.slice(1))));
  const moved = new Set(
    all
      .filter((l) => l[0] === '-')
      .map((l) => squash(l.slice(1)))
      .filter((l) => addedAnywhere.has(l)),
  );
  const hunks: HunkSearch[] = [];
  for (const s of patch.sections) {
    const file = s.oldPath ?? s.newPath;
    if (!file || s.isNew) continue;
    for (const h of s.hunks) {
      const plus = h.lines.filter((l) => l[0] === '+').map((l) => l.slice(1));
      const minus = h.lines.filter((l) => l[0] === '-').map((l) => l.slice(1));
      hunks.push({
        hunk: h,
        file,
        added: [...new Set(plus.filter(significant).map(squash))].filter((l) => !moved.has(l)),
        removed: [...new Set(minus.filter(significant).map(squash))].filter((l) => !moved.has(l)),
        functions: hunkFunctions(h),
        defines: plus.flatMap((l) => {
          const fn = definedName(l);
          return fn ? [fn] : [];
        }),
      });
    }
  }
  if (!hunks.length || hunks.length > UPSTREAM_LIMITS.hunks) return null;
  if (!hunks.some((h) => h.added.length)) return null;

  // Where each wanted line is: the target files, then their directories (base commit,
  // and the files earlier patches changed as they are now).
  const wanted = new Set(hunks.flatMap((h) => h.added));
  const texts = new Map<string, string[] | null>();
  const linesOf = async (path: string): Promise<string[] | null> => {
    if (!texts.has(path)) {
      const t = await ctx.read(path);
      texts.set(path, t === null ? null : t.split('\n'));
    }
    return texts.get(path)!;
  };
  const hits = new Map<string, Hit[]>();
  const addHit = (text: string, hit: Hit) => {
    const list = hits.get(text) ?? [];
    if (!list.some((h) => h.file === hit.file && h.line === hit.line)) list.push(hit);
    hits.set(text, list);
  };
  const searchText = (file: string, lines: string[]) => {
    lines.forEach((l, i) => {
      const t = squash(l);
      if (wanted.has(t)) addHit(t, { file, line: i + 1 });
    });
  };
  const targets = [...new Set(hunks.map((h) => h.file))];
  for (const f of targets) {
    const lines = await linesOf(f);
    if (lines) searchText(f, lines);
  }
  const dirs = [...new Set(targets.map(dirOf))].filter((d) => d !== '');
  if (dirs.length) {
    const patterns = [...wanted].join('\n');
    const r = await ctx.repo.run(
      [
        '--literal-pathspecs',
        'grep',
        '-n',
        '-F',
        '--null',
        '-I',
        '-f',
        '-',
        ctx.base,
        '--',
        ...dirs,
      ],
      { input: `${patterns}\n` },
    );
    const prefix = `${ctx.base}:`;
    for (const rec of r.stdout.toString('utf8').split('\n')) {
      const [where, n, text] = rec.split('\0');
      if (!where || !n || text === undefined || !where.startsWith(prefix)) continue;
      const file = where.slice(prefix.length);
      if (targets.includes(file) || ctx.changed.has(file)) continue; // searched as they are now
      const t = squash(text);
      if (wanted.has(t)) addHit(t, { file, line: Number(n) });
    }
    for (const f of ctx.changed)
      if (!targets.includes(f) && dirs.some((d) => f.startsWith(`${d}/`))) {
        const lines = await linesOf(f);
        if (lines) searchText(f, lines);
      }
  }

  const placed: (Placed | null)[] = [];
  for (const h of hunks) placed.push(await place(h, hits, linesOf));
  const additive = hunks
    .map((h, i) => ({ h, p: placed[i] ?? null }))
    .filter((x) => x.h.added.length);
  const located = additive.map((x) => x.p).filter((p): p is Placed => p !== null);
  if (!located.length) return null;
  const whereData = [...new Set(located.map((p) => p.file))].map((f) => {
    const ps = located.filter((p) => p.file === f);
    return {
      file: f,
      lines: [...new Set(ps.flatMap((p) => p.lines))].sort((a, b) => a - b),
      found: ps.reduce((n, p) => n + p.found, 0),
      of: ps.reduce((n, p) => n + p.of, 0),
    };
  });
  const where = whereData.map((w) => `${w.file}:${ranges(w.lines)}`).join(', ');
  const fns = [...new Set(located.map((p) => p.fn).filter((f): f is string => !!f))];
  const fnText = fns.map((f) => `${f}()`).join(', ');
  // A file the patch changes that is not in the tree: say where its code is now.
  const gone = targets.find((f) => texts.get(f) === null);
  const elsewhere = whereData.find((w) => w.file !== gone);
  const moves =
    gone && elsewhere
      ? `${gone} is not in the tree; ${fnText || 'its code'} ${fns.length > 1 ? 'are' : 'is'} in ${elsewhere.file}`
      : null;
  if (additive.every((x) => x.p?.complete)) {
    const removed = hunks.some((h) => h.removed.length) ? ', the lines it removes gone' : '';
    const text = moves
      ? `likely already upstream: ${moves}, where the change already sits at ${whereData.map((w) => ranges(w.lines)).join(', ')}`
      : `likely already upstream: added lines found at ${where}${fnText ? ` (${fnText})` : ''}${removed}`;
    return { how: 'content', where: whereData, text };
  }
  // Partly: a hunk placed by two or more rare lines (the rest reworked, or not there).
  if (located.some((p) => p.rare >= 2)) {
    const found = located.reduce((n, p) => n + p.found, 0);
    const of = additive.reduce((n, x) => n + x.h.added.length, 0);
    return {
      how: 'partial',
      where: whereData,
      text:
        `partly present (reworked): ${found}/${of} added lines at ${where}${fnText ? ` (${fnText})` : ''}` +
        (moves ? `; ${moves}` : ''),
    };
  }
  return null;
}

/**
 * The best place for one hunk: the window of a file holding most of its added
 * lines by weight (1/number of places a line is found), near code of the
 * hunk's name; null when no such place is worth naming.
 */
async function place(
  h: HunkSearch,
  hits: Map<string, Hit[]>,
  linesOf: (path: string) => Promise<string[] | null>,
): Promise<Placed | null> {
  if (!h.added.length) return null;
  const size = h.hunk.lines.filter((l) => l[0] !== '-').length;
  const span = Math.max(12, 2 * size);
  // Seeds: the added lines rare enough to say where the hunk is, by file.
  const seeds = new Map<string, { line: number; k: number; w: number }[]>();
  h.added.forEach((text, k) => {
    const list = hits.get(text) ?? [];
    if (!list.length || list.length > UPSTREAM_LIMITS.commonHits) return;
    for (const hit of list) {
      const at = seeds.get(hit.file) ?? [];
      at.push({ line: hit.line, k, w: 1 / list.length });
      seeds.set(hit.file, at);
    }
  });
  let best: (Placed & { score: number }) | null = null;
  for (const [file, at] of seeds) {
    at.sort((a, b) => a.line - b.line);
    const lines = await linesOf(file);
    for (const start of at) {
      const window = at.filter((x) => x.line >= start.line && x.line < start.line + span);
      const seen = new Map<number, { line: number; w: number }>();
      for (const x of window) if (!seen.has(x.k)) seen.set(x.k, x);
      const first = start.line;
      const last = Math.max(...[...seen.values()].map((x) => x.line));
      const fn = lines ? enclosingFunction(lines, first - 1) : null;
      // Near code of the hunk's name, or in the hunk's own file when it names none.
      const near = h.defines.length
        ? fn !== null && h.defines.includes(fn.name)
        : h.functions.length
          ? fn !== null && h.functions.some((f) => sameFunction(f, fn.name))
          : file === h.file;
      if (!near) continue;
      // Common lines (return -EINVAL;) place nothing, but count as there when they are.
      h.added.forEach((text, k) => {
        if (seen.has(k)) return;
        const near = (hits.get(text) ?? []).find(
          (x) => x.file === file && x.line >= first - span && x.line <= last + span,
        );
        if (near) seen.set(k, { line: near.line, w: 0 });
      });
      // The lines the hunk removes must be gone from there.
      if (lines && h.removed.length) {
        const around = new Set(lines.slice(Math.max(0, first - 1 - span), last + span).map(squash));
        if (h.removed.some((r) => around.has(r))) continue;
      }
      const score = [...seen.values()].reduce((n, x) => n + x.w, 0);
      const rare = [...seen.values()].filter((x) => x.w >= 0.5).length;
      if (best && score <= best.score) continue;
      best = {
        file,
        lines: [...seen.values()].map((x) => x.line),
        found: seen.size,
        of: h.added.length,
        rare,
        complete: seen.size === h.added.length && rare >= 1,
        fn: fn?.name ?? null,
        score,
      };
    }
  }
  if (!best) return null;
  const { score: _score, ...out } = best;
  return out;
}
