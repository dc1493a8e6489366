// `pcibot serve`: the HTTP side of the service (health, metrics, queue dashboard, report pages).
import { startHttp } from '../service/http.js';
import { startService, untilSignal } from './start-service.js';
import { ServiceQueues } from '../../workers/queues.js';
import { type Command } from './command.js';
import { EXIT_OK } from '../util/exit.js';

const usage = `usage: pcibot serve [--config FILE]

Serves, on http.host:http.port of the config (default 127.0.0.1:8080):
  /healthz        JSON: Redis, queue depths, stalled mirrors, replies whose
                  sending was interrupted (503 when anything is wrong)
  /metrics        the same in Prometheus text format
  /admin/queues   bull-board dashboard of the queues (loopback only by default:
                  it can retry and delete jobs)
  /series         the reviews; /series/<review> one review's page (findings,
                  apply status, the model's table, the BAR address maps
                  before and after, verify); /series/<review>.json its result
  /scenarios      the scenario library, each address map at each page size
Replies link to <http.publicUrl>/series/<review> when http.publicUrl is set.

  -c, --config FILE   service config (JSON); default $PCIBOT_CONFIG
Needs Redis; fails at once with how to start one when it is not reachable.`;

const command: Command = {
  name: 'serve',
  summary: 'HTTP health, metrics, queue dashboard and report pages of the service; needs Redis',
  usage,
  async run(argv, io) {
    const started = await startService('serve', argv, io);
    if (typeof started === 'number') return started;
    const { config, redis } = started;
    const queues = new ServiceQueues(redis, config.redis.prefix);
    const http = await startHttp(config, redis, queues);
    io.stderr(
      `[pcibot serve] listening on ${http.url} (/healthz, /metrics, /admin/queues, /series, /scenarios)\n`,
    );
    await untilSignal();
    await http.close();
    await queues.close();
    redis.disconnect();
    return EXIT_OK;
  },
};
export default command;
