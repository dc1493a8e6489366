// The review rules pcibot runs, in the order their findings are listed. A rule
// is a folder under rules/ with rule.ts (id, rationale, references, check) and
// the fixtures that prove it: fires*.eml must raise it, quiet*.eml must not.
import type { Rule } from './types.js';
import capitaliseMmioBar from './capitalise-mmio-bar/rule.js';
import changelogReplaces from './changelog-replaces/rule.js';
import coreAndArchMixed from './core-and-arch-mixed/rule.js';
import driverManagedDma from './driver-managed-dma/rule.js';
import newKernelParameter from './new-kernel-parameter/rule.js';
import stableAndFixes from './stable-and-fixes/rule.js';
import subjectPrefix from './subject-prefix/rule.js';
import isolationForPerformance from './isolation-for-performance/rule.js';
import vfioUapi from './vfio-uapi/rule.js';
import realignByDefault from './realign-by-default/rule.js';
import policyInWeakDefault from './policy-in-weak-default/rule.js';

export const allRules: readonly Rule[] = [
  driverManagedDma,
  newKernelParameter,
  changelogReplaces,
  stableAndFixes,
  coreAndArchMixed,
  subjectPrefix,
  capitaliseMmioBar,
  isolationForPerformance,
  vfioUapi,
  realignByDefault,
  policyInWeakDefault,
];

export function findRule(id: string): Rule | undefined {
  return allRules.find((r) => r.id === id);
}
