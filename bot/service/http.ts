// `pcibot serve`'s HTTP side: /healthz (JSON; 503 when something is wrong),
// /metrics (Prometheus text) and the bull-board queue dashboard at
// /admin/queues. Binds to loopback by default: the dashboard can retry and
// delete jobs, so put authentication in front of it before exposing it.
import type { Server } from 'node:http';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express from 'express';
import type { Redis } from 'ioredis';
import type { ServiceQueues } from '../../workers/queues.js';
import type { ServiceConfig } from '../../workers/config.js';
import { checkHealth, metricsText } from './health.js';
import { pagesRouter } from './pages.js';

export interface HttpHandle {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function startHttp(
  config: ServiceConfig,
  redis: Redis,
  queues: ServiceQueues,
  opts: { host?: string; port?: number } = {},
): Promise<HttpHandle> {
  const app = express();
  const board = new ExpressAdapter();
  board.setBasePath('/admin/queues');
  createBullBoard({
    queues: Object.values(queues.queues).map((q) => new BullMQAdapter(q)),
    serverAdapter: board,
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
  // The report pages (/series, /scenarios; pages.ts): what guards /admin must guard them.
  app.use(pagesRouter({ config, redis }));
  app.get('/', (_req, res) => {
    res.type('text/plain').send('pcibot: /healthz /metrics /admin/queues\n');
  });
  const host = opts.host ?? config.http.host;
  const port = opts.port ?? config.http.port;
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(s)));
    s.on('error', reject);
  });
  const addr = server.address();
  const url = `http://${host}:${typeof addr === 'object' && addr ? addr.port : port}`;
  return {
    server,
    url,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
