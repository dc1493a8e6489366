// When to verify (bot/verify/when.ts): the one decision of `pcibot review
// --verify` and the service's verify queue.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Applied, Finding } from '../../bot/types.js';
import { modelNeedsBoot, verifyMode, whenToVerify } from '../../bot/verify/when.js';

const applied = (paths: string[], status: 'applied' | 'conflict' = 'applied'): Applied => ({
  tree: '/nonexistent',
  base: { commit: '0'.repeat(40), how: 'head' },
  patches: [{ index: 1, messageId: 'p1@x', status, files: paths }],
  overlay: Object.fromEntries(paths.map((p) => [p, '1'.repeat(40)])),
  overlays: [Object.fromEntries(paths.map((p) => [p, '1'.repeat(40)]))],
});

test('verify only when asked, applied, and the kernel policy files change', () => {
  const policy = applied(['drivers/pci/setup-bus.c', 'include/uapi/linux/vfio.h']);
  assert.deepEqual(whenToVerify(false, policy), {
    asked: false,
    verify: false,
    reason: 'not asked for',
  });
  assert.equal(whenToVerify(true, null).verify, false);
  assert.equal(whenToVerify(true, applied(['drivers/pci/pci.c'], 'conflict')).verify, false);
  const uapiOnly = whenToVerify(true, applied(['include/uapi/linux/vfio.h']));
  assert.equal(uapiOnly.verify, false);
  assert.match(uapiOnly.reason, /no file the kernel policy is read from/);
  const yes = whenToVerify(true, policy);
  assert.equal(yes.verify, true);
  assert.match(yes.reason, /drivers\/pci\/setup-bus\.c/);
  assert.doesNotMatch(yes.reason, /uapi/, 'names the policy files only');
});

const finding = (
  rule: string,
  severity: Finding['severity'],
  evidence: Record<string, unknown>,
): Finding => ({
  rule,
  severity,
  title: `${rule} title`,
  detail: '',
  evidence,
  references: [],
});

test('auto: boot exactly when a policy change was not understood or the model predicts an error', () => {
  const policy = applied(['drivers/pci/pci.c']);
  assert.equal(verifyMode(true), 'on');
  assert.equal(verifyMode(false), 'off');
  // Before the series checks ran (the service schedules the job): pending, the job decides.
  const pending = whenToVerify('auto', policy);
  assert.deepEqual([pending.verify, pending.pending, pending.mode], [true, true, 'auto']);
  // Nothing the model needs a boot for: no boot, and it says so.
  const quiet = whenToVerify('auto', policy, [
    finding('model/before-after', 'info', {}),
    finding('model/fixed', 'info', { change: 'fixed' }),
    finding('model/lost-bar', 'error', { change: 'remaining' }),
    finding('policy/restructured', 'info', { function: 'pcibios_allocate_dev_resources' }),
  ]);
  assert.equal(quiet.verify, false);
  assert.match(
    quiet.reason,
    /^auto: the model understood every policy change and predicts no error/,
  );
  // An error the series introduces, or one capped because the model did not understand.
  const lost = [finding('model/lost-bar', 'error', { change: 'introduced' })];
  assert.equal(whenToVerify('auto', policy, lost).verify, true);
  assert.match(
    whenToVerify('auto', policy, lost).reason,
    /^auto: the model predicts model\/lost-bar title$/,
  );
  const capped = [
    finding('model/lost-bar', 'info', { change: 'introduced', modelSeverity: 'error' }),
  ];
  assert.equal(whenToVerify('auto', policy, capped).verify, true);
  // A warning alone is no reason to boot.
  assert.equal(
    whenToVerify('auto', policy, [
      finding('model/subpage-mmap', 'warning', { change: 'introduced' }),
    ]).verify,
    false,
  );
  const nu = [finding('policy/not-understood', 'info', { function: 'alloc_resource' })];
  assert.equal(
    modelNeedsBoot(nu),
    'a policy change the model does not understand (alloc_resource())',
  );
  assert.equal(whenToVerify('auto', policy, nu).verify, true);
  // The files decide first: auto never boots what a boot could not change.
  assert.equal(whenToVerify('auto', applied(['include/uapi/linux/vfio.h']), lost).verify, false);
  assert.equal(whenToVerify('auto', null, lost).verify, false);
});
