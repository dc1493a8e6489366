// A driver is all of its files: which source files make up the module a file
// is part of, as its directory's Kbuild file lists them. A composite object
// names its parts:
//   pcieportdrv-y := portdrv.o rcec.o
//   vfio-pci-core-$(CONFIG_VFIO_PCI_ZDEV_KVM) += vfio_pci_zdev.o
//   mlx5-vfio-pci-objs := main.o \
//                         cmd.o
// and a file no composite lists is an object of its own (`obj-y += aer.o`).
// Parts under a configuration option count (the driver may be built with
// them); parts that are not C files in the tree (assembly, generated) are
// left out. Nothing here evaluates make: variables and conditionals other
// than `-$(CONFIG_...)` are read as written, which at worst finds fewer
// parts, never parts of another module.
import { posix } from 'node:path';
import type { TreeReader } from '../types.js';

/** What a file's module is made of. */
export interface ModuleFiles {
  /** The composite object(s) listing the file (`pcieportdrv`), empty for a standalone object. */
  modules: string[];
  /** The module's C files in the tree, the file itself first; just the file when standalone. */
  files: string[];
}

/** Kbuild lists that are not a module's parts. */
const NOT_A_COMPOSITE = new Set([
  'obj',
  'lib',
  'subdir',
  'extra',
  'always',
  'targets',
  'hostprogs',
  'userprogs',
  'head',
  'core',
  'libs',
  'drivers',
  'ccflags',
  'asflags',
  'ldflags',
  'subdir-ccflags',
  'clean-files',
]);

/** `name-y`, `name-m`, `name-objs`, `name-$(CONFIG_X)`, `name-$(CONFIG_X:m=y)`, with := += = ?=. */
const ASSIGNMENT =
  /^([A-Za-z0-9_][A-Za-z0-9_.-]*?)-(y|m|objs|\$\([A-Za-z0-9_:=]+\))\s*(?::=|\+=|\?=|=)(.*)$/;

/**
 * The composite objects a Kbuild file defines, each with its parts (object
 * names as written, e.g. `portdrv.o`, `sub/x.o`), in the order listed.
 * Continuation lines are joined and comments dropped first.
 */
export function kbuildComposites(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const logical = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.replace(/(^|[^\\])#.*$/, '$1').trim());
  for (const line of logical) {
    const m = ASSIGNMENT.exec(line);
    if (!m) continue;
    const name = m[1]!;
    if (NOT_A_COMPOSITE.has(name) || name.endsWith('flags')) continue;
    const parts = m[3]!
      .split(/\s+/)
      .filter((w) => /^[A-Za-z0-9_./-]+\.o$/.test(w) && !w.startsWith('/') && !w.includes('..'));
    if (!parts.length) continue;
    const list = out.get(name) ?? [];
    for (const p of parts) if (!list.includes(p)) list.push(p);
    out.set(name, list);
  }
  return out;
}

/** The directory's Kbuild file: `Kbuild` wins over `Makefile`, as in kbuild itself. */
async function kbuildText(tree: TreeReader, dir: string): Promise<string | null> {
  return (
    (await tree.read(posix.join(dir, 'Kbuild'))) ?? (await tree.read(posix.join(dir, 'Makefile')))
  );
}

/**
 * The files of the module `path` (a C file) belongs to, read from the Kbuild
 * file of its directory: every C part of every composite that lists it (a
 * part shared by two modules belongs to both), or just `path` when none does.
 */
export async function moduleFiles(tree: TreeReader, path: string): Promise<ModuleFiles> {
  const alone: ModuleFiles = { modules: [], files: [path] };
  if (!/\.c$/.test(path)) return alone;
  const dir = posix.dirname(path);
  const text = await kbuildText(tree, dir);
  if (text === null) return alone;
  const object = posix.basename(path).replace(/\.c$/, '.o');
  const modules: string[] = [];
  const files: string[] = [path];
  for (const [name, parts] of kbuildComposites(text)) {
    if (!parts.includes(object)) continue;
    modules.push(name);
    for (const part of parts) {
      const file = posix.join(dir, part.replace(/\.o$/, '.c'));
      if (!files.includes(file) && (await tree.exists(file))) files.push(file);
    }
  }
  return modules.length ? { modules, files } : alone;
}
