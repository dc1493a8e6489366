// Who may command pcibot: the addresses in the config, plus the maintainers of
// the PCI subsystem and VFIO as the kernel tree's MAINTAINERS file lists them
// (the "PCI SUBSYSTEM" and "VFIO DRIVER" entries, and any entry whose F:
// pattern covers all of drivers/pci/ or drivers/vfio/). The file is read from
// git objects (the tree is never checked out or changed).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface MaintainersEntry {
  title: string;
  maintainers: string[];
  files: string[];
}

const NAMED = ['PCI SUBSYSTEM', 'VFIO DRIVER'];
const COVERED = ['drivers/pci/', 'drivers/vfio/'];

/** Parse MAINTAINERS text into entries (title line, then "X:\tvalue" lines). */
export function parseMaintainers(text: string): MaintainersEntry[] {
  const out: MaintainersEntry[] = [];
  let cur: MaintainersEntry | null = null;
  for (const line of text.split('\n')) {
    const field = /^([A-Z]):\s*(.*)$/.exec(line);
    if (field && cur) {
      if (field[1] === 'M') cur.maintainers.push(field[2]!.trim());
      else if (field[1] === 'F') cur.files.push(field[2]!.trim());
      continue;
    }
    if (line.trim() === '') {
      cur = null;
      continue;
    }
    if (!field && !/^\s/.test(line)) {
      cur = { title: line.trim(), maintainers: [], files: [] };
      out.push(cur);
    }
  }
  return out.filter((e) => e.maintainers.length > 0 || e.files.length > 0);
}

/** Whether an F: pattern covers the whole directory `dir` ("drivers/pci/"), not just a file in it. */
export function patternCovers(pattern: string, dir: string): boolean {
  let p = pattern.replace(/\*+$/, '');
  if (p === '') return false;
  if (!p.endsWith('/')) p += '/';
  return dir.startsWith(p);
}

export function addressOf(maintainerLine: string): string | null {
  const m = /<([^<>\s]+@[^<>\s]+)>/.exec(maintainerLine) ?? /(\S+@\S+)/.exec(maintainerLine);
  return m ? m[1]!.toLowerCase() : null;
}

export function pciMaintainers(entries: MaintainersEntry[]): { address: string; entry: string }[] {
  const out: { address: string; entry: string }[] = [];
  for (const e of entries) {
    const relevant =
      NAMED.includes(e.title) || e.files.some((f) => COVERED.some((d) => patternCovers(f, d)));
    if (!relevant) continue;
    for (const m of e.maintainers) {
      const a = addressOf(m);
      if (a && !out.some((o) => o.address === a)) out.push({ address: a, entry: e.title });
    }
  }
  return out;
}

/** MAINTAINERS at `rev` of the tree, read with git (no checkout). null when absent. */
export async function readMaintainers(tree: string, rev = 'HEAD'): Promise<string | null> {
  try {
    const { stdout } = await exec('git', ['-C', tree, 'show', `${rev}:MAINTAINERS`], {
      maxBuffer: 64 << 20,
    });
    return stdout;
  } catch {
    return null;
  }
}

export class AllowList {
  private fromTree: { address: string; entry: string }[] = [];
  private loadedAt = 0;

  constructor(
    private readonly configured: string[],
    private readonly tree: string | null,
    private readonly useTree: boolean,
    private readonly refreshMs = 3600_000,
  ) {}

  private async refresh(): Promise<void> {
    if (!this.tree || !this.useTree) return;
    if (this.loadedAt && Date.now() - this.loadedAt < this.refreshMs) return;
    const text = await readMaintainers(this.tree);
    this.fromTree = text ? pciMaintainers(parseMaintainers(text)) : [];
    this.loadedAt = Date.now();
  }

  /** Why the address may command pcibot, or null when it may not. */
  async allows(address: string): Promise<string | null> {
    const a = address.toLowerCase();
    if (this.configured.includes(a)) return 'config allowList';
    await this.refresh();
    const hit = this.fromTree.find((m) => m.address === a);
    return hit ? `MAINTAINERS: ${hit.entry}` : null;
  }

  async all(): Promise<string[]> {
    await this.refresh();
    return [...new Set([...this.configured, ...this.fromTree.map((m) => m.address)])].sort();
  }
}
