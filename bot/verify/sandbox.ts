// The sandbox the verify stage builds and boots untrusted kernel trees in.
//
// A patched tree is hostile code: its Makefiles, Kconfig scripts and host
// programs run during the build, and its kernel runs in QEMU. So every build and
// boot command runs:
//   - in fresh namespaces (util-linux `unshare`): no network (an empty net
//     namespace: not even loopback is up), its own PID namespace (killing the
//     sandbox's init kills every process it started), its own mounts;
//   - as an unprivileged user: `pcibot-sandbox` (created as a system user when
//     we run as root and it is missing; `nobody` if that fails). Run as a normal
//     user, pcibot maps itself to root in a user namespace instead: still the
//     same unprivileged uid outside;
//   - with resource limits (prlimit: address space, processes, CPU seconds,
//     file size, no core dumps) and a wall-clock timeout that kills the whole
//     process group;
//   - seeing the verify cache only through a bind mount at SANDBOX_ROOT on a
//     private /run (tmpfs; the host's sockets there are hidden), with a private
//     /tmp. The host's cache usually lives under /root (mode
//     0700), which the sandbox user could not reach; the fixed path also makes
//     compiler command lines identical on every machine, which ccache likes.
// Inside, only directories chowned to the sandbox user are writable (build
// dirs, ccache, boot scratch); the materialised sources stay root-owned.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chownSync,
  closeSync,
  constants as fsConstants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';

/** Where the verify cache root appears inside the sandbox. */
export const SANDBOX_ROOT = '/run/pcibot-verify';

export interface SandboxIdentity {
  /** The uid/gid commands run as (outside any user namespace). */
  uid: number;
  gid: number;
  user: string;
  /** true: we are root and drop to `user`; false: we are unprivileged and use a user namespace. */
  dropsPrivileges: boolean;
}

export interface SandboxLimits {
  /** RLIMIT_AS per process, bytes. */
  addressSpace: number;
  /** RLIMIT_NPROC (counted per uid). */
  processes: number;
  /** RLIMIT_CPU per process, seconds. */
  cpuSeconds: number;
  /** RLIMIT_FSIZE, bytes. */
  fileSize: number;
  /** Size of the private /tmp. */
  tmpBytes: number;
}

export const BUILD_LIMITS: SandboxLimits = {
  addressSpace: 4 * 2 ** 30,
  processes: 1024,
  cpuSeconds: 1800,
  fileSize: 2 * 2 ** 30,
  tmpBytes: 2 * 2 ** 30,
};

export const BOOT_LIMITS: SandboxLimits = {
  // QEMU reserves large virtual ranges (TCG translation buffer, guest RAM).
  addressSpace: 16 * 2 ** 30,
  processes: 256,
  cpuSeconds: 600,
  fileSize: 256 * 2 ** 20,
  tmpBytes: 64 * 2 ** 20,
};

export interface SandboxRunOptions {
  /** Host path of the verify cache root, bind-mounted at SANDBOX_ROOT. */
  root: string;
  /** Working directory inside the sandbox (a SANDBOX_ROOT path). */
  cwd: string;
  /** The whole environment of the command (nothing is inherited). */
  env?: Record<string, string>;
  timeoutMs: number;
  limits?: SandboxLimits;
  /** Called with each line of output (stdout and stderr) as it arrives. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Keep at most this many bytes of each stream (the tail). */
  maxOutput?: number;
}

export interface SandboxResult {
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  seconds: number;
}

export class SandboxError extends Error {}

let identity: SandboxIdentity | null = null;

function lookupUser(name: string): { uid: number; gid: number } | null {
  const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const f = r.stdout.trim().split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/** Who sandboxed commands run as; creates the `pcibot-sandbox` system user once if needed. */
export function sandboxIdentity(): SandboxIdentity {
  if (identity) return identity;
  const me = process.getuid?.() ?? -1;
  if (me !== 0) {
    identity = { uid: me, gid: process.getgid?.() ?? me, user: String(me), dropsPrivileges: false };
    return identity;
  }
  let found = lookupUser('pcibot-sandbox');
  if (!found) {
    spawnSync(
      'useradd',
      [
        '--system',
        '--no-create-home',
        '--home-dir',
        '/nonexistent',
        '--shell',
        '/usr/sbin/nologin',
        'pcibot-sandbox',
      ],
      { encoding: 'utf8' },
    );
    found = lookupUser('pcibot-sandbox');
  }
  if (found && found.uid !== 0) {
    identity = { ...found, user: 'pcibot-sandbox', dropsPrivileges: true };
  } else {
    const nobody = lookupUser('nobody') ?? { uid: 65534, gid: 65534 };
    identity = { ...nobody, user: 'nobody', dropsPrivileges: true };
  }
  return identity;
}

/** Creates a directory (and parents) and gives it to the sandbox user. */
export function makeSandboxWritable(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const id = sandboxIdentity();
  if (!id.dropsPrivileges) return;
  const st = statSync(dir);
  if (st.uid !== id.uid) chownTree(dir, id.uid, id.gid);
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  const st = lstatSync(path);
  if (!st.isDirectory()) return;
  for (const name of readdirSync(path)) {
    const p = join(path, name);
    if (lstatSync(p).isSymbolicLink()) continue;
    chownTree(p, uid, gid);
  }
}

/** Maps a host path under the verify root to its path inside the sandbox. */
export function insideSandbox(root: string, hostPath: string): string {
  const rel = relative(root, hostPath);
  if (rel.startsWith('..') || isAbsolute(rel)) {
    throw new SandboxError(`${hostPath} is outside the verify root ${root}`);
  }
  return rel === '' ? SANDBOX_ROOT : `${SANDBOX_ROOT}/${rel}`;
}

// Runs as root inside the new mount namespace (or as the namespace's root), before
// dropping privileges: a private /run holding the verify root's bind mount, then a
// private /tmp (bound second, so a verify root under /tmp is still visible when
// bound), then exec. Arguments arrive positionally; nothing is interpolated.
const PRELUDE = [
  'set -e',
  'mount -t tmpfs -o size=1m,mode=755 pcibot-run /run',
  'mkdir -p "$3"',
  'mount --bind "$2" "$3"',
  'mount -t tmpfs -o "size=$1,mode=1777" pcibot-tmp /tmp',
  'shift 3',
  'exec "$@"',
].join('\n');

/** The full argv that runs `command` in the sandbox (exported for tests and logs). */
export function sandboxArgv(
  command: string[],
  opts: { root: string; limits: SandboxLimits },
): string[] {
  const id = sandboxIdentity();
  const l = opts.limits;
  const unshare = [
    'unshare',
    '--mount',
    '--net',
    '--pid',
    '--fork',
    '--kill-child',
    '--mount-proc',
  ];
  if (!id.dropsPrivileges) unshare.splice(1, 0, '--user', '--map-root-user');
  const prlimit = [
    'prlimit',
    `--as=${l.addressSpace}`,
    `--nproc=${l.processes}`,
    `--cpu=${l.cpuSeconds}`,
    `--fsize=${l.fileSize}`,
    '--core=0',
    '--',
  ];
  const drop = id.dropsPrivileges
    ? [
        'setpriv',
        `--reuid=${id.uid}`,
        `--regid=${id.gid}`,
        '--clear-groups',
        '--no-new-privs',
        '--',
      ]
    : [];
  return [
    ...unshare,
    '--',
    'sh',
    '-c',
    PRELUDE,
    'pcibot-sandbox',
    String(l.tmpBytes),
    opts.root,
    SANDBOX_ROOT,
    ...prlimit,
    ...drop,
    ...command,
  ];
}

export const SANDBOX_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin';

export interface SandboxSpawnOptions {
  /** Host path of the verify cache root, bind-mounted at SANDBOX_ROOT. */
  root: string;
  /** Working directory inside the sandbox (a SANDBOX_ROOT path). */
  cwd: string;
  /** The whole environment of the command (nothing is inherited). */
  env?: Record<string, string>;
  limits?: SandboxLimits;
  /** Pipe the command's stdin (for interactive commands such as QEMU's monitor); default ignored. */
  stdin?: boolean;
}

export interface SandboxedProcess {
  child: ChildProcess;
  /** The full argv started (unshare ... command). */
  argv: string[];
  /** Kills the sandbox's whole process group (its PID namespace dies with it). */
  kill(): void;
}

/**
 * The one way pcibot starts a process in the sandbox: runSandboxed() for
 * commands that run to completion, this for ones it talks to while they run
 * (QEMU's monitor in `scenario firmware-check`). The child leads its own
 * process group; kill() ends it and everything it started.
 */
export function spawnSandboxed(command: string[], opts: SandboxSpawnOptions): SandboxedProcess {
  const limits = opts.limits ?? BUILD_LIMITS;
  const argv = sandboxArgv(['env', '-C', opts.cwd, ...command], { root: opts.root, limits });
  const env = {
    PATH: SANDBOX_PATH,
    HOME: '/tmp',
    LC_ALL: 'C',
    LANG: 'C',
    TMPDIR: '/tmp',
    ...(opts.env ?? {}),
  };
  const child = spawn(argv[0]!, argv.slice(1), {
    env,
    detached: true,
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  const kill = () => {
    try {
      // Our child leads its own process group (detached); only it and its descendants.
      if (child.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  return { child, argv, kill };
}

/**
 * Runs a command in the sandbox and collects its output. Never rejects for a
 * failing command (see code/signal/timedOut); rejects only when the sandbox
 * itself cannot be started.
 */
export function runSandboxed(command: string[], opts: SandboxRunOptions): Promise<SandboxResult> {
  const maxOutput = opts.maxOutput ?? 4 * 2 ** 20;
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const { child, argv, kill: killGroup } = spawnSandboxed(command, opts);
    const out = { stdout: '', stderr: '' };
    const partial = { stdout: '', stderr: '' };
    let timedOut = false;
    const take = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      out[stream] += text;
      if (out[stream].length > maxOutput * 2) out[stream] = out[stream].slice(-maxOutput);
      if (opts.onLine) {
        const lines = (partial[stream] + text).split('\n');
        partial[stream] = lines.pop() ?? '';
        for (const line of lines) opts.onLine(line, stream);
      }
    };
    child.stdout!.on('data', take('stdout'));
    child.stderr!.on('data', take('stderr'));
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new SandboxError(`cannot start the sandbox (${argv[0]}): ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // Nothing to reap: the sandbox's PID namespace died with its init (--kill-child).
      for (const s of ['stdout', 'stderr'] as const) {
        if (opts.onLine && partial[s]) opts.onLine(partial[s], s);
        if (out[s].length > maxOutput) out[s] = out[s].slice(-maxOutput);
      }
      resolve({
        code,
        signal,
        timedOut,
        stdout: out.stdout,
        stderr: out.stderr,
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
      });
    });
  });
}

/**
 * Opens a file below `base` (a directory the sandbox user owns) without
 * following symlinks anywhere below `base`: the sandbox could have planted a
 * link to a host file for us (root) to read or overwrite. Call only when no
 * sandboxed process is running against `base`.
 */
function openBelow(base: string, rel: string, flags: number, mode?: number): number {
  const parts = rel.split('/').filter(Boolean);
  if (parts.some((p) => p === '..' || p === '.')) throw new SandboxError(`bad path ${rel}`);
  let dir = base;
  for (const p of parts.slice(0, -1)) {
    dir = join(dir, p);
    if (!lstatSync(dir).isDirectory()) throw new SandboxError(`${dir} is not a directory`);
  }
  return openSync(join(base, ...parts), flags | fsConstants.O_NOFOLLOW, mode);
}

export function readBelow(base: string, rel: string): Buffer {
  const fd = openBelow(base, rel, fsConstants.O_RDONLY);
  try {
    if (!fstatSync(fd).isFile()) throw new SandboxError(`${rel} in ${base} is not a regular file`);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function writeBelow(base: string, rel: string, data: string | Buffer): void {
  const fd = openBelow(
    base,
    rel,
    fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC,
    0o644,
  );
  try {
    if (!fstatSync(fd).isFile()) throw new SandboxError(`${rel} in ${base} is not a regular file`);
    writeFileSync(fd, data);
  } finally {
    closeSync(fd);
  }
}

export function existsBelow(base: string, rel: string): boolean {
  try {
    closeSync(openBelow(base, rel, fsConstants.O_RDONLY));
    return true;
  } catch {
    return false;
  }
}
