/**
 * Test harnesses for the LogEvidenceStore and the LogRewardHistory on the in-memory log
 * (test/support/memory-log.ts): open a store on a memory disk, replay it the way `openStore`
 * does, reopen it on the same disk. Also the evidence fixture: deterministic validator keys, a
 * key book answering `publicKeyAt`, and signed votes and proposals.
 *
 * Test support only: it must never be imported by library code.
 */
import { proposalSignBytes, publicKeyOf, signBytes, signVote } from '../../src/codec/vote-sign.ts';
import type { StoreContext } from '../../src/stores/context.ts';
import { LogEvidenceStore } from '../../src/stores/evidence-store.ts';
import { LogRewardHistory } from '../../src/stores/reward-history.ts';
import type { SignedProposal, UnsignedProposal, UnsignedVote, ValidatorVote, VoteType } from '../../src/model/vote.ts';
import type { EvidenceHarness } from '../conformance/evidence-store.conformance.ts';
import type { RewardHistoryHarness } from '../conformance/reward-history.conformance.ts';
import { MemoryDisk, MemoryLog } from './memory-log.ts';
import { replay, tickingClock } from './round-test-log.ts';

/** Chain id of the fixtures. */
export const TEST_CHAIN_ID = 'evidence-test-chain';

/** A deterministic 32-byte private key for a validator id. */
export function privateKeyFor(validatorId: string): Uint8Array {
  const key = new Uint8Array(32);
  const bytes = new TextEncoder().encode(validatorId);
  for (let i = 0; i < 32; i++) key[i] = ((bytes[i % bytes.length] as number) * 31 + i * 7 + bytes.length) & 0xff;
  return key;
}

/**
 * Which validator has which key from which height. `val-1`..`val-4` are known from height 0,
 * `val-late` from height 100; `val-unknown` has a private key but is never registered.
 */
export class KeyBook {
  readonly #entries = new Map<string, { fromHeight: number; publicKey: Uint8Array }>();

  constructor() {
    for (const id of ['val-1', 'val-2', 'val-3', 'val-4']) this.register(id, 0);
    this.register('val-late', 100);
  }

  /** Makes `validatorId`'s fixture key known from `fromHeight` on. */
  register(validatorId: string, fromHeight: number): void {
    this.#entries.set(validatorId, { fromHeight, publicKey: publicKeyOf(privateKeyFor(validatorId)) });
  }

  /** The `publicKeyAt` a store is given. */
  readonly publicKeyAt = (validatorId: string, height: number): Uint8Array | undefined => {
    const e = this.#entries.get(validatorId);
    return e !== undefined && height >= e.fromHeight ? e.publicKey : undefined;
  };
}

/** A vote signed with the validator's fixture key (or `signer`'s, to forge one). */
export function signedVote(
  validatorId: string,
  fields: { height: number; round: number; voteType?: VoteType; hash: number | null; timestamp?: number },
  options: { signer?: string; chainId?: string } = {},
): ValidatorVote {
  const vote: UnsignedVote = {
    validatorId,
    height: fields.height,
    round: fields.round,
    voteType: fields.voteType ?? 'prevote',
    blockHash: fields.hash === null ? null : new Uint8Array(32).fill(fields.hash),
    timestamp: fields.timestamp ?? 1_700_000_000_000,
  };
  return signVote(vote, privateKeyFor(options.signer ?? validatorId), options.chainId ?? TEST_CHAIN_ID);
}

/** A proposal signed with the validator's fixture key. */
export function signedProposal(validatorId: string, fields: { height: number; round: number; hash: number }): SignedProposal {
  const p: UnsignedProposal = {
    validatorId,
    height: fields.height,
    round: fields.round,
    blockHash: new Uint8Array(32).fill(fields.hash),
    polRound: null,
    timestamp: 1_700_000_000_000,
  };
  return { ...p, signature: signBytes(proposalSignBytes(p, TEST_CHAIN_ID), privateKeyFor(validatorId)) };
}

/** An evidence store opened (and replayed) on a memory disk. */
export interface OpenedEvidence {
  readonly store: LogEvidenceStore;
  readonly log: MemoryLog;
  readonly ctx: StoreContext;
  readonly disk: MemoryDisk;
}

/** Opens (and replays) an evidence store on `disk` with `keys`. */
export async function openMemoryEvidence(disk: MemoryDisk = new MemoryDisk(), keys: KeyBook = new KeyBook()): Promise<OpenedEvidence> {
  const log = MemoryLog.open(disk);
  const ctx: StoreContext = { log, now: tickingClock() };
  const store = new LogEvidenceStore(ctx, { chainId: TEST_CHAIN_ID, publicKeyAt: keys.publicKeyAt, nodeId: 'node-under-test' });
  await replay(log, [store]);
  return { store, log, ctx, disk };
}

/** The conformance harness of the evidence store on the memory log. */
export async function memoryEvidenceHarness(disk: MemoryDisk = new MemoryDisk()): Promise<EvidenceHarness> {
  const opened = await openMemoryEvidence(disk);
  return {
    store: opened.store,
    chainId: TEST_CHAIN_ID,
    nextLsn: () => opened.log.nextLsn,
    reopen: async () => {
      await opened.log.close();
      return memoryEvidenceHarness(disk);
    },
    close: () => opened.log.close(),
  };
}

/** Opens (and replays) a LogRewardHistory on `disk`. */
export async function openMemoryRewards(disk: MemoryDisk = new MemoryDisk()): Promise<{ history: LogRewardHistory; log: MemoryLog; disk: MemoryDisk }> {
  const log = MemoryLog.open(disk);
  const history = new LogRewardHistory({ log, now: tickingClock() });
  await replay(log, [history]);
  return { history, log, disk };
}

/** The conformance harness of the reward history on the memory log. */
export async function memoryRewardHarness(disk: MemoryDisk = new MemoryDisk()): Promise<RewardHistoryHarness> {
  const opened = await openMemoryRewards(disk);
  return {
    history: opened.history,
    nextLsn: () => opened.log.nextLsn,
    reopen: async () => {
      await opened.log.close();
      return memoryRewardHarness(disk);
    },
    close: () => opened.log.close(),
  };
}
