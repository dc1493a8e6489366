// The model's findings held to a boot (bot/verify/confirm.ts): confirmed,
// contradicted (the boot's answer stands), model only (with why), and a
// finding capped because the model did not understand the change, split when
// a boot confirms part of it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Finding } from '../../bot/types.js';
import { holdModelToBoot } from '../../bot/verify/confirm.js';
import type { VerifyOutcome } from '../../bot/verify/series.js';
import type { VerifyDecision } from '../../bot/verify/when.js';

const key = (bdf: string) => `lost-bar|${bdf}/2|4096`;
const item = (scenario: string, bdf: string, pageSizes = [4096]) => ({
  scenario,
  arch: 'x86_64',
  pageSizes,
  rule: 'model/lost-bar',
  title: `${bdf.slice(5)} BAR2 gets no address`,
  key: key(bdf),
  device: bdf,
  bar: 2,
});

const lostBars = (items: ReturnType<typeof item>[], capped = false): Finding => ({
  rule: 'model/lost-bar',
  severity: capped ? 'info' : 'error',
  title: capped
    ? 'Unverified: the model predicts 3 lost BARs in 2 scenarios, on policy it did not understand'
    : 'The series introduces 3 lost BARs in 2 scenarios',
  detail: 'The model says so.',
  evidence: {
    change: 'introduced',
    items,
    ...(capped ? { unverified: true, modelSeverity: 'error' } : {}),
  },
  references: [],
});

const decision: VerifyDecision = { asked: true, mode: 'auto', verify: true, reason: 'auto: x' };
const outcome = (lostKeys: string[]): VerifyOutcome => ({
  seconds: 30,
  findings: [],
  scenarios: [
    {
      name: 'qboot',
      arch: 'x86_64',
      pageSize: 4096,
      status: 'measured',
      checks: {
        rules: ['model/shared-page', 'model/subpage-mmap', 'model/lost-bar'],
        keys: lostKeys,
      },
    },
    { name: 'qboot', arch: 'x86_64', pageSize: 65536, status: 'model-only', reason: '4K only' },
  ],
});

test('not booted: every model finding says "model only", and why', () => {
  const [f] = holdModelToBoot([lostBars([item('qboot', '0000:01:00.0')])], {
    decision: { asked: false, verify: false, reason: 'not asked for' },
    outcome: null,
  });
  assert.equal(f!.severity, 'error');
  assert.equal(f!.evidence['boot'], 'model-only');
  assert.match(f!.detail, /The model says so\. Model only \(not booted: not asked for\)\.$/);
  // Findings that are not the model's before/after pass through untouched.
  const other: Finding = {
    rule: 'realign-by-default',
    severity: 'warning',
    title: 't',
    detail: 'd',
    evidence: {},
    references: [],
  };
  assert.deepEqual(holdModelToBoot([other], null), [other]);
});

test('a boot that shows the lost BAR confirms it; one that does not contradicts it, and the boot wins', () => {
  const f = lostBars([item('qboot', '0000:01:00.0', [4096, 65536]), item('qboot', '0000:01:01.0')]);
  const [held] = holdModelToBoot([f], { decision, outcome: outcome([key('0000:01:00.0')]) });
  assert.equal(held!.severity, 'error', 'one BAR is really lost');
  assert.equal(held!.evidence['boot'], 'contradicted');
  assert.deepEqual(
    (held!.evidence['items'] as { device: string }[]).map((i) => i.device),
    ['0000:01:00.0'],
  );
  assert.match(held!.detail, /Confirmed by a boot of the patched kernel: qboot at 4K\./);
  assert.match(
    held!.detail,
    /contradicts the model, and the boot's answer stands \(see verify\/model-mismatch\): qboot at 4K\./,
  );
  assert.match(held!.detail, /Model only \(not booted\): qboot at 64K\.$/);

  const [gone] = holdModelToBoot([lostBars([item('qboot', '0000:01:01.0')])], {
    decision,
    outcome: outcome([]),
  });
  assert.equal(gone!.severity, 'info');
  assert.match(gone!.title, /^Contradicted by a boot: the series introduces/);
  assert.deepEqual(gone!.evidence['items'], []);
});

test('a capped, unverified finding: what a boot confirmed is an error again, the rest stays info', () => {
  const f = lostBars([item('qboot', '0000:01:00.0'), item('seabios', '0000:01:00.0')], true);
  const held = holdModelToBoot([f], { decision, outcome: outcome([key('0000:01:00.0')]) });
  assert.deepEqual(
    held.map((x) => [
      x.severity,
      x.evidence['boot'],
      (x.evidence['items'] as { scenario: string }[]).map((i) => i.scenario),
    ]),
    [
      ['error', 'confirmed', ['qboot']],
      ['info', 'partly-confirmed', ['seabios']],
    ],
  );
  assert.match(held[0]!.title, /^Confirmed by a boot: the model predicts/);
  // Nothing booted of it: it stays capped.
  const [still] = holdModelToBoot([lostBars([item('seabios', '0000:01:00.0')], true)], {
    decision,
    outcome: outcome([key('0000:01:00.0')]),
  });
  assert.deepEqual([still!.severity, still!.evidence['boot']], ['info', 'model-only']);
});

test('a fixed finding is confirmed when the boot no longer shows the problem', () => {
  const fixed: Finding = {
    ...lostBars([item('qboot', '0000:01:00.0')]),
    rule: 'model/fixed',
    severity: 'info',
    evidence: { change: 'fixed', items: [item('qboot', '0000:01:00.0')] },
  };
  const [held] = holdModelToBoot([fixed], { decision, outcome: outcome([]) });
  assert.equal(held!.evidence['boot'], 'confirmed');
  assert.equal(held!.severity, 'info');
});
