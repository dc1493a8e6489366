// The service's configuration: one JSON file (path from --config or
// PCIBOT_CONFIG) plus environment overrides for what differs per machine
// (Redis, SMTP, the kernel tree). Everything is validated up front and every
// error names the field it is about, so a typo fails at start, not at 3 a.m.
// Sending real mail is opt-in: without `mail.send: true` replies go to the
// outbox folder as .eml files.
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { qemuInstalled } from '../bot/verify/boot.js';

export const QUEUE_NAMES = [
  'follow',
  'ingest',
  'assemble',
  'apply',
  'analyse',
  'report',
  'send',
  'verify',
  'github',
  'github-report',
] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export interface RateLimit {
  /** At most this many mails ... */
  max: number;
  /** ... per this many seconds. */
  perSeconds: number;
}

export interface ListConfig {
  /** Short name, e.g. `linux-pci`: used in keys, logs and metrics. */
  name: string;
  /** The list's posting address, Cc'd on replies. */
  address: string;
  /**
   * The public-inbox v2 inbox to follow: an http(s) URL like
   * `https://lore.kernel.org/linux-pci` (epochs are `<url>/<N>`), or a local
   * inbox directory (with `git/<N>.git`). null: the list is only replied to.
   */
  mirror: string | null;
  /** Where the first fetch starts: `now` (only new mail) or `beginning` (the whole archive). */
  startFrom: 'now' | 'beginning';
  /**
   * The list's public archive, for links to a thread from the report page:
   * `<archive>/<message-id>/` (public-inbox, as lore). Default: `mirror` when
   * it is an http(s) URL; null: no link.
   */
  archive: string | null;
  reply: {
    /** Cc the list address on replies. */
    ccList: boolean;
    /** Cc the original mail's To and Cc recipients. */
    ccOriginal: boolean;
    /** Send an "all clear" line when a series has no findings. */
    allClear: boolean;
    /**
     * The least severe finding worth a mail on its own (default `warning`): a
     * series whose findings are all below it gets no reply. When a reply is
     * sent, the model's series-level findings (model/..., verify/...) go with
     * it whatever their severity; other findings below the threshold do not.
     */
    minSeverity: 'error' | 'warning' | 'info';
    /**
     * `series` (default): one reply per series, to the cover letter (or patch 1
     * without one), holding every patch's warnings and errors with their hunks
     * quoted. `patch`: one reply per patch with findings, under that patch.
     */
    mode: 'series' | 'patch';
    /** Never reply to a patch older than this (its Date), whatever the cursor says. */
    maxAgeDays: number;
    /** Answer the backfill (the archive as it was when following started from the beginning); default false: review only. */
    sendBackfill: boolean;
  };
  /** Replies on this list. */
  rateLimit: RateLimit;
}

export interface SpoolConfig {
  /** An mbox file (appended to by the MTA) or a Maildir. */
  path: string;
  kind: 'mbox' | 'maildir';
  /** Which list's reply settings apply to mail from this spool. */
  list: string;
}

export interface ServiceConfig {
  /** The file the config came from, or null when built from defaults. */
  source: string | null;
  /**
   * What must outlive Redis (the reply journal, the follow cursors), in
   * `<stateDir>/<redis.prefix>/`. Run the follow and send queues on the
   * machine that has it (or share it).
   */
  stateDir: string;
  redis: { url: string; prefix: string };
  tree: { path: string | null; branches: string[] };
  lists: ListConfig[];
  spools: SpoolConfig[];
  /** Where the lore mirrors are cloned (one directory per list). */
  mirrorsDir: string;
  mail: {
    from: { name: string; address: string };
    /** false (default): dry run, replies are written to `outbox`. */
    send: boolean;
    outbox: string;
    smtp: {
      host: string;
      port: number;
      secure: boolean;
      user: string | null;
      pass: string | null;
    } | null;
    /** Per recipient address, over all lists. */
    perRecipient: RateLimit;
    /** Shown in the signature (where to read about pcibot). */
    infoUrl: string | null;
    /**
     * A reply interrupted mid-send is looked up in the list archive once the
     * mirror was fetched this long after the send began: there, it went out;
     * absent, it is sent.
     */
    resolveGraceSec: number;
  };
  /** Addresses whose `pcibot:` commands are honoured (besides MAINTAINERS). */
  allowList: string[];
  /** Also allow the PCI/VFIO maintainers listed in the tree's MAINTAINERS. */
  maintainersFromTree: boolean;
  triggers: {
    /** Never honour a command older than this (its Date), whatever the cursor says. */
    maxAgeHours: number;
    /** Honour allow-listed senders only when the mail has a passing DKIM signature aligned with From. */
    requireDkim: boolean;
  };
  concurrency: Record<QueueName, number>;
  /** How long to wait for the missing parts of a series before reviewing what arrived. */
  completenessTimeoutSec: number;
  /** A mirror with no new commits for this long is reported as stalled. */
  stalledMirrorSec: number;
  /** How often each mirror/spool is polled. */
  pollIntervalSec: number;
  /** SIGTERM: how long running jobs get to finish before the worker exits anyway. */
  drainTimeoutSec: number;
  /** How long service state (messages, threads) is kept in Redis. */
  retentionDays: number;
  /**
   * A job's lock: a worker that dies (SIGKILL, power loss) holds its jobs this
   * long before another worker takes them over. Longer than any single job.
   */
  jobLockSec: number;
  http: {
    host: string;
    port: number;
    /**
     * The URL the report pages are reached at from outside (e.g.
     * `https://pcibot.example.org`): replies link to `<publicUrl>/series/<review>`.
     * null (default): no link.
     */
    publicUrl: string | null;
    /**
     * Serve /series and /scenarios without the dashboard's auth (default false:
     * when http.admin has a token or basic auth, the pages need it too).
     */
    pagesPublic: boolean;
    /**
     * The queue dashboard (/admin/queues): read-only unless `readOnly: false`;
     * behind a bearer token or basic auth when either is set. Without either it
     * is served on loopback only, and a non-loopback `host` is refused.
     */
    admin: {
      readOnly: boolean;
      token: string | null;
      basicAuth: { user: string; pass: string } | null;
    };
  };
  health: {
    /** /healthz fails after this many reviews in a row whose apply failed outright. */
    applyFailuresInRow: number;
  };
  /**
   * The verify stage in the service (slow: builds the patched kernel and boots
   * scenarios in QEMU). `auto` (the default when QEMU is installed, else off):
   * a series is booted only when the model needs it (bot/verify/when.ts); true:
   * every series that touches kernel policy. A series being verified waits for
   * it before its reply. Run it on dedicated workers with
   * `pcibot worker --queues verify`.
   */
  verify: { enabled: boolean | 'auto'; scenarios: string[] | null };
  /** The GitHub App (README, "GitHub"); off unless appId, the private key and the webhook secret are set. */
  github: GithubConfig;
}

export interface GithubConfig {
  /** appId, privateKey and webhookSecret are all set: /github/webhook is served and PRs reviewed. */
  enabled: boolean;
  appId: string | null;
  /** The App's private key (PEM), read from privateKeyFile (or $PCIBOT_GITHUB_PRIVATE_KEY_FILE). */
  privateKey: string | null;
  privateKeyFile: string | null;
  /** The webhook secret GitHub signs deliveries with (better: $PCIBOT_GITHUB_WEBHOOK_SECRET). */
  webhookSecret: string | null;
  /** The REST API's base URL (GitHub Enterprise: https://HOST/api/v3). */
  apiUrl: string;
  /** Draft PRs wait for ready_for_review (default true). */
  ignoreDrafts: boolean;
  /** Events and comments from bots are ignored (default true). */
  ignoreBots: boolean;
  /** A push is reviewed once no newer push came for this long (bursts review only the newest head). */
  debounceSec: number;
  /** The least severe finding the check run reports (default info: all). */
  minSeverity: 'error' | 'warning' | 'info';
  /** The least severe finding worth a line comment (default warning; the rest are annotations). */
  commentMinSeverity: 'error' | 'warning' | 'info';
  /** PRs with more commits are not reviewed (a neutral check says why). */
  maxCommits: number;
  /** Webhook bodies larger than this are refused with 413 (GitHub sends at most 25 MB). */
  maxWebhookBytes: number;
  /** Waits for a rate limit per request before it fails (then the job is retried with back-off). */
  rateLimitRetries: number;
  /** Retries of a 5xx answer or a lost connection per request, with back-off. */
  retries: number;
  /** One second of the API clients' waits, in ms (1000; tests shorten it). */
  retryAfterUnitMs: number;
  /** Time between two mutating requests (GitHub asks for one a second). */
  writeIntervalMs: number;
}

export class ConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
    readonly file: string | null = null,
  ) {
    super(`${file ? `${file}: ` : ''}${field}: ${message}`);
  }
}

const DEFAULT_CONCURRENCY: Record<QueueName, number> = {
  follow: 1,
  ingest: 8,
  assemble: 4,
  apply: 1,
  analyse: 2,
  report: 2,
  send: 1,
  // Kernel builds and QEMU boots: one at a time per worker (builds hold a lock anyway).
  verify: 1,
  github: 2,
  'github-report': 1,
};

type Json = unknown;

/** Reads typed values out of an untrusted object, naming the field on every error. */
class Reader {
  constructor(
    private readonly file: string | null,
    private readonly baseDir: string,
  ) {}

  fail(field: string, msg: string): never {
    throw new ConfigError(field, msg, this.file);
  }
  obj(v: Json, field: string): Record<string, Json> {
    if (v === undefined) return {};
    if (v === null || typeof v !== 'object' || Array.isArray(v))
      this.fail(field, `expected an object, got ${describe(v)}`);
    return v as Record<string, Json>;
  }
  known(o: Record<string, Json>, field: string, keys: string[]): void {
    // Keys starting with "$" are comments ("$comment", "$why", ...), anywhere.
    for (const k of Object.keys(o))
      if (!keys.includes(k) && !k.startsWith('$'))
        this.fail(field ? `${field}.${k}` : k, `unknown setting (known: ${keys.join(', ')})`);
  }
  str(v: Json, field: string, dflt?: string): string {
    if (v === undefined && dflt !== undefined) return dflt;
    if (typeof v !== 'string' || v === '')
      this.fail(field, `expected a non-empty string, got ${describe(v)}`);
    return v;
  }
  strOrNull(v: Json, field: string): string | null {
    if (v === undefined || v === null) return null;
    return this.str(v, field);
  }
  bool(v: Json, field: string, dflt: boolean): boolean {
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') this.fail(field, `expected true or false, got ${describe(v)}`);
    return v;
  }
  int(v: Json, field: string, dflt: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      this.fail(field, `expected an integer in ${min}..${max}, got ${describe(v)}`);
    return v;
  }
  path(v: Json, field: string, dflt?: string): string {
    const s = this.str(v, field, dflt);
    return isAbsolute(s) ? s : resolve(this.baseDir, s);
  }
  email(v: Json, field: string): string {
    const s = this.str(v, field);
    if (!/^[^\s@<>]+@[^\s@<>]+$/.test(s))
      this.fail(field, `not an e-mail address: ${JSON.stringify(s)}`);
    return s.toLowerCase();
  }
  rate(v: Json, field: string, dflt: RateLimit): RateLimit {
    const o = this.obj(v, field);
    this.known(o, field, ['max', 'perSeconds']);
    return {
      max: this.int(o.max, `${field}.max`, dflt.max, 0),
      perSeconds: this.int(o.perSeconds, `${field}.perSeconds`, dflt.perSeconds, 1),
    };
  }
}

/** An http(s) URL without a trailing slash, or null. */
function httpUrl(r: Reader, v: Json, field: string): string | null {
  const s = r.strOrNull(v, field);
  if (s === null) return null;
  if (!/^https?:\/\/[^\s"<>]+$/.test(s))
    r.fail(field, `expected an http(s) URL, got ${describe(s)}`);
  return s.replace(/\/+$/, '');
}

function describe(v: Json): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v);
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Validate a parsed config object. `file` is used in error messages and to resolve relative paths. */
export function validateConfig(
  input: Json,
  file: string | null = null,
  baseDir = process.cwd(),
  /** Whether QEMU is installed (the default of verify.enabled). */
  qemu: () => boolean = qemuInstalled,
): ServiceConfig {
  const r = new Reader(file, baseDir);
  const top = r.obj(input, '(top level)');
  r.known(top, '', [
    'stateDir',
    'triggers',
    'health',
    'redis',
    'tree',
    'lists',
    'spools',
    'mirrorsDir',
    'mail',
    'allowList',
    'maintainersFromTree',
    'concurrency',
    'completenessTimeoutSec',
    'stalledMirrorSec',
    'pollIntervalSec',
    'drainTimeoutSec',
    'retentionDays',
    'jobLockSec',
    'http',
    'verify',
    'github',
  ]);

  const redis = r.obj(top.redis, 'redis');
  r.known(redis, 'redis', ['url', 'prefix']);
  const redisUrl = r.str(redis.url, 'redis.url', 'redis://127.0.0.1:6379');
  if (!/^rediss?:\/\//.test(redisUrl))
    r.fail('redis.url', `expected redis://host:port[/db], got ${describe(redisUrl)}`);
  const prefix = r.str(redis.prefix, 'redis.prefix', 'pcibot');
  if (!/^[A-Za-z0-9_.-]+$/.test(prefix))
    r.fail('redis.prefix', 'only letters, digits, "_", "." and "-" (no ":")');

  const tree = r.obj(top.tree, 'tree');
  r.known(tree, 'tree', ['path', 'branches']);
  const branchesRaw: Json = tree.branches ?? [];
  if (!Array.isArray(branchesRaw)) r.fail('tree.branches', 'expected a list of branch names');
  const branches = (branchesRaw as Json[]).map((b, i) => r.str(b, `tree.branches[${i}]`));

  if (top.lists !== undefined && !Array.isArray(top.lists)) r.fail('lists', 'expected a list');
  const lists: ListConfig[] = ((top.lists as Json[] | undefined) ?? []).map((l, i) => {
    const f = `lists[${i}]`;
    const o = r.obj(l, f);
    r.known(o, f, ['name', 'address', 'mirror', 'startFrom', 'reply', 'rateLimit', 'archive']);
    const name = r.str(o.name, `${f}.name`);
    if (!/^[a-z0-9][a-z0-9_.-]*$/.test(name))
      r.fail(`${f}.name`, 'lower-case letters, digits, ".", "_", "-"');
    const mirror = r.strOrNull(o.mirror, `${f}.mirror`);
    const startFrom = r.str(o.startFrom, `${f}.startFrom`, 'now') as ListConfig['startFrom'];
    if (startFrom !== 'now' && startFrom !== 'beginning')
      r.fail(`${f}.startFrom`, 'expected "now" or "beginning"');
    const reply = r.obj(o.reply, `${f}.reply`);
    r.known(reply, `${f}.reply`, [
      'ccList',
      'ccOriginal',
      'allClear',
      'minSeverity',
      'mode',
      'maxAgeDays',
      'sendBackfill',
    ]);
    const minSeverity = r.str(reply.minSeverity, `${f}.reply.minSeverity`, 'warning');
    if (!SEVERITIES.includes(minSeverity))
      r.fail(`${f}.reply.minSeverity`, 'expected "error", "warning" or "info"');
    const mode = r.str(reply.mode, `${f}.reply.mode`, 'series');
    if (mode !== 'series' && mode !== 'patch')
      r.fail(`${f}.reply.mode`, 'expected "series" or "patch"');
    return {
      name,
      address: r.email(o.address, `${f}.address`),
      mirror:
        mirror === null || /^https?:\/\//.test(mirror) ? mirror : r.path(mirror, `${f}.mirror`),
      startFrom,
      archive:
        o.archive === undefined
          ? mirror !== null && /^https?:\/\//.test(mirror)
            ? mirror
            : null
          : httpUrl(r, o.archive, `${f}.archive`),
      reply: {
        ccList: r.bool(reply.ccList, `${f}.reply.ccList`, true),
        ccOriginal: r.bool(reply.ccOriginal, `${f}.reply.ccOriginal`, true),
        allClear: r.bool(reply.allClear, `${f}.reply.allClear`, false),
        minSeverity: minSeverity as ListConfig['reply']['minSeverity'],
        mode: mode as ListConfig['reply']['mode'],
        maxAgeDays: r.int(reply.maxAgeDays, `${f}.reply.maxAgeDays`, 14, 0, 3650),
        sendBackfill: r.bool(reply.sendBackfill, `${f}.reply.sendBackfill`, false),
      },
      rateLimit: r.rate(o.rateLimit, `${f}.rateLimit`, { max: 30, perSeconds: 3600 }),
    };
  });
  const names = new Set<string>();
  lists.forEach((l, i) => {
    if (names.has(l.name)) r.fail(`lists[${i}].name`, `duplicate list name "${l.name}"`);
    names.add(l.name);
  });

  if (top.spools !== undefined && !Array.isArray(top.spools)) r.fail('spools', 'expected a list');
  const spools: SpoolConfig[] = ((top.spools as Json[] | undefined) ?? []).map((s, i) => {
    const f = `spools[${i}]`;
    const o = r.obj(s, f);
    r.known(o, f, ['path', 'kind', 'list']);
    const kind = r.str(o.kind, `${f}.kind`) as SpoolConfig['kind'];
    if (kind !== 'mbox' && kind !== 'maildir') r.fail(`${f}.kind`, 'expected "mbox" or "maildir"');
    const list = r.str(o.list, `${f}.list`);
    if (!names.has(list)) r.fail(`${f}.list`, `no list named "${list}" in lists`);
    return { path: r.path(o.path, `${f}.path`), kind, list };
  });

  const mail = r.obj(top.mail, 'mail');
  r.known(mail, 'mail', [
    'from',
    'fromName',
    'send',
    'outbox',
    'smtp',
    'perRecipient',
    'infoUrl',
    'resolveGraceSec',
  ]);
  const smtpRaw = mail.smtp;
  let smtp: ServiceConfig['mail']['smtp'] = null;
  if (smtpRaw !== undefined && smtpRaw !== null) {
    const s = r.obj(smtpRaw, 'mail.smtp');
    r.known(s, 'mail.smtp', ['host', 'port', 'secure', 'user', 'pass']);
    smtp = {
      host: r.str(s.host, 'mail.smtp.host'),
      port: r.int(s.port, 'mail.smtp.port', 25, 1, 65535),
      secure: r.bool(s.secure, 'mail.smtp.secure', false),
      user: r.strOrNull(s.user, 'mail.smtp.user'),
      pass: r.strOrNull(s.pass, 'mail.smtp.pass'),
    };
  }
  const send = r.bool(mail.send, 'mail.send', false);

  if (top.allowList !== undefined && !Array.isArray(top.allowList))
    r.fail('allowList', 'expected a list of e-mail addresses');
  const allowList = ((top.allowList as Json[] | undefined) ?? []).map((a, i) =>
    r.email(a, `allowList[${i}]`),
  );

  const conc = r.obj(top.concurrency, 'concurrency');
  r.known(conc, 'concurrency', [...QUEUE_NAMES]);
  const concurrency = { ...DEFAULT_CONCURRENCY };
  for (const q of QUEUE_NAMES)
    concurrency[q] = r.int(conc[q], `concurrency.${q}`, DEFAULT_CONCURRENCY[q], 1, 256);

  const http = r.obj(top.http, 'http');
  r.known(http, 'http', ['host', 'port', 'publicUrl', 'pagesPublic', 'admin']);
  const admin = r.obj(http.admin, 'http.admin');
  r.known(admin, 'http.admin', ['readOnly', 'token', 'basicAuth']);
  let basicAuth: ServiceConfig['http']['admin']['basicAuth'] = null;
  if (admin.basicAuth !== undefined && admin.basicAuth !== null) {
    const b = r.obj(admin.basicAuth, 'http.admin.basicAuth');
    r.known(b, 'http.admin.basicAuth', ['user', 'pass']);
    basicAuth = {
      user: r.str(b.user, 'http.admin.basicAuth.user'),
      pass: r.str(b.pass, 'http.admin.basicAuth.pass'),
    };
    if (basicAuth.user.includes(':'))
      r.fail('http.admin.basicAuth.user', 'may not contain ":" (basic auth splits on it)');
    // Near the token's bar (16): a short password is hardly a lock.
    if (basicAuth.pass.length < 12)
      r.fail('http.admin.basicAuth.pass', 'too short: use at least 12 characters');
  }
  const token = r.strOrNull(admin.token, 'http.admin.token');
  if (token !== null && token.length < 16)
    r.fail('http.admin.token', 'too short: use at least 16 characters (e.g. openssl rand -hex 16)');

  const triggers = r.obj(top.triggers, 'triggers');
  r.known(triggers, 'triggers', ['maxAgeHours', 'requireDkim']);
  const health = r.obj(top.health, 'health');
  r.known(health, 'health', ['applyFailuresInRow']);

  const verify = r.obj(top.verify, 'verify');
  r.known(verify, 'verify', ['enabled', 'scenarios']);
  if (
    verify.scenarios !== undefined &&
    verify.scenarios !== null &&
    !Array.isArray(verify.scenarios)
  )
    r.fail('verify.scenarios', 'expected a list of scenario names');
  const verifyScenarios = Array.isArray(verify.scenarios)
    ? (verify.scenarios as Json[]).map((x, i) => r.str(x, `verify.scenarios[${i}]`))
    : null;

  const github = githubConfig(r, top.github);

  const cfg: ServiceConfig = {
    source: file,
    github,
    stateDir: r.path(top.stateDir, 'stateDir', 'state'),
    redis: { url: redisUrl, prefix },
    tree: {
      path: tree.path === undefined || tree.path === null ? null : r.path(tree.path, 'tree.path'),
      branches,
    },
    lists,
    spools,
    mirrorsDir: r.path(top.mirrorsDir, 'mirrorsDir', 'mirrors'),
    mail: {
      from: {
        name: r.str(mail.fromName, 'mail.fromName', 'pcibot'),
        address: r.email(mail.from ?? 'pcibot@localhost', 'mail.from'),
      },
      send,
      outbox: r.path(mail.outbox, 'mail.outbox', 'outbox'),
      smtp,
      perRecipient: r.rate(mail.perRecipient, 'mail.perRecipient', { max: 20, perSeconds: 3600 }),
      infoUrl: r.strOrNull(mail.infoUrl, 'mail.infoUrl'),
      resolveGraceSec: r.int(mail.resolveGraceSec, 'mail.resolveGraceSec', 600, 0, 7 * 86400),
    },
    allowList,
    maintainersFromTree: r.bool(top.maintainersFromTree, 'maintainersFromTree', true),
    triggers: {
      maxAgeHours: r.int(triggers.maxAgeHours, 'triggers.maxAgeHours', 48, 0, 24 * 3650),
      requireDkim: r.bool(triggers.requireDkim, 'triggers.requireDkim', false),
    },
    health: {
      applyFailuresInRow: r.int(health.applyFailuresInRow, 'health.applyFailuresInRow', 5, 1),
    },
    concurrency,
    completenessTimeoutSec: r.int(
      top.completenessTimeoutSec,
      'completenessTimeoutSec',
      6 * 3600,
      0,
    ),
    stalledMirrorSec: r.int(top.stalledMirrorSec, 'stalledMirrorSec', 6 * 3600, 1),
    pollIntervalSec: r.int(top.pollIntervalSec, 'pollIntervalSec', 120, 1),
    drainTimeoutSec: r.int(top.drainTimeoutSec, 'drainTimeoutSec', 30, 1, 3600),
    retentionDays: r.int(top.retentionDays, 'retentionDays', 60, 1),
    jobLockSec: r.int(top.jobLockSec, 'jobLockSec', 120, 1, 3600),
    verify: {
      enabled:
        verify.enabled === 'auto' || (verify.enabled === undefined && qemu())
          ? 'auto'
          : typeof verify.enabled === 'string'
            ? r.fail('verify.enabled', 'expected true, false or "auto"')
            : r.bool(verify.enabled, 'verify.enabled', false),
      scenarios: verifyScenarios,
    },
    http: {
      host: r.str(http.host, 'http.host', '127.0.0.1'),
      port: r.int(http.port, 'http.port', 8080, 0, 65535),
      publicUrl: httpUrl(r, http.publicUrl, 'http.publicUrl'),
      pagesPublic: r.bool(http.pagesPublic, 'http.pagesPublic', false),
      admin: {
        readOnly: r.bool(admin.readOnly, 'http.admin.readOnly', true),
        token,
        basicAuth,
      },
    },
  };
  if (cfg.mail.send && !cfg.mail.smtp)
    r.fail('mail.smtp', 'mail.send is true but no SMTP server is configured');
  return cfg;
}

const SEVERITIES = ['error', 'warning', 'info'];

function githubConfig(r: Reader, v: Json): GithubConfig {
  const g = r.obj(v, 'github');
  r.known(g, 'github', [
    'appId',
    'privateKeyFile',
    'webhookSecret',
    'apiUrl',
    'ignoreDrafts',
    'ignoreBots',
    'debounceSec',
    'minSeverity',
    'commentMinSeverity',
    'maxCommits',
    'maxWebhookBytes',
    'rateLimitRetries',
    'retries',
    'retryAfterUnitMs',
    'writeIntervalMs',
  ]);
  const appIdRaw: Json = typeof g.appId === 'number' ? String(g.appId) : g.appId;
  const appId = r.strOrNull(appIdRaw, 'github.appId');
  if (appId !== null && !/^\d+$/.test(appId)) r.fail('github.appId', 'expected the numeric App ID');
  const privateKeyFile =
    g.privateKeyFile === undefined || g.privateKeyFile === null
      ? null
      : r.path(g.privateKeyFile, 'github.privateKeyFile');
  let privateKey: string | null = null;
  if (privateKeyFile) {
    try {
      privateKey = readFileSync(privateKeyFile, 'utf8');
    } catch (err) {
      r.fail('github.privateKeyFile', `cannot read it: ${(err as Error).message}`);
    }
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(privateKey))
      r.fail(
        'github.privateKeyFile',
        'not a PEM private key (the .pem file GitHub gave for the App)',
      );
  }
  const webhookSecret = r.strOrNull(g.webhookSecret, 'github.webhookSecret');
  const sev = (x: Json, f: string, d: string) => {
    const s = r.str(x, f, d);
    if (!SEVERITIES.includes(s)) r.fail(f, 'expected "error", "warning" or "info"');
    return s as GithubConfig['minSeverity'];
  };
  const set = [appId, privateKey, webhookSecret].filter((x) => x !== null).length;
  if (set > 0 && set < 3)
    r.fail(
      'github',
      'appId, privateKeyFile and webhookSecret go together (all three, or none to leave GitHub off)',
    );
  return {
    enabled: set === 3,
    appId,
    privateKey,
    privateKeyFile,
    webhookSecret,
    apiUrl: httpUrl(r, g.apiUrl, 'github.apiUrl') ?? 'https://api.github.com',
    ignoreDrafts: r.bool(g.ignoreDrafts, 'github.ignoreDrafts', true),
    ignoreBots: r.bool(g.ignoreBots, 'github.ignoreBots', true),
    debounceSec: r.int(g.debounceSec, 'github.debounceSec', 30, 0, 3600),
    minSeverity: sev(g.minSeverity, 'github.minSeverity', 'info'),
    commentMinSeverity: sev(g.commentMinSeverity, 'github.commentMinSeverity', 'warning'),
    maxCommits: r.int(g.maxCommits, 'github.maxCommits', 100, 1, 250),
    maxWebhookBytes: r.int(g.maxWebhookBytes, 'github.maxWebhookBytes', 25 * 1024 * 1024, 1024),
    rateLimitRetries: r.int(g.rateLimitRetries, 'github.rateLimitRetries', 3, 0, 20),
    retries: r.int(g.retries, 'github.retries', 3, 0, 20),
    retryAfterUnitMs: r.int(g.retryAfterUnitMs, 'github.retryAfterUnitMs', 1000, 1, 1000),
    writeIntervalMs: r.int(g.writeIntervalMs, 'github.writeIntervalMs', 1000, 0, 60_000),
  };
}

/**
 * Environment overrides, applied to the raw JSON before validation so they are
 * validated (and named in errors) like the file's own settings.
 */
export const ENV_OVERRIDES: Record<string, { path: string[]; type: 'string' | 'int' | 'bool' }> = {
  PCIBOT_REDIS_URL: { path: ['redis', 'url'], type: 'string' },
  PCIBOT_REDIS_PREFIX: { path: ['redis', 'prefix'], type: 'string' },
  PCIBOT_STATE_DIR: { path: ['stateDir'], type: 'string' },
  PCIBOT_ADMIN_TOKEN: { path: ['http', 'admin', 'token'], type: 'string' },
  PCIBOT_TREE: { path: ['tree', 'path'], type: 'string' },
  PCIBOT_MIRRORS_DIR: { path: ['mirrorsDir'], type: 'string' },
  PCIBOT_MAIL_FROM: { path: ['mail', 'from'], type: 'string' },
  PCIBOT_MAIL_SEND: { path: ['mail', 'send'], type: 'bool' },
  PCIBOT_OUTBOX: { path: ['mail', 'outbox'], type: 'string' },
  PCIBOT_SMTP_HOST: { path: ['mail', 'smtp', 'host'], type: 'string' },
  PCIBOT_SMTP_PORT: { path: ['mail', 'smtp', 'port'], type: 'int' },
  PCIBOT_SMTP_USER: { path: ['mail', 'smtp', 'user'], type: 'string' },
  PCIBOT_SMTP_PASS: { path: ['mail', 'smtp', 'pass'], type: 'string' },
  PCIBOT_HTTP_PORT: { path: ['http', 'port'], type: 'int' },
  PCIBOT_PUBLIC_URL: { path: ['http', 'publicUrl'], type: 'string' },
  PCIBOT_HTTP_HOST: { path: ['http', 'host'], type: 'string' },
  PCIBOT_JOB_LOCK_SEC: { path: ['jobLockSec'], type: 'int' },
  PCIBOT_POLL_SEC: { path: ['pollIntervalSec'], type: 'int' },
  PCIBOT_GITHUB_APP_ID: { path: ['github', 'appId'], type: 'string' },
  PCIBOT_GITHUB_PRIVATE_KEY_FILE: { path: ['github', 'privateKeyFile'], type: 'string' },
  PCIBOT_GITHUB_WEBHOOK_SECRET: { path: ['github', 'webhookSecret'], type: 'string' },
  PCIBOT_GITHUB_API_URL: { path: ['github', 'apiUrl'], type: 'string' },
};

function applyEnv(raw: Record<string, Json>, env: NodeJS.ProcessEnv): void {
  for (const [name, { path, type }] of Object.entries(ENV_OVERRIDES)) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    let value: Json = v;
    if (type === 'int') {
      if (!/^\d+$/.test(v))
        throw new ConfigError(name, `expected an integer, got ${JSON.stringify(v)}`);
      value = Number(v);
    } else if (type === 'bool') {
      if (!/^(1|0|true|false|yes|no)$/i.test(v))
        throw new ConfigError(name, `expected 1/0/true/false, got ${JSON.stringify(v)}`);
      value = /^(1|true|yes)$/i.test(v);
    }
    let o = raw;
    for (const k of path.slice(0, -1)) {
      const next = o[k];
      if (next === undefined || next === null) o[k] = {};
      else if (typeof next !== 'object' || Array.isArray(next))
        throw new ConfigError(
          name,
          `cannot override ${path.join('.')}: ${k} is not an object in the file`,
        );
      o = o[k] as Record<string, Json>;
    }
    o[path[path.length - 1]!] = value;
  }
}

/**
 * Load the config: `path` (else $PCIBOT_CONFIG, else built-in defaults), then
 * the PCIBOT_* environment overrides, then validation.
 */
export function loadConfig(
  opts: { path?: string | null; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): ServiceConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const file = opts.path ?? env.PCIBOT_CONFIG ?? null;
  let raw: Json = {};
  let baseDir = cwd;
  if (file) {
    const abs = resolve(cwd, file);
    let text: string;
    try {
      text = readFileSync(abs, 'utf8');
    } catch (err) {
      throw new ConfigError('(file)', `cannot read the config: ${(err as Error).message}`, abs);
    }
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ConfigError('(file)', `not valid JSON: ${(err as Error).message}`, abs);
    }
    baseDir = resolve(abs, '..');
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      throw new ConfigError('(top level)', 'expected a JSON object', abs);
    applyEnv(raw as Record<string, Json>, env);
    return validateConfig(raw, abs, baseDir);
  }
  applyEnv(raw as Record<string, Json>, env);
  return validateConfig(raw, null, baseDir);
}

/** The directory of what must outlive Redis for this deployment: `<stateDir>/<redis.prefix>`. */
export const stateRoot = (c: Pick<ServiceConfig, 'stateDir' | 'redis'>): string =>
  resolve(c.stateDir, c.redis.prefix);

/** Whether an address is one of the configured lists' posting addresses. */
export const isListAddress = (c: Pick<ServiceConfig, 'lists'>, address: string): boolean =>
  c.lists.some((l) => l.address === address.toLowerCase());
