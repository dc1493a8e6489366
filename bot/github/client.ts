// The GitHub API clients: octokit's Octokit (REST, pagination, and its retry
// and throttling plugins) and octokit's App (a JWT from the app id and private
// key, exchanged for installation tokens that @octokit/auth-app caches until
// they expire). No HTTP, JWT or HMAC code of our own.
//
// Limits, as GitHub asks: a secondary rate limit (403/429 saying so) waits its
// Retry-After, a primary one (x-ratelimit-remaining: 0) waits for
// x-ratelimit-reset, each up to `rateLimitRetries` times per request; 5xx and
// network errors are retried with octokit's quadratic back-off (`retries`
// times); other errors are the caller's. Mutating requests are spaced
// `writeIntervalMs` apart (GitHub's advice: one a second). Everything that
// happens is told to `events` (the service counts it for /healthz and
// /metrics).
import Bottleneck from 'bottleneck';
import { App, Octokit, RequestError } from 'octokit';

export { RequestError };
export type { Octokit };

/** What the clients tell their user, for health and metrics. */
export interface ApiEvents {
  /** A request answered (any status below 400), with the rate-limit headers when present. */
  ok?(info: { remaining: number | null; reset: number | null }): void;
  /** A rate limit was hit: `kind` primary or secondary, the wait in seconds, and whether it is retried. */
  rateLimited?(info: {
    kind: 'primary' | 'secondary';
    retryAfterSec: number;
    retry: boolean;
    route: string;
  }): void;
  /** A request failed for good (after the retries), with its status (0: no answer). */
  failed?(info: { status: number; route: string; message: string }): void;
}

export interface ClientOptions {
  /** The API's base URL (default https://api.github.com; GitHub Enterprise: https://HOST/api/v3). */
  baseUrl?: string;
  /** Waits for a rate limit per request before the request fails (default 3). */
  rateLimitRetries?: number;
  /** Retries of a 5xx or a lost connection (default 3). */
  retries?: number;
  /** One second in octokit's waits, in ms (default 1000; tests make it shorter). */
  retryAfterUnitMs?: number;
  /** Time between two mutating requests (default 1000, GitHub's advice). */
  writeIntervalMs?: number;
  events?: ApiEvents;
  /** Where octokit's own warnings go (default: nowhere; quiet by default). */
  log?: (line: string) => void;
  userAgent?: string;
}

const header = (h: Record<string, unknown> | undefined, name: string): number | null => {
  const v = h?.[name];
  const n = typeof v === 'string' || typeof v === 'number' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
};

/** An Octokit class with pcibot's throttling, retry, logging and event hooks. */
export function octokitClass(opts: ClientOptions = {}): typeof Octokit {
  const unit = opts.retryAfterUnitMs ?? 1000;
  const limit = opts.rateLimitRetries ?? 3;
  const ev = opts.events ?? {};
  const log = opts.log ?? (() => {});
  const writes = new Bottleneck.Group({ maxConcurrent: 1, minTime: opts.writeIntervalMs ?? 1000 });
  const route = (o: { method?: string; url?: string }) => `${o.method ?? 'GET'} ${o.url ?? '?'}`;
  const onLimit =
    (kind: 'primary' | 'secondary') =>
    (
      retryAfter: number,
      options: { method?: string; url?: string; request: { retryCount: number } },
    ) => {
      const retry = options.request.retryCount < limit;
      ev.rateLimited?.({ kind, retryAfterSec: retryAfter, retry, route: route(options) });
      log(
        `GitHub ${kind} rate limit on ${route(options)}: ${retry ? `retrying after ${retryAfter} s` : 'giving up'}`,
      );
      return retry;
    };
  return Octokit.defaults({
    ...(opts.baseUrl ? { baseUrl: opts.baseUrl.replace(/\/+$/, '') } : {}),
    userAgent: opts.userAgent ?? 'pcibot',
    throttle: {
      onRateLimit: onLimit('primary'),
      onSecondaryRateLimit: onLimit('secondary'),
      retryAfterBaseValue: unit,
      write: writes,
    },
    // 403 and 429 are the throttling plugin's (it honours Retry-After and the reset time).
    retry: {
      retries: opts.retries ?? 3,
      retryAfterBaseValue: unit,
      doNotRetry: [400, 401, 403, 404, 410, 422, 429, 451],
    },
    log: {
      debug: () => {},
      info: () => {},
      warn: (m: string) => log(`octokit: ${m}`),
      error: (m: string) => log(`octokit: ${m}`),
    },
  }) as typeof Octokit;
}

/** Hook the events onto one client: answers and failures after the retries. */
function instrument(o: Octokit, ev: ApiEvents): Octokit {
  o.hook.after('request', (res) => {
    const h = res.headers as Record<string, unknown>;
    ev.ok?.({
      remaining: header(h, 'x-ratelimit-remaining'),
      reset: header(h, 'x-ratelimit-reset'),
    });
  });
  o.hook.error('request', (err, options) => {
    const status = err instanceof RequestError ? err.status : 0;
    ev.failed?.({
      status,
      route: `${options.method} ${options.url}`,
      message: (err as Error).message,
    });
    throw err;
  });
  return o;
}

/** A client with a token (a personal or installation token; `pcibot review --github`). */
export function tokenClient(token: string | null, opts: ClientOptions = {}): Octokit {
  const C = octokitClass(opts);
  return instrument(new C(token ? { auth: token } : {}), opts.events ?? {});
}

/**
 * The GitHub App: installation clients by installation id. The installation
 * token is made once and reused until it expires (@octokit/auth-app's cache).
 */
export class GithubApp {
  private readonly app: App;
  private readonly events: ApiEvents;
  private readonly clients = new Map<number, Promise<Octokit>>();
  private login: Promise<string> | null = null;

  constructor(opts: ClientOptions & { appId: string | number; privateKey: string }) {
    this.events = opts.events ?? {};
    this.app = new App({
      appId: opts.appId,
      privateKey: opts.privateKey,
      Octokit: octokitClass(opts),
    });
  }

  /** The client of one installation (one per id, kept: its auth caches the token). */
  installation(id: number): Promise<Octokit> {
    let c = this.clients.get(id);
    if (!c) {
      c = this.app.getInstallationOctokit(id).then((o) => instrument(o, this.events));
      c.catch(() => this.clients.delete(id));
      this.clients.set(id, c);
    }
    return c;
  }

  /**
   * The App's own login, "<slug>[bot]" (GET /app, once): pcibot's earlier
   * comments are the ones by this login with a marker, never another bot's
   * that copied one.
   */
  botLogin(): Promise<string> {
    if (!this.login) {
      const login = this.app.octokit.request('GET /app').then(({ data }) => {
        if (!data?.slug) throw new Error("GET /app answered without the App's slug");
        return `${data.slug}[bot]`;
      });
      login.catch(() => {
        if (this.login === login) this.login = null;
      });
      this.login = login;
    }
    return this.login;
  }
}
