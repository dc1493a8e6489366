// `pcibot serve`: the HTTP side of the service (health, metrics, queue dashboard, report pages).
import { adminAuth, isLoopback, startHttp } from '../serve/http.js';
import { StartError, startService, untilSignal } from './start-service.js';
import { ServiceQueues } from '../queues.js';
import { type Command } from './command.js';
import { EXIT_CONFIG, EXIT_OK } from '../../bot/util/exit.js';

const usage = `usage: pcibot serve [--config FILE]

Serves, on http.host:http.port of the config (default 127.0.0.1:8080):
  /healthz        JSON: Redis, queue depths, lists not fetched within three
                  poll intervals, stalled mirrors, the kernel tree and applies
                  failing in a row, replies interrupted mid-send that the
                  archive has not settled (503 when anything is wrong)
  /metrics        the same in Prometheus text format
  /admin/queues   bull-board dashboard of the queues: read-only unless
                  http.admin.readOnly is false; behind http.admin.token
                  (Authorization: Bearer) or http.admin.basicAuth when set;
                  without either, serve refuses to bind beyond loopback
  /series         the reviews; /series/<review> one review's page (findings,
                  apply status, the model's table, the BAR address maps
                  before and after, verify); /series/<review>.json its result
  /scenarios      the scenario library, each address map at each page size
                  (the pages are behind the dashboard's auth when one is set,
                  unless http.pagesPublic is true)
  /github/webhook GitHub's deliveries for the GitHub App (when github.appId,
                  privateKeyFile and webhookSecret are set): checked by their
                  signature, never by the dashboard's auth (README, "GitHub")
Replies link to <http.publicUrl>/series/<review> when http.publicUrl is set.

  -c, --config FILE   service config (JSON); default $PCIBOT_CONFIG
Needs Redis; fails at once with how to start one when it is not reachable.`;

const command: Command = {
  name: 'serve',
  summary: 'HTTP health, metrics, queue dashboard and report pages of the service; needs Redis',
  usage,
  async run(argv, io) {
    const started = await startService('serve', argv, io, {}, async (config) => {
      if (!adminAuth(config.http.admin) && !isLoopback(config.http.host))
        throw new StartError(
          `http.host is ${config.http.host}, beyond loopback, but /admin/queues has no authentication: set http.admin.token (or PCIBOT_ADMIN_TOKEN) or http.admin.basicAuth, or bind to 127.0.0.1`,
          EXIT_CONFIG,
        );
    });
    if (typeof started === 'number') return started;
    const { config, redis } = started;
    const queues = new ServiceQueues(redis, config.redis.prefix);
    let http;
    try {
      http = await startHttp(config, redis, queues);
    } catch (err) {
      await queues.close();
      redis.disconnect();
      throw err;
    }
    io.stderr(
      `[pcibot serve] listening on ${http.url} (/healthz, /metrics, /admin/queues, /series, /scenarios${config.github.enabled ? ', /github/webhook' : ''})\n`,
    );
    await untilSignal();
    await http.close();
    await queues.close();
    redis.disconnect();
    return EXIT_OK;
  },
};
export default command;
