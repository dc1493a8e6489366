// The blobs applying made, kept out of the tree's repository.
//
// applySeries runs git in a scratch repository (bot/tree/scratch.ts) and
// removes it before it returns; the blobs of the patched states travel with the
// Applied result instead:
//
// - in the process that applied, as an in-memory store bound to the overlay
//   objects of that Applied (a WeakMap: the store lives exactly as long as the
//   Applied does, nothing to clean up);
// - everywhere else (a BullMQ worker on another machine reading the Applied
//   state from Redis), as `Applied.objects`: the contents brotli-compressed in
//   the JSON. adoptApplied() decodes them (checking every blob against its id)
//   and binds them to that copy's overlays.
//
// Readers (openTreeReader, verify's materialisation) ask overlayBlob() first and
// the tree's repository second.
import { createHash } from 'node:crypto';
import { brotliCompressSync, brotliDecompressSync, constants as zlibConstants } from 'node:zlib';
import type { Applied, AppliedObjects, TreeOverlay } from '../types.js';

export type BlobStore = Map<string, Buffer>;

const bound = new WeakMap<TreeOverlay, BlobStore>();
/** Every store still alive, for overlays copied away from their Applied ({...overlay}). */
const live = new Set<WeakRef<BlobStore>>();

/** The git blob id of `data` (sha1, or sha256 for 64-digit ids). */
export function blobId(data: Buffer, format: 'sha1' | 'sha256' = 'sha1'): string {
  return createHash(format).update(`blob ${data.length}\0`).update(data).digest('hex');
}

/** Make `store`'s blobs readable through these overlay objects (and any copy of them). */
export function bindOverlays(overlays: Iterable<TreeOverlay>, store: BlobStore): void {
  if (store.size === 0) return;
  for (const o of overlays) bound.set(o, store);
  live.add(new WeakRef(store));
}

/** A blob applying made, if this process holds it; null otherwise (then ask the tree). */
export function overlayBlob(overlay: TreeOverlay | undefined, oid: string): Buffer | null {
  const own = overlay ? bound.get(overlay) : undefined;
  const hit = own?.get(oid);
  if (hit) return hit;
  for (const ref of live) {
    const store = ref.deref();
    if (!store) {
      live.delete(ref);
      continue;
    }
    const b = store.get(oid);
    if (b) return b;
  }
  return null;
}

/** Whether the overlay's blobs are held in this process (bound by applySeries or adoptApplied). */
export function hasBoundObjects(overlay: TreeOverlay): boolean {
  return bound.has(overlay);
}

/** The JSON form of a store (see AppliedObjects). */
export function encodeObjects(store: BlobStore): AppliedObjects {
  const blobs = [...store.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const data = Buffer.concat(blobs.map(([, b]) => b));
  const packed = brotliCompressSync(data, {
    params: {
      [zlibConstants.BROTLI_PARAM_QUALITY]: 5,
      [zlibConstants.BROTLI_PARAM_LGWIN]: 24,
      [zlibConstants.BROTLI_PARAM_SIZE_HINT]: data.length,
    },
  });
  return {
    encoding: 'brotli-concat-base64',
    blobs: blobs.map(([oid, b]) => [oid, b.length]),
    data: packed.toString('base64'),
  };
}

/** Decode `Applied.objects`; every blob must hash to its id. Throws on anything else. */
export function decodeObjects(o: AppliedObjects): BlobStore {
  if (o.encoding !== 'brotli-concat-base64')
    throw new Error(`Applied.objects: unknown encoding ${JSON.stringify(o.encoding)}`);
  let total = 0;
  for (const [oid, size] of o.blobs) {
    if (!/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(oid) || !Number.isSafeInteger(size) || size < 0)
      throw new Error(`Applied.objects: bad entry ${JSON.stringify([oid, size])}`);
    total += size;
  }
  const data =
    total === 0
      ? Buffer.alloc(0)
      : brotliDecompressSync(Buffer.from(o.data, 'base64'), { maxOutputLength: total });
  if (data.length !== total)
    throw new Error(`Applied.objects: ${data.length} bytes of data for ${total} declared`);
  const store: BlobStore = new Map();
  let at = 0;
  for (const [oid, size] of o.blobs) {
    const blob = data.subarray(at, at + size);
    at += size;
    if (blobId(blob, oid.length === 64 ? 'sha256' : 'sha1') !== oid)
      throw new Error(`Applied.objects: the content given for blob ${oid} does not match its id`);
    store.set(oid, blob);
  }
  return store;
}

/**
 * Make an Applied state that came as JSON readable in this process: decode its
 * objects and bind them to its overlays. Idempotent and cheap when already bound
 * (or when applying made no blob the tree lacks).
 */
export function adoptApplied(applied: Applied): void {
  // Bound first: reading `objects` of an Applied made here would encode them.
  const overlays = [applied.overlay, ...applied.overlays];
  if (overlays.every((o) => bound.has(o))) return;
  if (!applied.objects || applied.objects.blobs.length === 0) return;
  bindOverlays(overlays, decodeObjects(applied.objects));
}
