// Helpers for the hostile-input tests: hand-written diffs (the shapes an
// attacker writes, which `git diff` would never produce) and a listing of a
// repository precise enough to prove nothing in it changed.
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';

/** A one-hunk change of line 1 ("a" -> "b") of `path`, with git headers and a/ b/ prefixes. */
export function gitChange(path: string, header = `diff --git a/${path} b/${path}`): string {
  return `${header}\n--- a/${path}\n+++ b/${path}\n@@ -1 +1 @@\n-a\n+b\n`;
}

/** A new file (`mode` 100644 by default) holding `lines`, with git headers. */
export function gitNewFile(path: string, lines: string[], mode = '100644', noEol = false): string {
  const body =
    lines.map((l) => `+${l}\n`).join('') + (noEol ? '\\ No newline at end of file\n' : '');
  return (
    `diff --git a/${path} b/${path}\nnew file mode ${mode}\n--- /dev/null\n+++ b/${path}\n` +
    `@@ -0,0 +1${lines.length === 1 ? '' : `,${lines.length}`} @@\n${body}`
  );
}

/** A symlink `path` -> `target` created by a patch (git writes the target without a newline). */
export function gitSymlink(path: string, target: string): string {
  return gitNewFile(path, [target], '120000', true);
}

const B85 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~';

/** git's base85 lines for a binary patch hunk. */
export function base85Lines(data: Buffer): string[] {
  const lines: string[] = [];
  for (let at = 0; at < data.length; at += 52) {
    const chunk = data.subarray(at, at + 52);
    const n = chunk.length;
    let line = n <= 26 ? String.fromCharCode(64 + n) : String.fromCharCode(96 + n - 26);
    for (let g = 0; g < n; g += 4) {
      let acc = 0;
      for (let k = 0; k < 4; k++) acc = acc * 256 + (chunk[g + k] ?? 0);
      let enc = '';
      for (let k = 0; k < 5; k++) {
        enc = B85[acc % 85]! + enc;
        acc = Math.floor(acc / 85);
      }
      line += enc;
    }
    lines.push(line);
  }
  return lines;
}

/** A new binary file as `git diff --binary` writes it (literal hunk), declaring `declared` bytes. */
export function gitBinaryNewFile(path: string, content: Buffer, declared = content.length): string {
  const zero = '0'.repeat(40);
  const oid = createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
  return (
    `diff --git a/${path} b/${path}\nnew file mode 100644\nindex ${zero}..${oid}\n` +
    `GIT binary patch\nliteral ${declared}\n${base85Lines(deflateSync(content)).join('\n')}\n\n` +
    `literal 0\nHcmV?d00001\n\n`
  );
}

function varint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

/**
 * A binary delta against the file `path` (whose blob is `preimage`, `size` bytes)
 * that copies byte 0..copy of it `times` times: a small patch making a big file.
 */
export function gitBinaryDeltaBomb(
  path: string,
  preimage: string,
  size: number,
  copy: number,
  times: number,
): string {
  const ops: number[] = [];
  for (let i = 0; i < times; i++) {
    // copy op: offset 0, size `copy` (two size bytes)
    ops.push(0x80 | 0x10 | 0x20, copy & 0xff, (copy >> 8) & 0xff);
  }
  const delta = Buffer.from([...varint(size), ...varint(copy * times), ...ops]);
  return (
    `diff --git a/${path} b/${path}\nindex ${preimage}..${'1'.repeat(40)} 100644\n` +
    `GIT binary patch\ndelta ${delta.length}\n${base85Lines(deflateSync(delta)).join('\n')}\n\n` +
    `literal 0\nHcmV?d00001\n\n`
  );
}

export interface Listing {
  [path: string]: string;
}

/**
 * Every file, directory and symlink under `root`: type, mode, size, inode,
 * mtime and ctime (a write, a chmod or a utime all change ctime, which no one
 * can set back), plus a sha256 of the contents of the files `hash` selects.
 */
export function listTree(
  root: string,
  hash: (rel: string) => boolean,
  skip: (rel: string) => boolean = () => false,
): Listing {
  const out: Listing = {};
  const walk = (rel: string) => {
    if (rel && skip(rel)) return;
    const full = rel ? join(root, rel) : root;
    const st = lstatSync(full, { bigint: true });
    const kind = st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : st.isFile() ? 'f' : 'o';
    let line = `${kind} ${st.mode.toString(8)} ${st.size} ino=${st.ino} m=${st.mtimeNs} c=${st.ctimeNs}`;
    if (kind === 'l') line += ` -> ${readlinkSync(full)}`;
    if (kind === 'f' && hash(rel))
      line += ` sha256=${createHash('sha256').update(readFileSync(full)).digest('hex')}`;
    out[rel || '.'] = line;
    if (kind === 'd') for (const name of readdirSync(full)) walk(rel ? `${rel}/${name}` : name);
  };
  walk('');
  return out;
}

/** The entries that differ between two listings, for a readable failure. */
export function listingDiff(before: Listing, after: Listing): string[] {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (before[k] !== after[k])
      out.push(`${k}: ${before[k] ?? '(absent)'} -> ${after[k] ?? '(absent)'}`);
  }
  return out;
}
