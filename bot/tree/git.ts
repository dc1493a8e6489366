// A small, fast layer over one git repository's objects. Reads go through one
// long-lived `git cat-file --batch-command` child per repository: requests are
// written in order and answered in order, so any number of concurrent reads
// share the process without a lock (a FIFO of pending replies is enough).
// Everything else runs git with argument arrays (never a shell) and an
// environment scrubbed of the caller's GIT_* variables, so a bot started from
// a git hook or with GIT_INDEX_FILE set cannot end up working on the wrong
// repository or the user's index.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';

export type ObjectType = 'blob' | 'tree' | 'commit' | 'tag';

export interface ObjectInfo {
  oid: string;
  type: ObjectType;
  size: number;
}

export interface TreeEntry {
  /** Octal mode as git writes it: 100644, 100755, 120000, 40000, 160000. */
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  oid: string;
  /** The entry's name inside its directory. */
  name: string;
  /** The full path from the top of the tree. */
  path: string;
}

export interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export interface RunOptions {
  /** Bytes (or text, written as UTF-8) for the child's stdin. */
  input?: Buffer | string;
  /** Extra environment (GIT_INDEX_FILE for a temporary index, ...). */
  env?: Record<string, string>;
  /** Run here instead of the repository (for commands that need no repository). */
  cwd?: string;
}

/**
 * The environment every git child gets: the caller's, minus anything that
 * redirects git (GIT_DIR, GIT_INDEX_FILE, GIT_WORK_TREE, GIT_CONFIG_* ...),
 * with messages in English (apply's stderr is parsed) and no prompts.
 */
export function gitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('GIT_')) continue;
    env[k] = v;
  }
  env.LC_ALL = 'C';
  env.LANG = 'C';
  env.LANGUAGE = 'C';
  env.GIT_TERMINAL_PROMPT = '0';
  env.GIT_OPTIONAL_LOCKS = '0';
  return { ...env, ...extra };
}

/**
 * Settings forced on every command: never talk to an fsmonitor daemon, never
 * split or sparsify the (temporary) index, write new index files in format 2
 * (applySeries reads them directly), never start a background gc.
 */
export const GIT_SAFE_CONFIG = [
  '-c',
  'core.fsmonitor=false',
  '-c',
  'core.splitIndex=false',
  '-c',
  'index.sparse=false',
  '-c',
  'index.version=2',
  '-c',
  'gc.auto=0',
  '-c',
  'maintenance.auto=false',
];

/** Run git with an argument array; resolves with the exit code (never rejects on exit != 0). */
export function runGit(cwd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('git', [...GIT_SAFE_CONFIG, ...args], {
      cwd: opts.cwd ?? cwd,
      env: gitEnv(opts.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolvePromise({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    // EPIPE when git exits before reading all of stdin (e.g. a usage error):
    // the exit code and stderr say what happened, the write error adds nothing.
    child.stdin.on('error', () => {});
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

interface Pending {
  kind: 'info' | 'contents';
  request: string;
  resolve: (r: { info: ObjectInfo; data: Buffer | null } | null) => void;
  reject: (e: Error) => void;
}

const HEADER = /^([0-9a-f]{40}|[0-9a-f]{64}) (blob|tree|commit|tag) (\d+)$/;
/** Above this many objects, readMany starts one cat-file with the names on stdin. */
const BULK = 256;
const BLOB_CACHE_BYTES = 64 * 1024 * 1024;

/** Refuse object names that would break the line protocol or read as options. */
function checkRev(rev: string): void {
  if (rev.length === 0) throw new Error('git: empty object name');
  if (/[\n\r\0]/.test(rev))
    throw new Error(`git: object name with a line break: ${JSON.stringify(rev)}`);
}

export interface GitRepoOptions {
  /** Environment for every git child of this repository (e.g. a scratch GIT_DIR and config). */
  env?: Record<string, string>;
}

export class GitRepo {
  readonly path: string;
  private readonly env: Record<string, string>;
  private child: ChildProcess | null = null;
  private queue: Pending[] = [];
  private buf: Buffer = Buffer.alloc(0);
  /** While a reply's body is being collected: its header and the chunks so far. */
  private body: { info: ObjectInfo; parts: Buffer[]; got: number } | null = null;
  private stderr = '';
  private blobs = new Map<string, Buffer>();
  private blobBytes = 0;
  private gitDirPromise: Promise<string> | null = null;

  constructor(path: string, opts: GitRepoOptions = {}) {
    this.path = resolve(path);
    this.env = opts.env ?? {};
  }

  /** The absolute git directory (commands that must not see a work tree run with GIT_DIR). */
  gitDir(): Promise<string> {
    // A repository made with its GIT_DIR (a scratch repository) needs no git to say where it is.
    if (this.env.GIT_DIR)
      return (this.gitDirPromise ??= Promise.resolve(resolve(this.env.GIT_DIR)));
    if (!existsSync(this.path)) {
      return Promise.reject(new Error(`${this.path} is not a git repository: no such directory`));
    }
    this.gitDirPromise ??= runGit(this.path, ['rev-parse', '--absolute-git-dir'], {
      env: this.env,
    }).then((r) => {
      if (r.code !== 0) {
        throw new Error(`${this.path} is not a git repository: ${r.stderr.trim()}`);
      }
      return r.stdout.toString('utf8').trim();
    });
    return this.gitDirPromise;
  }

  /** Run a git command against this repository (GIT_DIR set, no work tree involved). */
  async run(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    const gitDir = await this.gitDir();
    return runGit(gitDir, args, { ...opts, env: { GIT_DIR: gitDir, ...this.env, ...opts.env } });
  }

  private spawnBatch(): ChildProcess {
    const child = spawn('git', [...GIT_SAFE_CONFIG, 'cat-file', '--batch-command'], {
      cwd: this.path,
      env: gitEnv(this.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.stderr = '';
    // A closed child may still flush a reply: it must not reach the next child's queue.
    child.stdout!.on('data', (chunk: Buffer) => {
      if (this.child === child) this.onData(chunk);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-4000);
    });
    child.stdin!.on('error', () => {});
    const fail = (why: string) => {
      if (this.child !== child) return;
      this.child = null;
      this.buf = Buffer.alloc(0);
      this.body = null;
      const pending = this.queue;
      this.queue = [];
      const err = new Error(
        `git cat-file in ${this.path}: ${why}${this.stderr ? `: ${this.stderr.trim()}` : ''}`,
      );
      for (const p of pending) p.reject(err);
    };
    child.on('error', (e) => fail(existsSync(this.path) ? e.message : 'no such directory'));
    child.on('exit', (code, signal) => fail(`exited (${signal ?? code})`));
    this.setRef(child, false);
    return child;
  }

  /** Keep the event loop alive only while replies are outstanding, so idle repos never block exit. */
  private setRef(child: ChildProcess, on: boolean): void {
    const streams = [child.stdin, child.stdout, child.stderr] as unknown as ({
      ref?: () => void;
      unref?: () => void;
    } | null)[];
    if (on) {
      child.ref();
      for (const s of streams) s?.ref?.();
    } else {
      child.unref();
      for (const s of streams) s?.unref?.();
    }
  }

  private request(kind: 'info' | 'contents', rev: string) {
    checkRev(rev);
    return new Promise<{ info: ObjectInfo; data: Buffer | null } | null>((resolveP, reject) => {
      this.child ??= this.spawnBatch();
      if (this.queue.length === 0) this.setRef(this.child, true);
      this.queue.push({ kind, request: rev, resolve: resolveP, reject });
      this.child.stdin!.write(`${kind} ${rev}\n`);
    });
  }

  private onData(chunk: Buffer): void {
    if (this.body) {
      this.body.parts.push(chunk);
      this.body.got += chunk.length;
      if (this.body.got < this.body.info.size + 1) return;
      this.buf = Buffer.concat(this.body.parts);
      const info = this.body.info;
      this.body = null;
      this.finishBody(info);
    } else {
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    }
    this.parse();
  }

  /** this.buf starts with a complete body (size bytes + LF). */
  private finishBody(info: ObjectInfo): void {
    const data = Buffer.from(this.buf.subarray(0, info.size));
    this.buf = this.buf.subarray(info.size + 1);
    this.settle({ info, data });
  }

  private settle(value: { info: ObjectInfo; data: Buffer | null } | null): void {
    const p = this.queue.shift();
    if (this.queue.length === 0 && this.child) this.setRef(this.child, false);
    p?.resolve(value);
  }

  private parse(): void {
    for (;;) {
      const p = this.queue[0];
      if (!p) return;
      const nl = this.buf.indexOf(10);
      if (nl < 0) return;
      const line = this.buf.subarray(0, nl).toString('utf8');
      const m = HEADER.exec(line);
      if (!m) {
        // "<name> missing" / "<name> ambiguous": the object is not there (or not unique).
        this.buf = this.buf.subarray(nl + 1);
        this.settle(null);
        continue;
      }
      const info: ObjectInfo = { oid: m[1]!, type: m[2] as ObjectType, size: Number(m[3]) };
      if (p.kind === 'info') {
        this.buf = this.buf.subarray(nl + 1);
        this.settle({ info, data: null });
        continue;
      }
      const rest = this.buf.subarray(nl + 1);
      if (rest.length >= info.size + 1) {
        this.buf = rest;
        this.finishBody(info);
        continue;
      }
      this.body = { info, parts: [rest], got: rest.length };
      this.buf = Buffer.alloc(0);
      return;
    }
  }

  /** Type, id and size of any object name (`HEAD`, `<oid>`, `<commit>:<path>`), or null. */
  async info(rev: string): Promise<ObjectInfo | null> {
    const r = await this.request('info', rev);
    return r?.info ?? null;
  }

  /** An object's contents by name, or null when it does not exist. */
  async readObject(rev: string): Promise<{ info: ObjectInfo; data: Buffer } | null> {
    const r = await this.request('contents', rev);
    if (!r || !r.data) return null;
    if (r.info.type === 'blob') this.remember(r.info.oid, r.data);
    return { info: r.info, data: r.data };
  }

  /** The object id a revision names (not peeled: use `<rev>^{commit}` for that), or null. */
  async revParse(rev: string): Promise<string | null> {
    return (await this.info(rev))?.oid ?? null;
  }

  /** Whether the repository has this commit (full or abbreviated id, or a tag pointing at one). */
  async hasCommit(oid: string): Promise<boolean> {
    if (!/^[0-9a-f]{4,64}$/i.test(oid)) return false;
    return (await this.info(`${oid}^{commit}`)) !== null;
  }

  /** A blob's bytes by id (cached: blobs never change), or null when missing or not a blob. */
  async readBlob(oid: string): Promise<Buffer | null> {
    const hit = this.blobs.get(oid);
    if (hit) {
      // Re-insert to keep the Map in least-recently-used order.
      this.blobs.delete(oid);
      this.blobs.set(oid, hit);
      return hit;
    }
    const r = await this.readObject(oid);
    if (!r || r.info.type !== 'blob') return null;
    return r.data;
  }

  private remember(oid: string, data: Buffer): void {
    if (this.blobs.has(oid) || data.length > BLOB_CACHE_BYTES / 4) return;
    this.blobs.set(oid, data);
    this.blobBytes += data.length;
    while (this.blobBytes > BLOB_CACHE_BYTES) {
      const first = this.blobs.keys().next();
      if (first.done) break;
      this.blobBytes -= this.blobs.get(first.value)!.length;
      this.blobs.delete(first.value);
    }
  }

  /**
   * The entries directly inside `dir` ('' = top) of a commit or tree, or null
   * when there is no such directory.
   */
  async readTreeEntries(treeish: string, dir: string): Promise<TreeEntry[] | null> {
    const clean = dir.replace(/\/+$/, '');
    const r = await this.readObject(`${treeish}:${clean}`);
    if (!r || r.info.type !== 'tree') return null;
    const hashLen = r.info.oid.length / 2;
    const out: TreeEntry[] = [];
    const data = r.data;
    let i = 0;
    while (i < data.length) {
      const sp = data.indexOf(0x20, i);
      const nul = data.indexOf(0, sp);
      if (sp < 0 || nul < 0 || nul + 1 + hashLen > data.length) {
        throw new Error(`git: unreadable tree object ${r.info.oid}`);
      }
      const mode = data.toString('latin1', i, sp);
      const name = data.toString('utf8', sp + 1, nul);
      const oid = data.toString('hex', nul + 1, nul + 1 + hashLen);
      const type = mode === '40000' ? 'tree' : mode === '160000' ? 'commit' : 'blob';
      out.push({ mode, type, oid, name, path: clean ? `${clean}/${name}` : name });
      i = nul + 1 + hashLen;
    }
    return out;
  }

  /**
   * Many objects at once. A few go through the long-lived cat-file child (no new
   * process); more than `BULK` through one `git cat-file --batch` (or
   * `--batch-check` without `contents`) child with the names on its stdin, which
   * for thousands of objects beats one request each. Missing objects are absent
   * from the result.
   */
  async readMany(
    oids: string[],
    opts: { contents?: boolean } = {},
  ): Promise<Map<string, { info: ObjectInfo; data: Buffer | null }>> {
    const unique = [...new Set(oids)];
    if (unique.length > BULK) return this.readBulk(unique, opts);
    const out = new Map<string, { info: ObjectInfo; data: Buffer | null }>();
    const got = await Promise.all(
      unique.map((oid) =>
        opts.contents
          ? this.readObject(oid)
          : this.info(oid).then((info) => info && { info, data: null }),
      ),
    );
    unique.forEach((oid, i) => {
      const r = got[i];
      if (r) out.set(oid, r);
    });
    return out;
  }

  private async readBulk(
    oids: string[],
    opts: { contents?: boolean } = {},
  ): Promise<Map<string, { info: ObjectInfo; data: Buffer | null }>> {
    const out = new Map<string, { info: ObjectInfo; data: Buffer | null }>();
    const unique = oids;
    for (const oid of unique) checkRev(oid);
    const r = await this.run(['cat-file', opts.contents ? '--batch' : '--batch-check'], {
      input: unique.join('\n') + '\n',
    });
    if (r.code !== 0) throw new Error(`git cat-file in ${this.path} failed: ${r.stderr.trim()}`);
    const buf = r.stdout;
    let pos = 0;
    for (const asked of unique) {
      const nl = buf.indexOf(10, pos);
      if (nl < 0) throw new Error(`git cat-file in ${this.path}: short output`);
      const m = HEADER.exec(buf.toString('utf8', pos, nl));
      pos = nl + 1;
      if (!m) continue; // "<name> missing"
      const info: ObjectInfo = { oid: m[1]!, type: m[2] as ObjectType, size: Number(m[3]) };
      let data: Buffer | null = null;
      if (opts.contents) {
        data = buf.subarray(pos, pos + info.size);
        pos += info.size + 1;
      }
      out.set(asked, { info, data });
    }
    return out;
  }

  /** The id of whatever `path` names in `commit` (blob, tree or submodule commit), or null. */
  async pathOid(commit: string, path: string): Promise<string | null> {
    return (await this.info(`${commit}:${path}`))?.oid ?? null;
  }

  /** Stop the cat-file child; the next read starts a new one. */
  close(): void {
    const child = this.child;
    if (!child) return;
    this.child = null;
    const pending = this.queue;
    this.queue = [];
    this.buf = Buffer.alloc(0);
    this.body = null;
    for (const p of pending) p.reject(new Error(`git cat-file in ${this.path}: closed`));
    child.stdin!.end();
    child.kill();
  }
}

const repos = new Map<string, GitRepo>();

/** The shared GitRepo for a repository path (one cat-file process and one blob cache per repository). */
export function gitRepo(path: string): GitRepo {
  let key = resolve(path);
  try {
    key = realpathSync(key);
  } catch {
    // A path that does not exist fails on first use with git's own message.
  }
  let repo = repos.get(key);
  if (!repo) {
    repo = new GitRepo(key);
    repos.set(key, repo);
  }
  return repo;
}

/** Close every shared repository's child process (workers call this on shutdown). */
export function closeAllRepos(): void {
  for (const repo of repos.values()) repo.close();
  repos.clear();
}
