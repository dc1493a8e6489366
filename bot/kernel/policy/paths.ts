// The KernelPolicy fields the reader fills, as typed dotted paths: the keys of
// KernelPolicy, except `resourceAlignment` and `vfio`, whose members are read
// (and compared, and kept at their base value) one by one: they come from
// several functions, and a function the reader does not understand should cost
// the model only what that function carries. A note may also speak of a
// hotplug size alone. Values are read, copied and varied through one accessor
// per path, so nothing indexes a policy with a string.
import type { KernelPolicy } from '../model/policy.js';

/** KernelPolicy members read member by member. */
type Split = 'vfio' | 'resourceAlignment';
type Whole = Exclude<keyof KernelPolicy, 'name' | Split>;
type VfioKey = keyof KernelPolicy['vfio'];
type AlignKey = keyof KernelPolicy['resourceAlignment'];

/** A field of KernelPolicy as the reader reads it: `defaultAlignment`, `vfio.subPageMmap`, ... */
export type PolicyField = Whole | `resourceAlignment.${AlignKey}` | `vfio.${VfioKey}`;

/** What a note may be about: a policy field, or one hotplug size. */
export type NoteField = PolicyField | `hotplug.${keyof KernelPolicy['hotplug']}`;

interface FieldAccess<F extends PolicyField> {
  path: F;
  get(p: KernelPolicy): unknown;
  /** Set `to`'s value of the field to (a copy of) `from`'s. */
  copy(to: KernelPolicy, from: KernelPolicy): void;
  /** Copies of `p` with each other value the field can take; null when there are too many to try. */
  vary(p: KernelPolicy): KernelPolicy[] | null;
}

/** Copies of `p` with `set` applied for every value of `values` other than the current one. */
function varied<V>(
  p: KernelPolicy,
  values: readonly V[] | undefined,
  get: (p: KernelPolicy) => V,
  set: (p: KernelPolicy, v: V) => void,
): KernelPolicy[] | null {
  if (!values) return null;
  const now = JSON.stringify(get(p));
  return values
    .filter((v) => JSON.stringify(v) !== now)
    .map((v) => {
      const q = structuredClone(p);
      set(q, structuredClone(v));
      return q;
    });
}

function whole<K extends Whole>(k: K, values?: readonly KernelPolicy[K][]): FieldAccess<K> {
  const get = (p: KernelPolicy) => p[k];
  const set = (p: KernelPolicy, v: KernelPolicy[K]) => {
    p[k] = v;
  };
  return {
    path: k,
    get,
    copy: (to, from) => set(to, structuredClone(from[k])),
    vary: (p) => varied(p, values, get, set),
  };
}

function member<S extends Split, K extends keyof KernelPolicy[S] & string>(
  s: S,
  k: K,
  values?: readonly KernelPolicy[S][K][],
): FieldAccess<`${S}.${K}` & PolicyField> {
  const get = (p: KernelPolicy) => p[s][k];
  const set = (p: KernelPolicy, v: KernelPolicy[S][K]) => {
    p[s][k] = v;
  };
  return {
    path: `${s}.${k}` as `${S}.${K}` & PolicyField,
    get,
    copy: (to, from) => set(to, structuredClone(from[s][k])),
    vary: (p) => varied(p, values, get, set),
  };
}

const BOOL = [true, false] as const;
const METHOD = ['resize', 'startalign'] as const;

/** One accessor per field, in the order fields are listed and compared. */
const ACCESS: { readonly [F in PolicyField]: FieldAccess<F> } = {
  defaultAlignment: whole('defaultAlignment', ['zero', 'page', 'max-4k-page']),
  'resourceAlignment.supported': member('resourceAlignment', 'supported', BOOL),
  'resourceAlignment.namedMethod': member('resourceAlignment', 'namedMethod', METHOD),
  'resourceAlignment.defaultMethod': member('resourceAlignment', 'defaultMethod', METHOD),
  'resourceAlignment.keepAligned': member('resourceAlignment', 'keepAligned', [
    'no',
    'unless-resize',
    'always',
  ]),
  'resourceAlignment.onlyWhenNeeded': member('resourceAlignment', 'onlyWhenNeeded', BOOL),
  x86ClaimDropsStartAlign: whole('x86ClaimDropsStartAlign', BOOL),
  restoreAlignmentOnRelease: whole('restoreAlignmentOnRelease', BOOL),
  realloc: whole('realloc', ['off', 'auto', 'on']),
  iov: whole('iov', BOOL),
  hotplug: whole('hotplug'),
  'vfio.subPageMmap': member('vfio', 'subPageMmap', ['exclusive-page', 'never']),
  'vfio.msixMappable': member('vfio', 'msixMappable', BOOL),
  'vfio.nonMappable': member('vfio', 'nonMappable'),
  'vfio.maxMappableBar': member('vfio', 'maxMappableBar'),
  acsGrouping: whole('acsGrouping', ['pre-2025', 'acs-fix-2025']),
  smmuRejectsSharedStreamIds: whole('smmuRejectsSharedStreamIds', BOOL),
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

/**
 * Copies of `p` with each other value the field can take, for asking "would
 * the model's answer change had the reader read this field otherwise?" (a
 * field kept at its base value because its function was not understood).
 * null: too many values to try (sizes, lists), so anything may depend on it.
 */
export function fieldAlternatives(p: KernelPolicy, f: PolicyField): KernelPolicy[] | null {
  return ACCESS[f].vary(p);
}

/** Whether a note's field is a policy field (not a hotplug size alone). */
export function isPolicyField(f: NoteField): f is PolicyField {
  return f in ACCESS;
}

/** The fields that differ between two policies; the name is ignored. */
export function policyDifferences(a: KernelPolicy, b: KernelPolicy): PolicyField[] {
  return POLICY_FIELDS.filter(
    (f) => JSON.stringify(fieldValue(a, f)) !== JSON.stringify(fieldValue(b, f)),
  );
}
