// What /healthz fails on besides Redis: a list not fetched within three poll
// intervals (the follow schedule is gone, or fetching fails), an unusable
// kernel tree, and applies failing in a row; /metrics carries the same.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { buildFixtureTree } from '../../fixtures/kernel-tree/build.js';
import { FollowState } from '../../bot/lore/follow.js';
import { checkHealth, metricsText } from '../../workers/serve/health.js';
import { treeProblem } from '../../workers/serve/preflight.js';
import { ServiceQueues } from '../../workers/queues.js';
import { ServiceState } from '../../workers/state.js';
import { removeDir, tempDir, testConfig, testRedis, uniquePrefix } from './helpers.js';

describe('health', () => {
  let dir: string;
  let tree: string;
  let redis: Redis;
  let cleanup: () => Promise<void>;
  let queues: ServiceQueues;
  const prefix = uniquePrefix('health');
  before(async () => {
    dir = await tempDir('svc-health');
    tree = (await buildFixtureTree(join(dir, 'tree'))).path;
    const r = await testRedis(prefix);
    redis = r.redis;
    cleanup = r.cleanup;
    queues = new ServiceQueues(redis, prefix);
  });
  after(async () => {
    await queues?.close();
    await cleanup?.();
    await removeDir(dir);
  });

  const config = (over: Record<string, unknown> = {}) =>
    testConfig(prefix, {
      tree: { path: tree },
      lists: [
        { name: 'linux-pci', address: 'linux-pci@vger.kernel.org', mirror: join(dir, 'inbox') },
      ],
      pollIntervalSec: 60,
      ...over,
    });

  it('fails when a list was not fetched within three poll intervals', async () => {
    const follow = new FollowState(redis, prefix);
    const never = await checkHealth(config(), redis, queues);
    assert.equal(never.ok, false);
    assert.ok(
      never.problems.some((p) => /list linux-pci: never fetched/.test(p)),
      never.problems.join('\n'),
    );
    const now = Date.now();
    await follow.setStatus('linux-pci', { lastFetchAt: now - 100_000, lastNewAt: now - 100_000 });
    const fresh = await checkHealth(config(), redis, queues, now);
    assert.equal(fresh.ok, true, fresh.problems.join('\n'));
    const late = await checkHealth(config(), redis, queues, now + 100_000);
    assert.equal(late.ok, false);
    assert.ok(
      late.problems.some((p) => /not fetched since .* \(more than 3 poll intervals, 180 s/.test(p)),
    );
    assert.match(metricsText(late), /^pcibot_list_fetch_overdue\{list="linux-pci"\} 1$/m);
    assert.match(metricsText(fresh), /^pcibot_list_fetch_overdue\{list="linux-pci"\} 0$/m);
  });

  it('fails when applies fail in a row, and recovers on a success', async () => {
    const state = new ServiceState(redis, prefix);
    const now = Date.now();
    await new FollowState(redis, prefix).setStatus('linux-pci', { lastFetchAt: now });
    const cfg = config({ health: { applyFailuresInRow: 3 } });
    for (let i = 0; i < 3; i++) await state.applyOutcome(false);
    const bad = await checkHealth(cfg, redis, queues, now);
    assert.equal(bad.ok, false);
    assert.ok(bad.problems.some((p) => /the last 3 applies failed outright/.test(p)));
    assert.match(metricsText(bad), /^pcibot_apply_failures_in_row 3$/m);
    await state.applyOutcome(true);
    assert.equal((await checkHealth(cfg, redis, queues, now)).ok, true);
  });

  it('fails on an unusable tree, and says what is wrong with it', async () => {
    assert.equal(await treeProblem({ path: tree, branches: [] }), null);
    assert.match(
      (await treeProblem({ path: tree, branches: ['pci/next'] }))!,
      /has no branch pci\/next \(tree\.branches\)/,
    );
    assert.match((await treeProblem({ path: null, branches: [] }))!, /no kernel tree configured/);
    assert.match((await treeProblem({ path: dir, branches: [] }))!, /is not a git repository/);
    const cfg = testConfig(prefix, { tree: { path: join(dir, 'gone') } });
    const h = await checkHealth(cfg, redis, queues);
    assert.equal(h.ok, false);
    assert.equal(h.tree.ok, false);
    assert.ok(h.problems.some((p) => /^tree: the kernel tree .*gone does not exist/.test(p)));
    assert.match(metricsText(h), /^pcibot_tree_usable 0$/m);
  });
});
