// The KernelPolicy fields the reader fills, as typed dotted paths: the keys of
// KernelPolicy, except `vfio`, whose members are read (and compared, and kept
// at their base value) one by one. A note may also speak of a hotplug size
// alone. Values are read and copied through one accessor per path, so nothing
// indexes a policy with a string.
import type { KernelPolicy } from '../model/policy.js';

/** KernelPolicy members read member by member. */
type Split = 'vfio';
type Whole = Exclude<keyof KernelPolicy, 'name' | Split>;
type VfioKey = keyof KernelPolicy['vfio'];

/** A field of KernelPolicy as the reader reads it: `defaultAlignment`, `vfio.subPageMmap`, ... */
export type PolicyField = Whole | `vfio.${VfioKey}`;

/** What a note may be about: a policy field, or one hotplug size. */
export type NoteField = PolicyField | `hotplug.${keyof KernelPolicy['hotplug']}`;

interface FieldAccess<F extends PolicyField> {
  path: F;
  get(p: KernelPolicy): unknown;
  /** Set `to`'s value of the field to (a copy of) `from`'s. */
  copy(to: KernelPolicy, from: KernelPolicy): void;
}

function whole<K extends Whole>(k: K): FieldAccess<K> {
  return {
    path: k,
    get: (p) => p[k],
    copy: (to, from) => {
      to[k] = structuredClone(from[k]);
    },
  };
}

function vfio<K extends VfioKey>(k: K): FieldAccess<`vfio.${K}`> {
  return {
    path: `vfio.${k}`,
    get: (p) => p.vfio[k],
    copy: (to, from) => {
      to.vfio[k] = structuredClone(from.vfio[k]);
    },
  };
}

/** One accessor per field, in the order fields are listed and compared. */
const ACCESS: { readonly [F in PolicyField]: FieldAccess<F> } = {
  defaultAlignment: whole('defaultAlignment'),
  resourceAlignment: whole('resourceAlignment'),
  x86ClaimDropsStartAlign: whole('x86ClaimDropsStartAlign'),
  realloc: whole('realloc'),
  iov: whole('iov'),
  hotplug: whole('hotplug'),
  'vfio.subPageMmap': vfio('subPageMmap'),
  'vfio.msixMappable': vfio('msixMappable'),
  'vfio.nonMappable': vfio('nonMappable'),
  'vfio.maxMappableBar': vfio('maxMappableBar'),
  acsGrouping: whole('acsGrouping'),
  smmuRejectsSharedStreamIds: whole('smmuRejectsSharedStreamIds'),
  quirks: whole('quirks'),
};

/** Every field, in KernelPolicy order. */
export const POLICY_FIELDS: readonly PolicyField[] = Object.values(ACCESS).map((a) => a.path);

/** The value of one field of a policy. */
export function fieldValue(p: KernelPolicy, f: PolicyField): unknown {
  return ACCESS[f].get(p);
}

/** Give `to` the value `from` has for a field (a copy). */
export function copyField(to: KernelPolicy, from: KernelPolicy, f: PolicyField): void {
  ACCESS[f].copy(to, from);
}

/** The fields that differ between two policies; the name is ignored. */
export function policyDifferences(a: KernelPolicy, b: KernelPolicy): PolicyField[] {
  return POLICY_FIELDS.filter(
    (f) => JSON.stringify(fieldValue(a, f)) !== JSON.stringify(fieldValue(b, f)),
  );
}
