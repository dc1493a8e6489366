// The files one policy reading looks at, read through the TreeReader (git
// objects, never a checkout) and parsed once per blob: the base and the
// patched tree share every unchanged file, so reading the patched state after
// the base only parses what the series changed.
import { createHash } from 'node:crypto';
import type { TreeReader } from '../../tree/reader.js';
import { CSource } from '../c/source.js';
import { parseKconfig, type Kconfig } from './kconfig.js';

/** A TreeReader that may also say blob ids and list directories (bot/tree/reader.ts does). */
export interface PolicyTree extends TreeReader {
  oid?(path: string): Promise<string | null>;
  dirs?(dir: string): Promise<string[]>;
}

const MAX_CACHED = 96;
const parsedC = new Map<string, CSource>();
const parsedK = new Map<string, Kconfig>();
const rawTexts = new Map<string, string>();

function remember<T>(map: Map<string, T>, key: string, value: T): T {
  map.set(key, value);
  while (map.size > MAX_CACHED) map.delete(map.keys().next().value!);
  return value;
}

/** Forget every parsed file (for cold measurements). */
export function clearPolicyCaches(): void {
  parsedC.clear();
  parsedK.clear();
  rawTexts.clear();
}

export class SourceSet {
  readonly tree: PolicyTree;
  /** Paths asked for, and whether they existed. */
  readonly looked = new Map<string, boolean>();
  private texts = new Map<string, Promise<{ key: string; text: string } | null>>();
  private cs = new Map<string, Promise<CSource | null>>();
  private ks = new Map<string, Promise<Kconfig | null>>();

  constructor(tree: PolicyTree) {
    this.tree = tree;
  }

  private load(path: string): Promise<{ key: string; text: string } | null> {
    let p = this.texts.get(path);
    if (!p) {
      p = (async () => {
        const oid = this.tree.oid ? await this.tree.oid(path) : undefined;
        if (oid === null) {
          this.looked.set(path, false);
          return null;
        }
        const key = oid ? `${path}\0${oid}` : null;
        if (key && (parsedC.has(key) || parsedK.has(key) || rawTexts.has(key))) {
          this.looked.set(path, true);
          return { key, text: '' };
        }
        const text = await this.tree.read(path);
        this.looked.set(path, text !== null);
        if (text === null) return null;
        return {
          key: key ?? `${path}\0${createHash('sha1').update(text).digest('hex')}`,
          text,
        };
      })();
      this.texts.set(path, p);
    }
    return p;
  }

  /** The raw text of a file, without parsing it, or null. */
  async raw(path: string): Promise<string | null> {
    const l = await this.load(path);
    if (!l) return null;
    if (l.text) return remember(rawTexts, l.key, l.text);
    const hit = parsedC.get(l.key)?.text ?? rawTexts.get(l.key);
    if (hit !== undefined) return hit;
    const text = await this.tree.read(path);
    return text === null ? null : remember(rawTexts, l.key, text);
  }

  /** A C file, parsed (cached per blob), or null when it does not exist. */
  c(path: string): Promise<CSource | null> {
    let p = this.cs.get(path);
    if (!p) {
      p = this.load(path).then(async (l) => {
        if (!l) return null;
        const hit = parsedC.get(l.key);
        if (hit) return hit;
        const text = l.text || ((await this.tree.read(path)) ?? '');
        return remember(parsedC, l.key, new CSource(path, text));
      });
      this.cs.set(path, p);
    }
    return p;
  }

  kconfig(path: string): Promise<Kconfig | null> {
    let p = this.ks.get(path);
    if (!p) {
      p = this.load(path).then(async (l) => {
        if (!l) return null;
        const hit = parsedK.get(l.key);
        if (hit) return hit;
        const text = l.text || ((await this.tree.read(path)) ?? '');
        return remember(parsedK, l.key, parseKconfig(path, text));
      });
      this.ks.set(path, p);
    }
    return p;
  }

  /** C files directly inside `dir` and one level of subdirectories (when the tree can list them). */
  async cFilesUnder(dir: string): Promise<string[]> {
    const [top, subs] = await Promise.all([
      this.tree.list(dir),
      this.tree.dirs ? this.tree.dirs(dir) : Promise.resolve([]),
    ]);
    const lists = await Promise.all(subs.map((d) => this.tree.list(d)));
    return [...top, ...lists.flat()].filter((p) => p.endsWith('.c'));
  }
}
