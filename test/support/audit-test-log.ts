/**
 * Test harnesses for the audit log: open a LogAuditLog on the in-memory log (test/support/
 * memory-log.ts) or on the WAL over the simulated disk, replay it the way `openStore` does,
 * reopen it on the same data. Also fixed node keys and signed votes for fixtures.
 *
 * Test support only: it must never be imported by library code.
 */
import * as ed from '@noble/ed25519';
import { signVote } from '../../src/codec/vote-sign.ts';
import type { FileSystem } from '../../src/io/types.ts';
import { SimulatedDisk } from '../../src/io/sim-disk.ts';
import type { Log } from '../../src/log/types.ts';
import { openLog } from '../../src/log/wal.ts';
import { LogAuditLog, type AuditLogOptions } from '../../src/stores/audit-log.ts';
import type { ValidatorVote, VoteType } from '../../src/model/vote.ts';
import type { AuditHarness } from '../../src/testing/conformance/audit-log.conformance.ts';
import { MemoryDisk, MemoryLog } from '../../src/log/memory-log.ts';
import { replay, tickingClock } from './round-test-log.ts';

/** Chain id of every audit fixture. */
export const AUDIT_CHAIN = 'audit-test-chain';

/** A deterministic key pair: private key = 32 bytes of `n`. */
export function nodeKey(n: number): { privateKey: Uint8Array; publicKey: Uint8Array } {
  const privateKey = new Uint8Array(32).fill(n);
  return { privateKey, publicKey: ed.getPublicKey(privateKey) };
}

/** A validator's deterministic key (private key = 32 bytes of 100 + n). */
export function validatorKey(n: number): { privateKey: Uint8Array; publicKey: Uint8Array } {
  return nodeKey(100 + n);
}

/** A vote by validator `n`, signed with its key. */
export function signedVote(n: number, height: number, round: number, voteType: VoteType = 'prevote', hashByte = 1): ValidatorVote {
  return signVote(
    { validatorId: `val-${n}`, height, round, voteType, blockHash: new Uint8Array(32).fill(hashByte), timestamp: 1_700_000_000_000 + height },
    validatorKey(n).privateKey,
    AUDIT_CHAIN,
  );
}

/** An open audit log with its log, and how to reopen it on the same data. */
export interface OpenedAudit extends AuditHarness {
  readonly audit: LogAuditLog;
  readonly log: Log;
  /** Closes this log and opens a new one on the same data, optionally with other options. */
  reopen(options?: Partial<AuditLogOptions>): Promise<OpenedAudit>;
}

type Opener = (options?: Partial<AuditLogOptions>) => Promise<OpenedAudit>;

function harness(log: Log, audit: LogAuditLog, reopenWith: Opener, fs: FileSystem | undefined): OpenedAudit {
  return {
    audit,
    log,
    publicKey: audit.publicKey,
    fs,
    nextLsn: () => log.nextLsn,
    reopen: async (options?: Partial<AuditLogOptions>) => {
      await log.close();
      return reopenWith(options);
    },
    close: () => log.close(),
  };
}

/** Opens a LogAuditLog on `log` and replays it. */
export async function openAuditOn(log: Log, options: Partial<AuditLogOptions> = {}, fs?: FileSystem): Promise<LogAuditLog> {
  const audit = new LogAuditLog({ log, now: tickingClock() }, { ...nodeKey(7), chainId: AUDIT_CHAIN, ...(fs === undefined ? {} : { fs }), ...options });
  await replay(log, [audit]);
  return audit;
}

/** An audit log on a memory disk (fresh when omitted); `disk` stays reachable through `log.disk`. */
export async function memoryAudit(options: Partial<AuditLogOptions> = {}, disk: MemoryDisk = new MemoryDisk()): Promise<OpenedAudit & { log: MemoryLog }> {
  const log = MemoryLog.open(disk);
  const audit = await openAuditOn(log, options);
  const opened = harness(log, audit, (o) => memoryAudit({ ...options, ...o }, disk), undefined);
  return { ...opened, log };
}

/** Where the WAL harness keeps its data on the simulated disk. */
export const WAL_DIR = '/data';

/** An audit log on the WAL over a simulated disk (fresh when omitted). */
export async function walAudit(options: Partial<AuditLogOptions> = {}, disk: SimulatedDisk = new SimulatedDisk({ seed: 1 })): Promise<OpenedAudit & { disk: SimulatedDisk }> {
  const fs = disk.fs();
  const log = await openLog({ dir: WAL_DIR, fs, segmentSize: 1024 * 1024 });
  const audit = await openAuditOn(log, options, fs);
  const opened = harness(log, audit, (o) => walAudit({ ...options, ...o }, disk), fs);
  return { ...opened, disk };
}
