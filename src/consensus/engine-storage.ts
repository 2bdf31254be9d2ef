/**
 * The engine's persistence through the storage port (storage-port.ts): a vote counts only once
 * `appendVote` has made it durable (an equivocation becomes a report instead); the checkpoint of
 * where the engine is, considered at every phase change and written as the store's
 * `checkpointInterval` and the lock rule of `CheckpointWriter` decide; where a checkpoint puts a restarted node,
 * and the stored votes it reloads; and the decision certificates of finalized heights, kept for
 * peers catching up or rebuilt from stored checkpoints and votes.
 *
 * It must never call a vote countable before `appendVote` resolved, and never build a
 * checkpoint that says less than the engine knows: its lock, valid block, intent and decision
 * travel with it, so that a restart resumes exactly where the engine stopped.
 */
import { MAX_ROUND_VALIDATOR_COUNT, type RoundState } from '../model/round.ts';
import type { ValidatorVote } from '../model/vote.ts';
import { equalBytes, toHex } from '../codec/bytes.ts';
import { blockHash } from './block.ts';
import { buildCertificate } from './certificate.ts';
import { decodeCheckpointData, encodeCheckpointData } from './checkpoint-data.ts';
import type { EngineOptions, EnginePosition } from './engine-types.ts';
import type { ConsensusStoragePort, RecoveredState } from './storage-port.ts';
import type { Block, CertificateMessage, EngineEvent, ProposalMessage } from './types.ts';
import type { ValidatorSet } from './validator-set.ts';

/** Rounds of the current height whose votes are reloaded on resume. */
const RESUME_ROUNDS = 64;
/** Decision certificates kept in memory for peers catching up. */
export const CERTIFICATE_CACHE = 256;

/**
 * Makes a verified vote durable. `emit` hears of the append and of an equivocation, which is
 * recorded (evidence, audit, slash) as detected at `height()`, read once the append resolved.
 * @returns true when the vote may count (stored, or a duplicate of a stored one).
 */
export async function persistVote(
  storage: ConsensusStoragePort,
  vote: ValidatorVote,
  height: () => number,
  emit: (event: EngineEvent) => void,
): Promise<boolean> {
  const started = performance.now();
  const result = await storage.appendVote(vote);
  if (result.outcome !== 'duplicate') emit({ type: 'vote-persisted', ms: performance.now() - started });
  if (result.outcome !== 'equivocation') return true;
  const first = result.conflictsWith[0];
  if (first !== undefined) {
    emit({ type: 'equivocation', validatorId: vote.validatorId, round: vote.round, voteType: vote.voteType, pair: { voteA: first, voteB: vote } });
    await storage.recordEquivocation({ validatorId: vote.validatorId, first, second: vote, detectedAtHeight: height() });
  }
  return false;
}

/**
 * The checkpoint of position `p`: the round state with the engine's data (checkpoint-data.ts),
 * the bodies of the blocks it names among them. `proposal` is the current round's, if one arrived.
 */
export function checkpointOf(
  p: EnginePosition,
  proposal: ProposalMessage | undefined,
  chainId: string,
  validators: ValidatorSet,
  now: number,
): RoundState {
  const blocks = [proposal?.block, p.valid?.block, p.decision?.block].filter((b): b is Block => b !== undefined);
  const signed = proposal?.proposal;
  return {
    height: p.height,
    round: p.round,
    phase: p.phase,
    ...(p.locked === undefined ? {} : { lockedRound: p.locked.round, lockedBlockHash: p.locked.hash }),
    ...(p.valid === undefined ? {} : { validRound: p.valid.round, validBlockHash: blockHash(p.valid.block, chainId) }),
    ...(signed === undefined || signed.height !== p.height ? {} : { proposalBlockHash: signed.blockHash }),
    proposer: validators.proposerOf(p.round).validatorId,
    appData: encodeCheckpointData({
      heightStartRound: p.heightStartRound,
      parentHash: p.parentHash,
      ...(p.intent === undefined ? {} : { intent: p.intent }),
      blocks,
      ...(p.decision === undefined ? {} : { decision: p.decision }),
    }),
    ...countsOf(validators),
    startedAt: p.roundStartedAt,
    updatedAt: Math.max(p.roundStartedAt, now),
  };
}

/** `validatorCount` and `quorumSize` of each set, computed once per set. */
const COUNTS = new WeakMap<ValidatorSet, { validatorCount: number; quorumSize: number } | undefined>();

/**
 * The round state's `validatorCount` and `quorumSize` of a set (docs/stores-rounds-validators.md):
 * its size, and the fewest of its validators whose stakes, the largest first, make a quorum
 * (more than 2/3 of the total; floor(2n/3) + 1 with equal stakes). Nothing for a set larger
 * than a round state may name (`MAX_ROUND_VALIDATOR_COUNT`).
 */
export function countsOf(validators: ValidatorSet): { validatorCount: number; quorumSize: number } | Record<string, never> {
  if (!COUNTS.has(validators)) {
    const stakes = validators.validators.map((v) => v.stake).sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
    let sum = 0n;
    let quorumSize = stakes.length;
    for (let i = 0; i < stakes.length; i++) {
      sum += stakes[i] as bigint;
      if (validators.isQuorum(sum)) {
        quorumSize = i + 1;
        break;
      }
    }
    COUNTS.set(validators, stakes.length > MAX_ROUND_VALIDATOR_COUNT ? undefined : { validatorCount: stakes.length, quorumSize });
  }
  return COUNTS.get(validators) ?? {};
}

/**
 * Decides which checkpoints the engine writes (docs/stores-rounds-validators.md,
 * "`checkpointInterval`"), and writes them: it asks the port's `shouldCheckpoint` (the round
 * state store's policy under its `checkpointInterval`; a port without one gets every
 * checkpoint), and forces a checkpoint before a signature whenever the lock or the valid value
 * changed since the last durable one, whatever the interval.
 *
 * The store's policy answers yes at any change of the proposal or of `appData`; the engine asks
 * it about the state with the hints of the last durable checkpoint instead of the new ones: the
 * proposal's hash and body and the vote the phase signs (`intent`) ride along with a checkpoint
 * but are never a reason for one. Everything else is: height, round, the lock, the valid value,
 * the decision, the proposer fields and the phase (under the interval). What a skipped
 * checkpoint loses is where the node resumes (an earlier phase of the same round), never a
 * signature: the sign guard persists each before releasing it (D8, docs/durability.md) and
 * refuses a conflicting one after a restart.
 *
 * It must never let a signature out while the lock or valid value the engine holds is not durable.
 */
export class CheckpointWriter {
  readonly #storage: ConsensusStoragePort;
  readonly #validatorId: string;
  readonly #chainId: string;
  /** The last checkpoint known durable (saved by this engine, or recovered). */
  #durable: RoundState | undefined;
  /** Checkpoints written and skipped by this writer. */
  written = 0;
  skipped = 0;

  /**
   * @param storage - the engine's storage port.
   * @param validatorId - this node (`isProposer`).
   * @param chainId - for the valid block's hash.
   */
  constructor(storage: ConsensusStoragePort, validatorId: string, chainId: string) {
    this.#storage = storage;
    this.#validatorId = validatorId;
    this.#chainId = chainId;
  }

  /** The checkpoint recovery found: durable already. */
  recovered(state: RoundState): void {
    this.#durable = state;
  }

  /**
   * Durably records `state` (a `checkpointOf`; `isProposer` is added here) when the policy asks
   * for it or `force` is set; resolves with true when it wrote.
   */
  async save(state: RoundState, force = false): Promise<boolean> {
    const next: RoundState = { ...state, isProposer: state.proposer === this.#validatorId };
    if (!force && !this.#lockChanged(next) && this.#durable !== undefined && this.#storage.shouldCheckpoint !== undefined) {
      if (!this.#storage.shouldCheckpoint(this.#probe(this.#durable, next))) {
        this.skipped++;
        return false;
      }
    }
    await this.#storage.saveRoundState(next);
    this.#durable = next;
    this.written++;
    return true;
  }

  /**
   * True when the lock or valid value of position `p` is not the last durable checkpoint's: a
   * signature must wait for a checkpoint (the sign guard path, engine.ts `#signed`).
   */
  mustCheckpointBeforeSigning(p: Pick<EnginePosition, 'height' | 'round' | 'locked' | 'valid'>): boolean {
    const d = this.#durable;
    if (d === undefined) return p.locked !== undefined || p.valid !== undefined;
    if (d.height !== p.height) return p.locked !== undefined || p.valid !== undefined;
    const lockSame = p.locked === undefined ? d.lockedRound === undefined : d.lockedRound === p.locked.round && d.lockedBlockHash !== undefined && equalBytes(d.lockedBlockHash, p.locked.hash);
    if (!lockSame) return true;
    if (p.valid === undefined) return d.validRound !== undefined;
    return d.validRound !== p.valid.round || d.validBlockHash === undefined || !equalBytes(d.validBlockHash, blockHash(p.valid.block, this.#chainId));
  }

  #lockChanged(next: RoundState): boolean {
    const d = this.#durable;
    if (d === undefined) return next.lockedRound !== undefined || next.validRound !== undefined;
    return (
      d.lockedRound !== next.lockedRound ||
      !sameBytes(d.lockedBlockHash, next.lockedBlockHash) ||
      d.validRound !== next.validRound ||
      !sameBytes(d.validBlockHash, next.validBlockHash)
    );
  }

  /**
   * `next` with the hints of `durable` when both are in one (height, round): its proposal hash,
   * and its `appData` unless the decision changed (the engine data's other fields are fixed
   * within a height, docs/stores-rounds-validators.md).
   */
  #probe(durable: RoundState, next: RoundState): RoundState {
    if (durable.height !== next.height || durable.round !== next.round) return next;
    const decided = (s: RoundState): number | undefined => (s.appData === undefined ? undefined : decodeCheckpointData(s.appData).decision?.round);
    const { proposalBlockHash: _p, appData: _a, ...rest } = next;
    const appData = decided(durable) === decided(next) ? durable.appData : next.appData;
    return {
      ...rest,
      ...(durable.proposalBlockHash === undefined ? {} : { proposalBlockHash: durable.proposalBlockHash }),
      ...(appData === undefined ? {} : { appData }),
    };
  }
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a === undefined || b === undefined ? a === b : equalBytes(a, b);
}

/** Where a checkpoint puts a restarted node. */
export interface ResumePoint {
  /** The position to take; for a node that finalized its height, the next height, in the next round's propose phase. */
  readonly position: EnginePosition;
  /** True after a `finalize` checkpoint: start that round afresh; false: continue the checkpoint's round and phase. */
  readonly fresh: boolean;
  /** The block bodies the checkpoint carried, by hex hash. */
  readonly blocks: ReadonlyMap<string, Block>;
}

/**
 * Decodes the latest checkpoint `s`: after `finalize` the next height in the next round;
 * otherwise the checkpoint's own height, round and phase, with its lock, valid block (when its
 * body is among the checkpoint's blocks), intent and decision.
 * @throws RangeError when the checkpoint carries no engine data, or a finalize one no decision;
 *   the decoder's error when the engine data does not decode.
 */
export function resumePointOf(s: RoundState, chainId: string): ResumePoint {
  if (s.appData === undefined) throw new RangeError('the latest checkpoint carries no engine data');
  const data = decodeCheckpointData(s.appData);
  const blocks = new Map<string, Block>();
  for (const b of data.blocks) blocks.set(toHex(blockHash(b, chainId)), b);
  const none = { locked: undefined, valid: undefined, intent: undefined, decision: undefined };
  if (s.phase === 'finalize') {
    if (data.decision === undefined) throw new RangeError('a finalize checkpoint without its decision');
    const parentHash = blockHash(data.decision.block, chainId);
    const next = { height: s.height + 1, round: s.round + 1, phase: 'propose' as const, heightStartRound: s.round + 1, roundStartedAt: s.startedAt, parentHash };
    return { position: { ...next, ...none }, fresh: true, blocks };
  }
  const validBlock = s.validBlockHash === undefined ? undefined : blocks.get(toHex(s.validBlockHash));
  const position: EnginePosition = {
    height: s.height,
    round: s.round,
    phase: s.phase,
    heightStartRound: data.heightStartRound,
    roundStartedAt: s.startedAt,
    parentHash: data.parentHash,
    locked: s.lockedRound !== undefined && s.lockedBlockHash !== undefined ? { round: s.lockedRound, hash: s.lockedBlockHash } : undefined,
    valid: s.validRound !== undefined && validBlock !== undefined ? { round: s.validRound, block: validBlock } : undefined,
    intent: data.intent,
    decision: data.decision,
  };
  return { position, fresh: false, blocks };
}

/**
 * The stored votes of position `p`'s height in its recent rounds (at most `RESUME_ROUNDS`, from
 * the height's first): the recovered round's from `rec`, the earlier ones from storage.
 */
export async function storedVotesOf(storage: ConsensusStoragePort, rec: RecoveredState, p: EnginePosition): Promise<ValidatorVote[]> {
  const out: ValidatorVote[] = [];
  const from = Math.max(p.heightStartRound, p.round - RESUME_ROUNDS + 1);
  for (let r = from; r <= p.round; r++) {
    const votes = r === p.round ? rec.votes : await storage.votesForRound(r);
    for (const v of votes) if (v.height === p.height) out.push(v);
  }
  return out;
}

/** What `Certificates` reads: the storage port, the chain id, and the validator set of a height (engine.ts). */
export interface CertificateSource extends Pick<EngineOptions, 'storage' | 'chainId'> {
  setAt(height: number): Promise<ValidatorSet>;
}

/** Decision certificates of finalized heights: the recent ones in memory, older ones rebuilt from storage. */
export class Certificates {
  readonly #o: CertificateSource;
  readonly #recent = new Map<number, CertificateMessage>();

  /** @param options - the engine's storage port, the validator set of a height, and chain id. */
  constructor(options: CertificateSource) {
    this.#o = options;
  }

  /** Keeps the certificate of a height just finalized (if one could be built), and forgets the oldest kept. */
  remember(height: number, cert: CertificateMessage | undefined): void {
    if (cert !== undefined) this.#recent.set(height, cert);
    this.#recent.delete(height - CERTIFICATE_CACHE);
  }

  /** The decision certificate of a finalized `height`: from memory, else rebuilt from storage. */
  async of(height: number): Promise<CertificateMessage | undefined> {
    const cached = this.#recent.get(height);
    if (cached !== undefined) return cached;
    const state = await this.#o.storage.roundStateAt(height);
    if (state?.phase !== 'finalize' || state.appData === undefined) return undefined;
    const decision = decodeCheckpointData(state.appData).decision;
    if (decision === undefined) return undefined;
    const votes = await this.#o.storage.votesForRound(decision.round);
    return buildCertificate(decision.block, decision.round, votes, await this.#o.setAt(height), this.#o.chainId);
  }
}
