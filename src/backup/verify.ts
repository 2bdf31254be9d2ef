/**
 * `verifyBackup`: is a backup whole, unchanged, and this node's? (docs/operations.md, "Backup
 * and restore"). In order: the trailer (its own checks and digest); every file on disk against
 * the listing (none missing, none extra, each size and SHA-256); the trailer's signature with
 * the key the caller trusts (given; else the backup's `node.key`, which must also be the key
 * the audit chain names: recorded in its first entry, followed through node-key rotations;
 * else that key); then a read-only open of
 * the backup's log (`src/log/read-only.ts`) that must end exactly at the trailer's LSN, on the
 * trailer's chain. A backup of a compacted store also carries its cold tier (docs/format.md,
 * "Cold files"): the cold manifest must name the trailer's chain and a cut at or below its LSN,
 * and every cold file's blocks and whole-file checksum are re-read. Its log may start above
 * LSN 1 (released segments): the chain id then comes from the cold manifest, the audit chain's
 * node key from the cold tier's entries and the log's after them, and a local image at or above
 * the log's start must be there (the state before it lives only there).
 *
 * It must never write anything (it reads the backup in place), and never report a backup as
 * sound when one check was skipped: every failure is CORRUPTION naming the file.
 */
import { ConsensusStoreError, corruption, invalidArgument } from '../errors.ts';
import type { FileSystem } from '../io/types.ts';
import { equalBytes, fromHex, toHex } from '../codec/bytes.ts';
import { RecordKind } from '../codec/kinds.ts';
import { decodeEntryBody, splitEntryPayload } from '../codec/audit-record.ts';
import { decodeNodeKeyFile, ED25519_KEY_BYTES } from '../codec/node-key.ts';
import { NODE_KEY_NAME } from '../model/audit.ts';
import { checkKeys, checkObject } from '../model/check.ts';
import { WAL_DIR_NAME } from '../log/open.ts';
import { openReadOnlyLog } from '../log/read-only.ts';
import { segmentFileName } from '../log/segment-file.ts';
import { readRecordedChainId } from '../stores/store-identity.ts';
import { NODE_KEY_FILE } from '../store-options.ts';
import { COLD_DIR_NAME, COLD_MANIFEST_NAME, readColdDirReadOnly } from '../cold/cold-manifest.ts';
import { FileColdTier } from '../cold/file-tier.ts';
import { IMAGES_DIR, imageLsnOfName } from '../stores/local-image.ts';
import { hashFile, listTree } from './files.ts';
import { scanAcross } from './tiers.ts';
import { checkTrailerSignature, decodeTrailer, MAX_TRAILER_BYTES, TRAILER_FILE, type SignedTrailer } from './trailer.ts';

/** Options of `verifyBackup`. */
export interface VerifyBackupOptions {
  /** The node's public key (32 bytes, or 64 hex characters) the trailer must be signed with. */
  readonly publicKey?: Uint8Array | string;
  readonly fs?: FileSystem;
}

/** Where the key that checked the trailer came from. */
export type BackupKeySource = 'option' | 'node.key' | 'chain';

/** What a sound backup holds. */
export interface BackupVerifyReport {
  readonly backup: string;
  readonly lsn: number;
  readonly chainId: string;
  readonly createdAt: number;
  readonly files: number;
  readonly bytes: number;
  readonly publicKey: string;
  readonly keySource: BackupKeySource;
  readonly includesKey: boolean;
  /** The listing's SHA-256 (hex): names this backup (a restore's marker holds it). */
  readonly digest: string;
  readonly durationMs: number;
}

const OPTION_KEYS = ['publicKey', 'fs'] as const;

/** Checks `backup` and `options` (nothing read). @throws INVALID_ARGUMENT. */
export function checkVerifyArgs(backup: unknown, options: unknown): { backup: string; publicKey: Uint8Array | undefined; fs: FileSystem | undefined } {
  if (typeof backup !== 'string' || backup.length === 0 || backup.length > 4096 || backup.includes('\0')) throw invalidArgument('backup', 'must be a non-empty path (at most 4096 characters)');
  if (options === undefined) return { backup, publicKey: undefined, fs: undefined };
  const o = checkObject('options', options);
  checkKeys('options', o, OPTION_KEYS);
  return { backup, publicKey: publicKeyOption(o['publicKey']), fs: o['fs'] as FileSystem | undefined };
}

function publicKeyOption(value: unknown): Uint8Array | undefined {
  if (value === undefined) return undefined;
  const key = typeof value === 'string' ? fromHex(value) : value instanceof Uint8Array ? value.slice() : undefined;
  if (key === undefined || key.length !== ED25519_KEY_BYTES) throw invalidArgument('options.publicKey', 'must be a 32-byte ed25519 public key (or 64 hex characters)');
  return key;
}

/**
 * Verifies the backup in `backup` (see the file comment).
 * @returns what it holds, when every check held.
 * @throws ConsensusStoreError INVALID_ARGUMENT (bad arguments), NOT_FOUND (no such directory),
 *   CORRUPTION naming the file (no trailer: an incomplete backup; a file missing, extra, of
 *   another size or hash; a signature that fails; a log that does not end at the LSN),
 *   UNSUPPORTED_FORMAT; the file system's errno errors.
 */
export async function verifyBackup(backupArg: unknown, optionsArg?: unknown): Promise<BackupVerifyReport> {
  const started = performance.now();
  const args = checkVerifyArgs(backupArg, optionsArg);
  const { backup } = args;
  const fs = args.fs ?? (await import('../io/real-fs.ts')).defaultFileSystem();
  const st = await fs.stat(backup);
  if (st === undefined || !st.isDirectory) throw new ConsensusStoreError('NOT_FOUND', `${backup} is not a backup (no such directory)`);
  const trailer = await readTrailer(fs, backup);

  // Every file against the listing.
  const onDisk = new Set(await listTree(fs, backup));
  onDisk.delete(TRAILER_FILE);
  for (const f of trailer.files) {
    const path = `${backup}/${f.name}`;
    if (!onDisk.delete(f.name)) throw corruption(path, 0, 'a file the backup trailer lists is missing');
    const hashed = await hashFile(fs, path);
    if (hashed.size !== f.size) throw corruption(path, Math.min(hashed.size, f.size), `the file has ${hashed.size} bytes; the backup trailer lists ${f.size}`);
    if (!equalBytes(hashed.sha256, f.sha256)) throw corruption(path, 0, 'the file does not match the SHA-256 the backup trailer lists (changed or damaged)');
  }
  const extra = [...onDisk][0];
  if (extra !== undefined) throw corruption(`${backup}/${extra}`, 0, `a file the backup trailer does not list (${onDisk.size} such)`);

  // The log, read-only: it must end at the trailer's LSN, on its chain.
  const log = await openReadOnlyLog({ dir: backup, fs, retries: 0 });
  try {
    if (log.seenLsn !== trailer.lsn) throw corruption(`${backup}/MANIFEST`, 0, `the backup's log ends at LSN ${log.seenLsn}; the trailer says ${trailer.lsn}`);
    if (log.tail !== undefined && log.tail.unreadBytes > 0) throw corruption(`${backup}/${WAL_DIR_NAME}/${segmentFileName(log.tail.segmentId)}`, log.tail.committedEnd, `${log.tail.unreadBytes} bytes after the backup's last batch`);
    const cold = await checkCold(fs, backup, trailer, log.firstLsn);
    const recorded = (await readRecordedChainId(log)) ?? cold?.chainId;
    if (recorded !== undefined && recorded !== trailer.chainId) throw corruption(`${backup}/${TRAILER_FILE}`, 0, `the trailer names chain ${JSON.stringify(trailer.chainId)}; the log records ${JSON.stringify(recorded)}`);

    // The signature, with the key the caller trusts.
    const across = { scan: (visit: (record: { kind: number; payload: Uint8Array }) => boolean | void) => scanAcross({ log, coldTier: cold?.tier }, AUDIT_KINDS, AUDIT_KINDS, () => undefined, visit) };
    const { key, source } = await trustedKey(fs, backup, across, args.publicKey, trailer);
    const trailerPath = `${backup}/${TRAILER_FILE}`;
    checkTrailerSignature(trailer, key, trailerPath, (await fs.stat(trailerPath))?.size ?? 0);
    return {
      backup,
      lsn: trailer.lsn,
      chainId: trailer.chainId,
      createdAt: trailer.createdAt,
      files: trailer.files.length,
      bytes: trailer.files.reduce((n, f) => n + f.size, 0),
      publicKey: toHex(key),
      keySource: source,
      includesKey: trailer.files.some((f) => f.name === NODE_KEY_FILE),
      digest: toHex(trailer.digest),
      durationMs: performance.now() - started,
    };
  } finally {
    await log.close();
  }
}

const AUDIT_KINDS = [RecordKind.AuditEvent, RecordKind.AuditHead];

/**
 * The cold tier of the backup, checked (see the file comment); undefined when it has none.
 * @throws CORRUPTION naming the cold manifest or the cold file and offset; also when the log
 *   starts above LSN 1 without a cold manifest or without a local image at or above its start.
 */
async function checkCold(fs: FileSystem, backup: string, trailer: SignedTrailer, firstLsn: number): Promise<{ chainId: string; tier: FileColdTier } | undefined> {
  const manifestPath = `${backup}/${COLD_DIR_NAME}/${COLD_MANIFEST_NAME}`;
  const manifest = await readColdDirReadOnly(fs, backup);
  if (firstLsn > 1) {
    if (manifest === undefined) throw corruption(`${backup}/MANIFEST`, 0, `the backup's log starts at LSN ${firstLsn} but the backup holds no cold manifest (${COLD_DIR_NAME}/${COLD_MANIFEST_NAME})`);
    const images = trailer.files.map((f) => (f.name.startsWith(`${IMAGES_DIR}/`) ? imageLsnOfName(f.name.slice(IMAGES_DIR.length + 1)) : undefined));
    if (!images.some((l) => l !== undefined && l >= firstLsn - 1)) throw corruption(`${backup}/MANIFEST`, 0, `the backup's log starts at LSN ${firstLsn} but it holds no local image at or above LSN ${firstLsn - 1}: the state before the log cannot be rebuilt`);
  }
  if (manifest === undefined) return undefined;
  if (manifest.chainId !== trailer.chainId) throw corruption(manifestPath, 0, `the cold manifest names chain ${JSON.stringify(manifest.chainId)}; the trailer ${JSON.stringify(trailer.chainId)}`);
  if (manifest.cut.lsn > trailer.lsn) throw corruption(manifestPath, 0, `the cold manifest's cut is at LSN ${manifest.cut.lsn}, above the backup's LSN ${trailer.lsn}`);
  const tier = new FileColdTier(fs, backup, manifest);
  await tier.verify();
  return { chainId: manifest.chainId, tier };
}

/** Reads and decodes `<backup>/TRAILER`. @throws CORRUPTION when absent (incomplete) or malformed. */
export async function readTrailer(fs: FileSystem, backup: string): Promise<SignedTrailer> {
  const path = `${backup}/${TRAILER_FILE}`;
  const st = await fs.stat(path);
  if (st === undefined) throw corruption(path, 0, 'the backup has no trailer: it is incomplete (interrupted before its last step) or not a backup');
  if (st.size > MAX_TRAILER_BYTES) throw corruption(path, 0, `backup trailer of ${st.size} bytes exceeds ${MAX_TRAILER_BYTES}`);
  return decodeTrailer(await fs.readFile(path), path);
}

/** The key to check the trailer with: the caller's; else node.key (matching the chain's); else the chain's. */
async function trustedKey(fs: FileSystem, backup: string, log: Parameters<typeof recordedNodeKey>[0], given: Uint8Array | undefined, trailer: SignedTrailer): Promise<{ key: Uint8Array; source: BackupKeySource }> {
  if (given !== undefined) return { key: given, source: 'option' };
  const recorded = await recordedNodeKey(log);
  const keyPath = `${backup}/${NODE_KEY_FILE}`;
  if (trailer.files.some((f) => f.name === NODE_KEY_FILE)) {
    const key = decodeNodeKeyFile(await fs.readFile(keyPath), keyPath).publicKey;
    if (recorded !== undefined && !equalBytes(recorded, key)) throw corruption(keyPath, 0, 'the node key in the backup is not the one its audit chain names (recorded, or rotated to)');
    return { key, source: 'node.key' };
  }
  if (recorded === undefined) throw corruption(`${backup}/${TRAILER_FILE}`, 0, 'no key to check the trailer with: the backup holds no node.key and its audit chain records none (give the node public key)');
  return { key: recorded, source: 'chain' };
}

/**
 * The node key the audit chain names as current: the one its first entry (NodeKeyRecorded)
 * recorded, followed through every node-key rotation (KeyRotated) after it; undefined when it
 * records none.
 */
export async function recordedNodeKey(log: { scan(visit: (record: { kind: number; payload: Uint8Array }) => boolean | void): Promise<void> }): Promise<Uint8Array | undefined> {
  let key: Uint8Array | undefined;
  await log.scan((record) => {
    if (record.kind !== RecordKind.AuditEvent) return;
    try {
      const event = decodeEntryBody(splitEntryPayload(record.payload).body).event;
      if (event.type === 'NodeKeyRecorded' && key === undefined) key = event.publicKey;
      else if (event.type === 'KeyRotated' && event.keyName === NODE_KEY_NAME) key = event.newPublicKey;
    } catch {
      // A damaged entry is the audit verifier's business; this only follows the key.
    }
  });
  return key;
}
