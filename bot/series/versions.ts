// Which postings are versions of one series, and why. Three kinds of link,
// strongest first:
//  1. a strong key shared (identity.ts versionKeys): the b4 change-id, or the
//     author with the series or first patch title;
//  2. a rename the newer posting's changelog names (identity.ts renamedFrom):
//     `rename ("OLD") to ("NEW")`, `new subject (was: "OLD")`, matched against
//     an earlier posting's series or first patch title, same author, lower version;
//  3. the same change (identity.ts changeSignatures): same author, exactly
//     consecutive versions, the older posted first, a patch at the same place
//     (M/N) touching the same files with the same added and removed lines.
// Links 2 and 3 are guarded, because a false link hides a live series: a
// posting never gets two candidate predecessors (or successors) of one
// version from different families, and two families are joined only when no
// version is in both. What was not linked, and why, is a note on the series.
import type { Series } from '../types.js';
import {
  authorOf,
  changeSignatures,
  normaliseTitle,
  renamedFrom,
  versionKeys,
  type ChangeSignature,
  type RenameClaim,
} from './identity.js';

/** A posting as version linking sees it. */
export interface VersionNode {
  series: Series;
  /** Time of its first and last message (ms), or null when no message had a date. */
  first: number | null;
  last: number | null;
  /** Notes for the series (what was not linked, and why). */
  notes: string[];
}

export interface VersionLink {
  /** The two postings (indexes into the list). */
  a: number;
  b: number;
  /** The evidence, e.g. `title changed: "OLD" -> "NEW" (the v3 cover letter's changelog)`. */
  text: string;
}

/** The families of postings (each a list of indexes) and the links that joined them. */
export interface VersionFamilies {
  families: number[][];
  links: VersionLink[];
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

class UnionFind {
  private parent: number[];
  constructor(n: number) {
    this.parent = Array.from({ length: n }, (_, i) => i);
  }
  find(i: number): number {
    while (this.parent[i] !== i) {
      this.parent[i] = this.parent[this.parent[i]!]!;
      i = this.parent[i]!;
    }
    return i;
  }
  union(a: number, b: number): number {
    const ra = this.find(a);
    const rb = this.find(b);
    const r = Math.min(ra, rb);
    if (ra !== rb) this.parent[Math.max(ra, rb)] = r;
    return r;
  }
}

const label = (s: Series) => `v${s.version} <${(s.cover ?? s.patches[0]!).messageId}>`;
const where = (s: Series, index: number) =>
  index === 0
    ? `the v${s.version} cover letter's changelog`
    : s.expected === null
      ? `the v${s.version} patch's changelog`
      : `the changelog of v${s.version} patch ${index}/${s.expected}`;

function strongText(key: string, s: Series): string {
  if (key.startsWith('change\0')) return `same change-id ${key.slice('change\0'.length)}`;
  const title = key.slice(key.lastIndexOf('\0') + 1);
  const shown =
    [s.title, s.patches[0]?.tags.title ?? ''].find((t) => normaliseTitle(t) === title) ?? title;
  return `same author and title ("${shown}")`;
}

function renameText(c: RenameClaim, newer: Series): string {
  const now =
    c.alias.now ??
    (c.index === 0
      ? newer.title
      : (newer.patches.find((p) => p.tags.index === c.index)?.tags.title ?? newer.title));
  return `title changed: "${c.alias.old}" -> "${now}", as ${where(newer, c.index)} says`;
}

const sameChangeText = (sig: ChangeSignature, newer: Series) =>
  `same author, and ${sig.total === null ? 'the patch' : `patch ${sig.index}/${sig.total}`} makes the same change to ${sig.files.join(', ')} in v${newer.version - 1} and v${newer.version}`;

interface Candidate {
  newer: number;
  older: number;
  strength: number;
  text: string;
}

/** Families of versions over `nodes`, with the links that made them. */
export function versionFamilies(nodes: VersionNode[]): VersionFamilies {
  const uf = new UnionFind(nodes.length);
  const links: VersionLink[] = [];

  // 1. Strong keys: a spanning set of links (one per join).
  const byKey = new Map<string, number>();
  const titleHolders = new Map<string, number[]>();
  nodes.forEach((n, i) => {
    for (const k of versionKeys(n.series)) {
      if (k.startsWith('title\0')) push(titleHolders, k, i);
      const j = byKey.get(k);
      if (j === undefined) byKey.set(k, i);
      else if (uf.find(i) !== uf.find(j)) {
        uf.union(i, j);
        // Named after the older posting's title, whatever the input order.
        const older = nodes[i]!.series.version < nodes[j]!.series.version ? i : j;
        links.push({ a: j, b: i, text: strongText(k, nodes[older]!.series) });
      }
    }
  });

  // 2. and 3. Candidates, checked below.
  const candidates: Candidate[] = [];
  nodes.forEach((n, i) => {
    for (const c of renamedFrom(n.series))
      for (const j of titleHolders.get(c.key) ?? []) {
        const old = nodes[j]!.series;
        if (j === i || old.version >= n.series.version) continue;
        if (c.alias.upTo !== null && old.version > c.alias.upTo) continue;
        candidates.push({ newer: i, older: j, strength: 2, text: renameText(c, n.series) });
      }
  });
  // Signatures only where an author has postings at consecutive versions.
  const at = new Set(nodes.map((n) => `${authorOf(n.series)}\0${n.series.version}`));
  const hasNeighbour = (n: VersionNode, d: number) =>
    n.series.author.address !== '' && at.has(`${authorOf(n.series)}\0${n.series.version + d}`);
  const sigKey = (n: VersionNode, s: ChangeSignature, v: number) =>
    `${authorOf(n.series)}\0${v}\0${s.index}/${s.total ?? ''}\0${s.hash}`;
  const bySig = new Map<string, number[]>();
  nodes.forEach((n, i) => {
    if (!hasNeighbour(n, 1)) return;
    for (const s of changeSignatures(n.series)) {
      push(bySig, sigKey(n, s, n.series.version), i);
    }
  });
  nodes.forEach((n, i) => {
    if (!hasNeighbour(n, -1)) return;
    const seen = new Set<number>();
    for (const s of changeSignatures(n.series))
      for (const j of bySig.get(sigKey(n, s, n.series.version - 1)) ?? []) {
        const old = nodes[j]!;
        if (seen.has(j)) continue;
        // The older version was posted first (when both carry dates).
        if (old.first !== null && n.first !== null && old.first > n.first) continue;
        seen.add(j);
        candidates.push({ newer: i, older: j, strength: 3, text: sameChangeText(s, n.series) });
      }
  });

  // Guards. A candidate inside one family already is moot. A newer family
  // with candidates of one older version in two families (or an older family
  // with candidates of one newer version in two families) is ambiguous: none
  // of those is taken.
  const live = candidates.filter((c) => uf.find(c.newer) !== uf.find(c.older));
  const spread = new Map<string, Set<number>>();
  const note = (k: string, r: number) => spread.set(k, (spread.get(k) ?? new Set()).add(r));
  for (const c of live) {
    note(`n\0${uf.find(c.newer)}\0${nodes[c.older]!.series.version}`, uf.find(c.older));
    note(`o\0${uf.find(c.older)}\0${nodes[c.newer]!.series.version}`, uf.find(c.newer));
  }
  // Decided before any join below moves the roots.
  const ambiguous = new Set(
    live.filter(
      (c) =>
        spread.get(`n\0${uf.find(c.newer)}\0${nodes[c.older]!.series.version}`)!.size > 1 ||
        spread.get(`o\0${uf.find(c.older)}\0${nodes[c.newer]!.series.version}`)!.size > 1,
    ),
  );
  const versions = new Map<number, Set<number>>();
  nodes.forEach((n, i) => {
    const r = uf.find(i);
    versions.set(r, (versions.get(r) ?? new Set()).add(n.series.version));
  });
  const noted = new Set<string>();
  const say = (i: number, text: string) => {
    if (noted.has(`${i}\0${text}`)) return;
    noted.add(`${i}\0${text}`);
    nodes[i]!.notes.push(text);
  };
  // Strongest first; then the nearest older version (v3's rename links it to
  // v2, not to the v1 that shared v2's title), then input order.
  const ordered = [...live].sort(
    (x, y) =>
      x.strength - y.strength ||
      x.newer - y.newer ||
      nodes[y.older]!.series.version - nodes[x.older]!.series.version ||
      x.older - y.older,
  );
  for (const c of ordered) {
    const older = nodes[c.older]!.series;
    if (ambiguous.has(c)) {
      say(
        c.newer,
        `not linked to ${label(older)} "${older.title}": more than one earlier or later posting could be the other version (${c.text})`,
      );
      continue;
    }
    const rn = uf.find(c.newer);
    const ro = uf.find(c.older);
    if (rn === ro) continue;
    const vn = versions.get(rn)!;
    const vo = versions.get(ro)!;
    const both = [...vn].filter((v) => vo.has(v));
    if (both.length) {
      say(
        c.newer,
        `not linked to ${label(older)} "${older.title}": both already have a v${both.join(', v')} (${c.text})`,
      );
      continue;
    }
    const r = uf.union(rn, ro);
    versions.set(r, new Set([...vn, ...vo]));
    links.push({ a: c.older, b: c.newer, text: c.text });
  }

  const families = new Map<number, number[]>();
  nodes.forEach((_, i) => push(families, uf.find(i), i));
  return { families: [...families.values()], links };
}

/** A reason lists at most this many links of a chain. */
const MAX_STEPS = 4;

/**
 * Why each other member of a family is an older version of its winner: the
 * links on the path from it to the winner, each with the versions it joins
 * (one breadth-first walk from each winner; links only join members of one
 * family, so the walks together are linear).
 */
export function versionReasons(
  nodes: readonly { series: Pick<Series, 'version'> }[],
  links: readonly VersionLink[],
  winners: readonly number[],
): Map<number, string> {
  const adj = new Map<number, { next: number; text: string }[]>();
  for (const l of links) {
    push(adj, l.a, { next: l.b, text: l.text });
    push(adj, l.b, { next: l.a, text: l.text });
  }
  const out = new Map<number, string>();
  for (const winner of winners) {
    // toward.get(x): the next posting on x's way to the winner, and the link's text.
    const toward = new Map<number, { at: number; text: string }>();
    const queue = [winner];
    for (let q = 0; q < queue.length; q++) {
      const x = queue[q]!;
      for (const e of adj.get(x) ?? []) {
        if (e.next === winner || toward.has(e.next)) continue;
        toward.set(e.next, { at: x, text: e.text });
        queue.push(e.next);
      }
    }
    // Reasons from the winner outward: each is its own link, then its successor's path
    // (the first few links of a long chain, and how many more).
    const path = new Map<number, { steps: string[]; count: number }>();
    for (const x of queue.slice(1)) {
      const t = toward.get(x)!;
      const own = `v${nodes[x]!.series.version} -> v${nodes[t.at]!.series.version}: ${t.text}`;
      const rest = path.get(t.at) ?? { steps: [], count: 0 };
      const p = { steps: [own, ...rest.steps].slice(0, MAX_STEPS), count: rest.count + 1 };
      path.set(x, p);
      const more = p.count - p.steps.length;
      out.set(
        x,
        p.count === 1
          ? t.text
          : p.steps.join('; ') +
              (more > 0 ? `; and ${more} more link${more === 1 ? '' : 's'}` : ''),
      );
    }
  }
  return out;
}
