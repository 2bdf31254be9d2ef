/**
 * Rotating the node key (docs/audit.md, "Rotating the node key"; docs/operations.md, "A lost
 * node key"): the key that signs the audit chain's heads, kept in `<dir>/node.key`. With the
 * node stopped, a new key is written to `node.key.next` (mode 0600, durable), the rotation is
 * recorded in the audit chain (a `KeyRotated` entry named NODE_KEY_NAME, signed by the old key
 * when it is there, by the new one when it was lost), and `node.key.next` is renamed over
 * `node.key`. Every step can be interrupted: a rerun finds the new key file, sees whether the
 * chain already records it, and finishes.
 *
 * This file must never overwrite or remove a key the chain records before the rotation away
 * from it is durable, and never run while the node runs (the open takes the directory's lock).
 */
import { dirname, join } from 'node:path';
import { fromFsError, invalidArgument, isStoreError } from './errors.ts';
import { errnoOf, type FileSystem } from './io/types.ts';
import { checkChainId } from './model/vote.ts';
import { checkKeys, checkObject } from './model/check.ts';
import { NODE_KEY_FILE } from './store-options.ts';
import { openStore, openStoreRotatingLostKey, takeImage, type ConsensusStore } from './store.ts';
import { IMAGES_DIR, imageFileName } from './stores/local-image.ts';
import { loadOrCreateNodeKey } from './stores/node-key-file.ts';
import type { NodeKey } from './codec/node-key.ts';
import type { LogAuditLog } from './stores/audit-log.ts';

/** Options of `rotateNodeKey`. */
export interface RotateNodeKeyOptions {
  /** The data directory (its node must be stopped). */
  readonly dir: string;
  readonly chainId: string;
  /**
   * The old key is lost (`node.key` is missing): the new key signs its own rotation. A verifier
   * that trusts only the old key then rejects the chain from the rotation on; docs/audit.md says
   * why and what to hand it. Default false (the old key signs the rotation).
   */
  readonly lostKey?: boolean;
  /** Where the node key lives; default `<dir>/node.key`. */
  readonly keyFile?: string;
  /** The file system (tests: the simulated disk). */
  readonly fs?: FileSystem;
  /** Log options for the open (tests: small segments). */
  readonly log?: { readonly segmentSize?: number };
  /** The clock of the entries it writes (tests: a seeded one); default `Date.now`. */
  readonly now?: () => number;
}

/** What a rotation did. */
export interface RotateNodeKeyReport {
  readonly keyFile: string;
  /** The key the chain recorded before (hex), and the new one. */
  readonly oldPublicKey: string;
  readonly newPublicKey: string;
  readonly lostKey: boolean;
  /** Sequence of the chain's `KeyRotated` entry. */
  readonly sequence: number;
  /** True when an interrupted rotation was found already recorded and only finished here. */
  readonly resumed: boolean;
}

const KEYS = ['dir', 'chainId', 'lostKey', 'keyFile', 'fs', 'log', 'now'] as const;

/** The suffix of the new key's file until the rotation is recorded. */
export const NEXT_KEY_SUFFIX = '.next';

/**
 * Rotates the node key of the stopped node in `options.dir`; see the file comment.
 * @throws ConsensusStoreError INVALID_ARGUMENT (bad options; `lostKey` while node.key is there,
 *   or a planned rotation while it is missing), LOCKED (the node runs), NOT_FOUND (no store in
 *   `dir`), and the open's and the file system's errors (rerun: it resumes).
 */
export async function rotateNodeKey(options: RotateNodeKeyOptions): Promise<RotateNodeKeyReport> {
  const o = checkObject('options', options);
  checkKeys('options', o, KEYS);
  const dir = o['dir'];
  if (typeof dir !== 'string' || dir.length === 0 || dir.length > 4096) throw invalidArgument('options.dir', 'must be a non-empty path');
  const chainId = checkChainId('options.chainId', o['chainId']);
  const lostKey = o['lostKey'] ?? false;
  if (typeof lostKey !== 'boolean') throw invalidArgument('options.lostKey', 'must be a boolean');
  const keyFile = o['keyFile'] ?? join(dir, NODE_KEY_FILE);
  if (typeof keyFile !== 'string' || keyFile.length === 0 || keyFile.length > 4096) throw invalidArgument('options.keyFile', 'must be a non-empty path');
  const fs: FileSystem = (o['fs'] as FileSystem | undefined) ?? (await import('./io/real-fs.ts')).defaultFileSystem();
  const log = o['log'] === undefined ? {} : { log: o['log'] as { segmentSize?: number } };
  if (o['now'] !== undefined && typeof o['now'] !== 'function') throw invalidArgument('options.now', 'must be a function');
  const now = o['now'] === undefined ? {} : { now: o['now'] as () => number };
  const nextFile = `${keyFile}${NEXT_KEY_SUFFIX}`;

  const stat = async (path: string): Promise<boolean> => {
    try {
      return (await fs.stat(path)) !== undefined;
    } catch (err) {
      throw fromFsError(err, `looking for ${path}`);
    }
  };
  if ((await fs.stat(join(dir, 'MANIFEST')).catch(() => undefined)) === undefined) {
    throw invalidArgument('options.dir', `holds no store (no MANIFEST in ${dir})`);
  }
  const haveOld = await stat(keyFile);
  if (lostKey && haveOld) throw invalidArgument('options.lostKey', `is set, but ${keyFile} is there: rotate without lostKey (the old key then signs the rotation)`);
  if (!lostKey && !haveOld) throw invalidArgument('options.lostKey', `is not set, but ${keyFile} is missing: if the key is lost, rotate with lostKey (cstore rotate-key --lost)`);

  // The new key, durable before anything records it (kept from an interrupted run).
  const resuming = await stat(nextFile);
  const next = (await loadOrCreateNodeKey(fs, nextFile)).key;
  // No local image: one would hide the rotation entry from the replay (and the next image is signed with the new key).
  const common = { dir, chainId, fs, images: { load: false, onClose: false }, ...log, ...now };
  const report = (found: { oldPublicKey: string; sequence: number }, resumed: boolean): RotateNodeKeyReport => ({
    keyFile,
    ...found,
    newPublicKey: hex(next.publicKey),
    lostKey,
    resumed,
  });

  // Already recorded by an interrupted run (only a run that left node.key.next can have)? The
  // chain then takes the new key as its own.
  if (resuming) {
    const already = await openStore({ ...common, audit: { nodeKey: next } }).catch((err: unknown) => {
      if (isStoreError(err, 'INVALID_ARGUMENT') && err.details?.['argument'] === 'options.publicKey') return undefined;
      throw err;
    });
    if (already !== undefined) return report(await settleWithNewKey(already, next, fs, nextFile, keyFile, dir), true);
  }
  // A lost key: the open, with the new key, writes the rotation.
  if (lostKey) return report(await settleWithNewKey(await openStoreRotatingLostKey({ ...common, audit: { nodeKey: next } }), next, fs, nextFile, keyFile, dir), false);

  // Planned: the old key signs the rotation; the image needs an open with the new key.
  const store = await openStore({ ...common, audit: { keyFile } });
  let found: { oldPublicKey: string; sequence: number };
  try {
    await (store.audit as LogAuditLog).rotateNodeKey(next, false);
    found = lastRotation(store, next);
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  await store.close();
  await finish(fs, nextFile, keyFile);
  const withNew = await openStore({ ...common });
  await settle(withNew, () => imageWithNewKey(withNew, fs, dir));
  return report(found, false);
}

/**
 * On a store open with the new key whose chain records the rotation: the new key's first
 * batch if a cut left it out, an image signed with the new key, then `node.key.next` installed.
 */
async function settleWithNewKey(
  store: ConsensusStore,
  next: NodeKey,
  fs: FileSystem,
  nextFile: string,
  keyFile: string,
  dir: string,
): Promise<{ oldPublicKey: string; sequence: number }> {
  const found = await settle(store, async () => {
    const rotation = lastRotation(store, next);
    // A planned rotation cut between its two batches: the new key signs its first one now.
    await (store.audit as LogAuditLog).confirmNodeKey();
    await imageWithNewKey(store, fs, dir);
    return rotation;
  });
  await finish(fs, nextFile, keyFile);
  return found;
}

/** Runs `work` on `store`, then closes it (also when `work` fails). */
async function settle<T>(store: ConsensusStore, work: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await work();
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  await store.close();
  return result;
}

/**
 * Local images are signed with the node key, so every image taken before the rotation fails
 * the next open's check: an image of the same state signed with the new key (replacing the one
 * at the log's end, which the old key signed) lets the node's next start load it instead of
 * replaying the whole log. The older ones are only pruned as new images come. `store` is open
 * with the new key.
 */
async function imageWithNewKey(store: ConsensusStore, fs: FileSystem, dir: string): Promise<void> {
  const stale = `${dir}/${IMAGES_DIR}/${imageFileName(store.log.nextLsn - 1)}`;
  await fs.unlink(stale).catch((err: unknown) => {
    if (errnoOf(err) !== 'ENOENT') throw fromFsError(err, `removing ${stale}`);
  });
  await takeImage(store, false);
}

/** The chain's rotation to `next`: its sequence and the key it rotated from. */
function lastRotation(store: ConsensusStore, next: NodeKey): { oldPublicKey: string; sequence: number } {
  const rotation = (store.audit as LogAuditLog).lastNodeKeyRotation();
  if (rotation === undefined || hex(rotation.newPublicKey) !== hex(next.publicKey)) {
    throw invalidArgument('options.dir', 'holds a chain whose node key rotation to the new key was not found');
  }
  return { oldPublicKey: hex(rotation.oldPublicKey), sequence: rotation.sequence };
}

/** `node.key.next` becomes `node.key` (atomically; durable with the directory fsync). */
async function finish(fs: FileSystem, nextFile: string, keyFile: string): Promise<void> {
  try {
    await fs.rename(nextFile, keyFile);
    await fs.syncDir(dirname(keyFile));
  } catch (err) {
    throw fromFsError(err, `installing the new node key ${keyFile}`);
  }
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
