// `pcibot serve`'s HTTP side: /healthz (JSON; 503 when something is wrong),
// /metrics (Prometheus text) and the bull-board queue dashboard at
// /admin/queues. The dashboard is read-only unless http.admin.readOnly is
// false (then only requests other than GET/HEAD change anything, and they
// are refused in read-only mode before bull-board sees them), and it is
// behind the bearer token or basic auth of http.admin when one is set.
// Without either, the dashboard is for loopback only: binding to another
// address without auth is refused at start (AdminExposedError). Its pages
// may load from this server only (DASHBOARD_CSP): bull-board's page asks for
// Google Fonts, and nothing pcibot serves loads anything from the internet.
import { timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:http';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Redis } from 'ioredis';
import type { ServiceQueues } from '../queues.js';
import type { ServiceConfig } from '../config.js';
import { githubWebhookRouter } from './github.js';
import { checkHealth, metricsText } from './health.js';
import { pagesRouter } from './pages.js';

export interface HttpHandle {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export class AdminExposedError extends Error {}

/**
 * The dashboard's Content-Security-Policy: its own scripts, styles and API
 * from this server, nothing from another origin (bull-board's page links a
 * stylesheet on fonts.googleapis.com; the browser skips it, the system fonts
 * are used).
 */
export const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/** Whether a listen address stays on this machine. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

const same = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** The credentials check of /admin (null: no auth configured). */
export function adminAuth(admin: ServiceConfig['http']['admin']) {
  if (!admin.token && !admin.basicAuth) return null;
  return (req: Request, res: Response, next: NextFunction) => {
    const h = req.headers.authorization ?? '';
    const bearer = /^Bearer\s+(\S+)$/i.exec(h);
    if (admin.token && bearer && same(bearer[1]!, admin.token)) return next();
    const basic = /^Basic\s+(\S+)$/i.exec(h);
    if (admin.basicAuth && basic) {
      const [user, ...rest] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':');
      if (same(user ?? '', admin.basicAuth.user) && same(rest.join(':'), admin.basicAuth.pass))
        return next();
    }
    if (admin.basicAuth) res.setHeader('WWW-Authenticate', 'Basic realm="pcibot admin"');
    res.status(401).type('text/plain').send('pcibot admin: credentials required\n');
  };
}

export async function startHttp(
  config: ServiceConfig,
  redis: Redis,
  queues: ServiceQueues,
  opts: { host?: string; port?: number; log?: (line: string) => void } = {},
): Promise<HttpHandle> {
  const host = opts.host ?? config.http.host;
  const port = opts.port ?? config.http.port;
  const { admin } = config.http;
  const auth = adminAuth(admin);
  if (!auth && !isLoopback(host))
    throw new AdminExposedError(
      `http.host is ${host}, beyond loopback, but the queue dashboard has no authentication: set http.admin.token (or PCIBOT_ADMIN_TOKEN) or http.admin.basicAuth, or bind to 127.0.0.1`,
    );
  const app = express();
  app.disable('x-powered-by');
  // GitHub's deliveries authenticate by signature (github.ts), never by the dashboard's auth.
  app.use(githubWebhookRouter({ config, redis, queues, ...(opts.log ? { log: opts.log } : {}) }));
  const board = new ExpressAdapter();
  board.setBasePath('/admin/queues');
  createBullBoard({
    queues: Object.values(queues.queues).map(
      (q) => new BullMQAdapter(q, { readOnlyMode: admin.readOnly }),
    ),
    serverAdapter: board,
  });
  if (auth) app.use('/admin', auth);
  if (admin.readOnly)
    app.use('/admin', (req, res, next) => {
      if (req.method === 'GET' || req.method === 'HEAD') return next();
      res.status(405).type('text/plain').send('pcibot admin is read-only (http.admin.readOnly)\n');
    });
  app.use('/admin/queues', (_req, res, next) => {
    res.set('Content-Security-Policy', DASHBOARD_CSP);
    next();
  });
  app.use('/admin/queues', board.getRouter());
  app.get('/healthz', async (_req, res) => {
    try {
      const h = await checkHealth(config, redis, queues);
      res.status(h.ok ? 200 : 503).json(h);
    } catch (err) {
      res.status(503).json({ ok: false, problems: [(err as Error).message] });
    }
  });
  app.get('/metrics', async (_req, res) => {
    try {
      res
        .type('text/plain; version=0.0.4')
        .send(metricsText(await checkHealth(config, redis, queues)));
    } catch (err) {
      res
        .status(503)
        .type('text/plain')
        .send(`# error: ${(err as Error).message}\n`);
    }
  });
  // The report pages (/series, /scenarios; pages.ts) are read-only and show only what
  // the lists already carry (patches and what pcibot said of them), but a deployment
  // may review private trees: the dashboard's auth guards them too, unless the
  // operator makes them public (http.pagesPublic) for readers following a reply's link.
  if (auth && !config.http.pagesPublic) app.use(['/series', '/scenarios'], auth);
  app.use(pagesRouter({ config, redis }));
  app.get('/', (_req, res) => {
    res.type('text/plain').send('pcibot: /healthz /metrics /admin/queues /series /scenarios\n');
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(s)));
    s.on('error', reject);
  });
  const addr = server.address();
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${typeof addr === 'object' && addr ? addr.port : port}`;
  return {
    server,
    url,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
