// Small, known kernel changes verify is exercised with (tests, bench), expressed
// as a TreeOverlay over the tree's commit. The patched blob is held in this
// process with the overlay (bot/tree/objects.ts), as the apply stage does;
// nothing is written to the tree, not even an object.
import { execFileSync } from 'node:child_process';
import type { TreeOverlay } from '../types.js';
import { gitEnv } from '../tree/git.js';
import { bindOverlays, blobId } from '../tree/objects.js';

/** Rewrites one file of `commit` with `edit` and returns the overlay holding the result. */
export function overlayEditing(
  tree: string,
  commit: string,
  path: string,
  edit: (text: string) => string,
): TreeOverlay {
  const env = gitEnv();
  const before = execFileSync('git', ['-C', tree, 'show', `${commit}:${path}`], {
    env,
    maxBuffer: 64 * 2 ** 20,
  }).toString('utf8');
  const after = edit(before);
  if (after === before) throw new Error(`the edit of ${path} changed nothing`);
  const data = Buffer.from(after, 'utf8');
  const headOid = execFileSync('git', ['-C', tree, 'rev-parse', `${commit}^{commit}`], { env })
    .toString()
    .trim();
  const oid = blobId(data, headOid.length === 64 ? 'sha256' : 'sha1');
  const overlay: TreeOverlay = { [path]: oid };
  bindOverlays([overlay], new Map([[oid, data]]));
  return overlay;
}

/**
 * Seed 001's 8/8 alone ("PCI: Align small BARs"): pcibios_default_alignment()
 * returns max(SZ_4K, PAGE_SIZE) instead of 0. On x86 it makes the kernel drop
 * the small BARs SeaBIOS placed ("disabling; bad alignment 0x0"); on arm64 it
 * puts each BAR on its own page.
 */
export function defaultAlignmentOverlay(tree: string, commit = 'HEAD'): TreeOverlay {
  return overlayEditing(tree, commit, 'drivers/pci/pci.c', (text) =>
    text.replace(
      /(resource_size_t __weak pcibios_default_alignment\(void\)\n\{\n)\treturn 0;\n/,
      '$1\treturn max(SZ_4K, PAGE_SIZE);\n',
    ),
  );
}
