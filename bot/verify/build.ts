// Builds a (patched) kernel for the verify stage, incrementally and sandboxed.
//
// Cache layout, under ${PCIBOT_CACHE:-~/.cache/pcibot}/verify/ (see verifyRoot):
//   src/<tree>-<arch>/            the source, materialised from git objects (root-owned,
//                                 read-only to the sandbox); <dir>.manifest.json records
//                                 path -> mode+blob so a re-materialisation rewrites only
//                                 what changed and every other file keeps its mtime
//   build/<tree>-<arch>-<page>/   the out-of-tree build dir (make O=), sandbox-owned
//   ccache/                       one ccache for all trees (CCACHE_BASEDIR = the root)
//   images/<sha256>.<arch>        copies of built images, content-addressed
//   initramfs/, boot/             see initramfs.ts and boot.ts
//   build.lock                    one kernel build at a time on this machine
// <tree> is the tree directory's name plus a hash of its real path.
//
// The tree itself is only read: `git ls-tree`, `git archive` and `git cat-file`
// on its objects. Its checkout, index and refs are never touched.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
  openSync,
  closeSync,
  writeSync,
  constants as fsConstants,
} from 'node:fs';
import { homedir, availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BootArch, BootPageSize } from '../kernel/vocabulary.js';
import type { TreeOverlay } from '../types.js';
import { gitEnv } from '../tree/git.js';
import { overlayBlob } from '../tree/objects.js';
import {
  BUILD_LIMITS,
  existsBelow,
  insideSandbox,
  readBelow,
  writeBelow,
  makeSandboxWritable,
  runSandboxed,
  SANDBOX_ROOT,
  type SandboxResult,
} from './sandbox.js';

export interface BuildOptions {
  /** The kernel git repository (read-only). */
  tree: string;
  /** Commit (or any commit-ish) to build; default HEAD. */
  commit?: string;
  /** Patched files over the commit: path -> blob id (null: deleted); see bot/tree/objects.ts. */
  overlay?: TreeOverlay;
  /** Modes of the overlay's files (Applied.modes); without it they keep the base mode. */
  modes?: Record<string, string>;
  arch: BootArch;
  /** Guest page size; arm64 only (default 64 KiB), x86_64 is always 4 KiB. */
  pageSize?: BootPageSize;
  /** The verify cache root (default verifyRoot()). */
  workDir?: string;
  log?: (line: string) => void;
  /** Wall-clock limit for the whole build (default 40 minutes). */
  timeoutMs?: number;
  /** make -j (default: the number of CPUs). */
  jobs?: number;
}

export interface BuildResult {
  /** Host path of the kernel image (a content-addressed copy, stable after later builds). */
  image: string;
  buildDir: string;
  seconds: number;
  /** The build dir held a previous build: only what changed was recompiled. */
  incremental: boolean;
  /** `make kernelrelease`, e.g. 6.12.117. */
  kernelVersion: string;
  /** Files rewritten in the source dir for this build (all of them for a fresh source). */
  changedFiles: number;
  /** Fragment options that olddefconfig did not keep (a dependency is missing). */
  configWarnings: string[];
  timings: { materialise: number; config: number; make: number };
}

export class BuildError extends Error {
  constructor(
    message: string,
    /** The tail of make's output. */
    readonly output = '',
  ) {
    super(message);
  }
}

/** The verify cache root: ${PCIBOT_CACHE:-~/.cache/pcibot}/verify. */
export function verifyRoot(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.PCIBOT_CACHE || join(homedir(), '.cache', 'pcibot');
  return join(base, 'verify');
}

export const configsDir = join(dirname(fileURLToPath(import.meta.url)), 'configs');

/** The config fragment files for an arch/page size, in merge order. */
export function fragmentsFor(arch: BootArch, pageSize: BootPageSize): string[] {
  const dir = existsSync(configsDir) ? configsDir : sourceConfigsDir();
  if (arch === 'x86_64') return [join(dir, 'x86_64.fragment')];
  return [
    join(dir, 'arm64.fragment'),
    join(dir, pageSize === 4096 ? 'arm64-4k.fragment' : 'arm64-64k.fragment'),
  ];
}

// Compiled code lives in dist*/bot/verify; the fragments stay in bot/verify/configs.
function sourceConfigsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'bot', 'verify', 'configs');
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find bot/verify/configs');
    dir = up;
  }
}

/** Fragment lines `CONFIG_X=v` / `# CONFIG_X is not set` as symbol -> value ('n' for unset). */
export function parseFragment(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const set = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (set) out.set(set[1]!, set[2]!);
    const unset = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
    if (unset) out.set(unset[1]!, 'n');
  }
  return out;
}

/** Merges fragment options into a .config text (as merge_config.sh -m does). */
export function mergeConfig(config: string, options: Map<string, string>): string {
  const seen = new Set<string>();
  const lines = config.split('\n').map((line) => {
    const m =
      /^(CONFIG_[A-Za-z0-9_]+)=/.exec(line) ?? /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
    if (!m || !options.has(m[1]!)) return line;
    seen.add(m[1]!);
    const v = options.get(m[1]!)!;
    return v === 'n' ? `# ${m[1]} is not set` : `${m[1]}=${v}`;
  });
  for (const [k, v] of options) {
    if (!seen.has(k)) lines.push(v === 'n' ? `# ${k} is not set` : `${k}=${v}`);
  }
  return lines.join('\n').replace(/\n*$/, '\n');
}

/** Options of the fragments that the final .config does not have as asked. */
export function missingOptions(config: string, options: Map<string, string>): string[] {
  const have = parseFragment(config);
  const missing: string[] = [];
  for (const [k, v] of options) {
    const got = have.get(k) ?? 'n';
    if (got !== v) missing.push(`${k}=${v} (got ${got})`);
  }
  return missing;
}

// ---------------------------------------------------------------- git reads

interface GitRun {
  code: number;
  stdout: Buffer;
  stderr: string;
}

function git(tree: string, args: string[], input?: Buffer | string): Promise<GitRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['-C', tree, ...args], {
      env: gitEnv(),
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: err }),
    );
    if (input !== undefined) {
      // A git that exits early (bad object) closes its stdin: that shows in the exit code.
      child.stdin!.on('error', () => {});
      child.stdin!.end(input);
    }
  });
}

async function gitOk(tree: string, args: string[], input?: Buffer | string): Promise<Buffer> {
  const r = await git(tree, args, input);
  if (r.code !== 0)
    throw new BuildError(`git ${args.join(' ')} failed in ${tree}: ${r.stderr.trim()}`);
  return r.stdout;
}

interface Entry {
  mode: string;
  oid: string;
}

async function listTree(tree: string, commit: string): Promise<Map<string, Entry>> {
  const out = await gitOk(tree, ['ls-tree', '-r', '-z', '--full-tree', commit]);
  const entries = new Map<string, Entry>();
  for (const rec of out.toString('utf8').split('\0')) {
    if (!rec) continue;
    const tab = rec.indexOf('\t');
    const [mode, type, oid] = rec.slice(0, tab).split(' ');
    if (type !== 'blob') continue; // submodules (commit entries) are not materialised
    entries.set(rec.slice(tab + 1), { mode: mode!, oid: oid! });
  }
  return entries;
}

/** Reads many blobs through one `git cat-file --batch`. */
async function readBlobs(tree: string, oids: string[]): Promise<Map<string, Buffer>> {
  const unique = [...new Set(oids)];
  const blobs = new Map<string, Buffer>();
  if (unique.length === 0) return blobs;
  const out = await gitOk(tree, ['cat-file', '--batch'], unique.join('\n') + '\n');
  let pos = 0;
  for (const oid of unique) {
    const nl = out.indexOf(0x0a, pos);
    const header = out.subarray(pos, nl).toString();
    const [gotOid, type, sizeText] = header.split(' ');
    if (type !== 'blob' || gotOid !== oid)
      throw new BuildError(`blob ${oid} missing from ${tree}: ${header}`);
    const size = Number(sizeText);
    blobs.set(oid, out.subarray(nl + 1, nl + 1 + size));
    pos = nl + 1 + size + 1;
  }
  return blobs;
}

// ------------------------------------------------------------ materialising

/** A repository path we are willing to write: relative, no `..`, no `.git`. */
export function isSafeTreePath(path: string): boolean {
  if (!path || path.startsWith('/') || path.includes('\0') || path.includes('\\')) return false;
  return path.split('/').every((c) => c !== '' && c !== '.' && c !== '..' && c !== '.git');
}

/** Refuses to write through a symlink: every parent below `root` must be a real directory. */
function ensureParents(root: string, path: string): void {
  const parts = path.split('/').slice(0, -1);
  let dir = root;
  for (const p of parts) {
    dir = join(dir, p);
    let st;
    try {
      st = lstatSync(dir);
    } catch {
      mkdirSync(dir);
      continue;
    }
    if (!st.isDirectory())
      throw new BuildError(`refusing to write ${path}: ${dir} is not a directory`);
  }
}

/** A symlink target that stays inside the tree (relative, not climbing above the top, not into .git). */
export function isSafeSymlinkTarget(path: string, target: string): boolean {
  if (target === '' || target.startsWith('/') || /[\0-\x1f\x7f]/.test(target)) return false;
  const parts = path.split('/').slice(0, -1);
  for (const c of target.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (parts.length === 0) return false;
      parts.pop();
    } else if (c.toLowerCase() === '.git') return false;
    else parts.push(c);
  }
  return true;
}

function writeEntry(root: string, path: string, entry: Entry, content: Buffer): void {
  if (entry.mode !== '100644' && entry.mode !== '100755' && entry.mode !== '120000')
    throw new BuildError(`refusing to write ${path}: mode ${entry.mode}`);
  if (entry.mode === '120000' && !isSafeSymlinkTarget(path, content.toString('utf8')))
    throw new BuildError(
      `refusing to write ${path}: symlink to ${JSON.stringify(content.toString('utf8'))} leaves the tree`,
    );
  ensureParents(root, path);
  const full = join(root, path);
  try {
    const st = lstatSync(full);
    if (st.isDirectory()) rmSync(full, { recursive: true });
    else unlinkSync(full);
  } catch {
    // did not exist
  }
  if (entry.mode === '120000') {
    symlinkSync(content.toString('utf8'), full);
    return;
  }
  const fd = openSync(
    full,
    fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW,
    entry.mode === '100755' ? 0o755 : 0o644,
  );
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
}

export interface MaterialiseResult {
  commit: string;
  /** Paths written (added or changed) and removed. */
  written: string[];
  removed: string[];
  fresh: boolean;
}

/**
 * Makes `srcDir` hold exactly `commit` + `overlay`, rewriting only the files
 * whose content or mode differ from what is there (by the manifest), so make
 * sees unchanged mtimes everywhere else.
 */
export async function materialiseSource(opts: {
  tree: string;
  commit: string;
  overlay?: TreeOverlay;
  /** Modes of the overlay's files; an overlay file without one keeps its base mode (new: 100644). */
  modes?: Record<string, string>;
  srcDir: string;
}): Promise<MaterialiseResult> {
  const { tree, srcDir } = opts;
  const commit = (await gitOk(tree, ['rev-parse', '--verify', `${opts.commit}^{commit}`]))
    .toString()
    .trim();
  const desired = await listTree(tree, commit);
  const overlayPaths = Object.entries(opts.overlay ?? {});
  for (const [path, oid] of overlayPaths) {
    if (!isSafeTreePath(path))
      throw new BuildError(`overlay path refused: ${JSON.stringify(path)}`);
    if (oid === null) desired.delete(path);
    else {
      if (!/^[0-9a-f]{40,64}$/.test(oid))
        throw new BuildError(`overlay ${path}: not a blob id: ${oid}`);
      const mode = opts.modes?.[path] ?? desired.get(path)?.mode ?? '100644';
      if (!/^(?:100644|100755|120000)$/.test(mode))
        throw new BuildError(`overlay ${path}: unsupported mode ${mode}`);
      desired.set(path, { mode, oid });
    }
  }
  const manifestFile = `${srcDir}.manifest.json`;
  let current: Map<string, Entry> | null = null;
  if (existsSync(srcDir) && existsSync(manifestFile)) {
    try {
      const raw = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<
        string,
        [string, string]
      >;
      current = new Map(Object.entries(raw).map(([p, [mode, oid]]) => [p, { mode, oid }]));
    } catch {
      current = null;
    }
  }
  let fresh = false;
  if (!current) {
    // Fresh source: unpack the commit with git archive (fast), then fix up the overlay below.
    fresh = true;
    rmSync(srcDir, { recursive: true, force: true });
    rmSync(manifestFile, { force: true });
    mkdirSync(srcDir, { recursive: true });
    await extractArchive(tree, commit, srcDir);
    current = await listTree(tree, commit);
  }
  const written: string[] = [];
  const removed: string[] = [];
  const toWrite: [string, Entry][] = [];
  for (const [path, e] of desired) {
    const have = current.get(path);
    if (!have || have.oid !== e.oid || have.mode !== e.mode) toWrite.push([path, e]);
  }
  for (const path of current.keys()) {
    if (!desired.has(path)) {
      if (!isSafeTreePath(path)) continue;
      rmSync(join(srcDir, path), { force: true });
      removed.push(path);
    }
  }
  // Blobs applying made are held with the overlay (bot/tree/objects.ts); the rest are in the tree.
  const blobs = new Map<string, Buffer>();
  const fromTree: string[] = [];
  for (const [, e] of toWrite) {
    const held = opts.overlay ? overlayBlob(opts.overlay, e.oid) : null;
    if (held) blobs.set(e.oid, held);
    else fromTree.push(e.oid);
  }
  for (const [oid, data] of await readBlobs(tree, fromTree)) blobs.set(oid, data);
  for (const [path, e] of toWrite) {
    if (!isSafeTreePath(path)) throw new BuildError(`tree path refused: ${JSON.stringify(path)}`);
    writeEntry(srcDir, path, e, blobs.get(e.oid)!);
    written.push(path);
  }
  const manifest: Record<string, [string, string]> = {};
  for (const [p, e] of desired) manifest[p] = [e.mode, e.oid];
  writeFileSync(`${manifestFile}.tmp`, JSON.stringify(manifest));
  renameSync(`${manifestFile}.tmp`, manifestFile);
  return { commit, written: fresh ? [...desired.keys()] : written, removed, fresh };
}

function extractArchive(tree: string, commit: string, dest: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const archive = spawn('git', ['-C', tree, 'archive', '--format=tar', commit], {
      env: gitEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tar = spawn('tar', ['-x', '--no-same-owner', '-C', dest], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let err = '';
    archive.stderr.on('data', (b: Buffer) => (err += b.toString()));
    tar.stderr.on('data', (b: Buffer) => (err += b.toString()));
    archive.stdout.pipe(tar.stdin);
    let pending = 2;
    let failed = false;
    const done = (what: string) => (code: number | null) => {
      if (code !== 0 && !failed) {
        failed = true;
        reject(new BuildError(`${what} failed while unpacking ${commit}: ${err.trim()}`));
      }
      if (--pending === 0 && !failed) resolve();
    };
    archive.on('close', done('git archive'));
    tar.on('close', done('tar'));
    archive.on('error', reject);
    tar.on('error', reject);
  });
}

// ------------------------------------------------------------------- locking

/** A lock held by creating a directory; a lock whose owner process is gone is broken. */
export async function withLock<T>(
  lockDir: string,
  fn: () => Promise<T>,
  log?: (l: string) => void,
): Promise<T> {
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let owner = NaN;
      try {
        owner = Number(readFileSync(join(lockDir, 'pid'), 'utf8'));
      } catch {
        // being created right now, or left half-made
      }
      if (Number.isInteger(owner) && !processAlive(owner)) {
        rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (!announced) {
        log?.(`waiting for another kernel build (lock ${lockDir}, pid ${owner})`);
        announced = true;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// --------------------------------------------------------------------- build

export function treeKey(tree: string): string {
  const real = realpathSync(tree);
  const hash = createHash('sha256').update(real).digest('hex').slice(0, 10);
  return `${basename(real).replace(/[^A-Za-z0-9._-]/g, '_')}-${hash}`;
}

function kbuildArch(arch: BootArch): string[] {
  return arch === 'x86_64' ? ['ARCH=x86_64'] : ['ARCH=arm64', 'CROSS_COMPILE=aarch64-linux-gnu-'];
}

function compiler(arch: BootArch): string {
  return arch === 'x86_64' ? 'gcc' : 'aarch64-linux-gnu-gcc';
}

export function imageTarget(arch: BootArch): { target: string; path: string } {
  return arch === 'x86_64'
    ? { target: 'bzImage', path: 'arch/x86/boot/bzImage' }
    : { target: 'Image', path: 'arch/arm64/boot/Image' };
}

function hashOf(parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
}

function compilerVersion(arch: BootArch): Promise<string> {
  return new Promise((resolve) => {
    const c = spawn(compiler(arch), ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString()));
    c.on('error', () => resolve('missing'));
    c.on('close', () => resolve(out.split('\n')[0] ?? ''));
  });
}

function failure(what: string, r: SandboxResult): BuildError {
  const why = r.timedOut ? 'timed out' : r.signal ? `killed by ${r.signal}` : `exit code ${r.code}`;
  const tail = (r.stdout + '\n' + r.stderr).trim().split('\n').slice(-40).join('\n');
  return new BuildError(`${what} failed (${why})`, tail);
}

/** Builds the kernel image for tree+overlay; incremental when the build dir exists. */
export async function buildKernel(opts: BuildOptions): Promise<BuildResult> {
  const root = opts.workDir ?? verifyRoot();
  const arch = opts.arch;
  const pageSize: BootPageSize = arch === 'x86_64' ? 4096 : (opts.pageSize ?? 65536);
  if (arch === 'x86_64' && opts.pageSize && opts.pageSize !== 4096) {
    throw new BuildError('x86_64 guests have 4 KiB pages only');
  }
  const log = opts.log ?? (() => {});
  mkdirSync(root, { recursive: true });
  return withLock(
    join(root, 'build.lock'),
    async () => {
      const started = process.hrtime.bigint();
      const secs = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e9;
      const key = treeKey(opts.tree);
      const srcDir = join(root, 'src', `${key}-${arch}`);
      const buildDir = join(root, 'build', `${key}-${arch}-${pageSize / 1024}k`);
      const ccacheDir = join(root, 'ccache');
      mkdirSync(dirname(srcDir), { recursive: true });
      makeSandboxWritable(buildDir);
      makeSandboxWritable(ccacheDir);

      log(`materialising ${opts.commit ?? 'HEAD'} of ${opts.tree} into ${srcDir}`);
      const t0 = process.hrtime.bigint();
      const mat = await materialiseSource({
        tree: opts.tree,
        commit: opts.commit ?? 'HEAD',
        overlay: opts.overlay,
        modes: opts.modes,
        srcDir,
      });
      const tMaterialise = secs(t0);
      log(
        mat.fresh
          ? `fresh source: ${mat.written.length} files (${tMaterialise.toFixed(1)} s)`
          : `source updated: ${mat.written.length} written, ${mat.removed.length} removed (${tMaterialise.toFixed(1)} s)`,
      );

      const srcIn = insideSandbox(root, srcDir);
      const buildIn = insideSandbox(root, buildDir);
      const cc = compiler(arch);
      const env: Record<string, string> = {
        CCACHE_DIR: `${SANDBOX_ROOT}/ccache`,
        CCACHE_BASEDIR: SANDBOX_ROOT,
        CCACHE_MAXSIZE: '8G',
        CCACHE_UMASK: '022',
        KBUILD_BUILD_USER: 'pcibot',
        KBUILD_BUILD_HOST: 'sandbox',
      };
      const makeArgs = [
        'make',
        '-C',
        srcIn,
        `O=${buildIn}`,
        ...kbuildArch(arch),
        `CC=ccache ${cc}`,
        'HOSTCC=ccache gcc',
      ];
      const timeoutMs = opts.timeoutMs ?? 40 * 60_000;
      const sandbox = { root, cwd: buildIn, env, limits: BUILD_LIMITS };

      // Config: regenerated only when what it depends on changed (Kconfig files,
      // tinyconfig inputs, fragments, compiler), so incremental builds skip it.
      const t1 = process.hrtime.bigint();
      const fragments = fragmentsFor(arch, pageSize);
      const options = new Map<string, string>();
      for (const f of fragments)
        for (const [k, v] of parseFragment(readFileSync(f, 'utf8'))) options.set(k, v);
      const manifest = JSON.parse(readFileSync(`${srcDir}.manifest.json`, 'utf8')) as Record<
        string,
        [string, string]
      >;
      const kconfigInputs = Object.entries(manifest)
        .filter(
          ([p]) =>
            /(^|\/)Kconfig[^/]*$/.test(p) ||
            /(^|\/)configs\/[^/]*\.config$/.test(p) ||
            p === 'Makefile',
        )
        .map(([p, [, oid]]) => `${p}=${oid}`)
        .sort();
      const configKey = hashOf([
        arch,
        String(pageSize),
        await compilerVersion(arch),
        ...fragments.map((f) => readFileSync(f)),
        ...kconfigInputs,
      ]);
      // Files in the build dir are read and written with readBelow/writeBelow: the
      // sandbox owns that directory and might have planted symlinks for us.
      const keyFile = join(root, 'build', `${basename(buildDir)}.config-key`);
      const oldKey = existsSync(keyFile) ? readFileSync(keyFile, 'utf8') : '';
      if (oldKey !== configKey || !existsBelow(buildDir, '.config')) {
        log('generating .config: tinyconfig + fragments + olddefconfig');
        const tiny = await runSandboxed([...makeArgs, 'tinyconfig'], { ...sandbox, timeoutMs });
        if (tiny.code !== 0) throw failure('make tinyconfig', tiny);
        const merged = mergeConfig(readBelow(buildDir, '.config').toString('utf8'), options);
        writeBelow(buildDir, '.config', merged);
        const old = await runSandboxed([...makeArgs, 'olddefconfig'], { ...sandbox, timeoutMs });
        if (old.code !== 0) throw failure('make olddefconfig', old);
        writeFileSync(keyFile, configKey);
      }
      const configWarnings = missingOptions(
        readBelow(buildDir, '.config').toString('utf8'),
        options,
      );
      for (const w of configWarnings) log(`config: fragment option not kept: ${w}`);
      const tConfig = secs(t1);

      const { target, path } = imageTarget(arch);
      const incremental = existsBelow(buildDir, 'vmlinux');
      const t2 = process.hrtime.bigint();
      const jobs = opts.jobs ?? availableParallelism();
      log(
        `make -j${jobs} ${target} (${incremental ? 'incremental' : 'clean'} build in ${buildDir})`,
      );
      const made = await runSandboxed([...makeArgs, `-j${jobs}`, target], {
        ...sandbox,
        timeoutMs,
        onLine: (line) => {
          if (/\b(error|Error)\b|^\s+(CC|LD|AR)\s/.test(line)) log(line);
        },
      });
      if (made.code !== 0 || !existsBelow(buildDir, path)) throw failure(`make ${target}`, made);
      const tMake = secs(t2);
      const kernelVersion = readBelow(buildDir, 'include/config/kernel.release')
        .toString('utf8')
        .trim();

      // A content-addressed copy: later builds of the same dir do not change it under a boot.
      const imageBytes = readBelow(buildDir, path);
      const imagesDir = join(root, 'images');
      mkdirSync(imagesDir, { recursive: true });
      const image = join(
        imagesDir,
        `${createHash('sha256').update(imageBytes).digest('hex').slice(0, 24)}.${arch}`,
      );
      if (!existsSync(image)) {
        writeFileSync(`${image}.tmp`, imageBytes);
        renameSync(`${image}.tmp`, image);
      }
      pruneImages(imagesDir, 40);
      const seconds = secs(started);
      log(`built ${kernelVersion} in ${seconds.toFixed(1)} s (make ${tMake.toFixed(1)} s)`);
      return {
        image,
        buildDir,
        seconds,
        incremental,
        kernelVersion,
        changedFiles: mat.written.length + mat.removed.length,
        configWarnings,
        timings: { materialise: tMaterialise, config: tConfig, make: tMake },
      };
    },
    log,
  );
}

function pruneImages(dir: string, keep: number): void {
  const files = readdirSync(dir)
    .filter((f) => !f.endsWith('.tmp'))
    .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { f } of files.slice(keep)) rmSync(join(dir, f), { force: true });
}
