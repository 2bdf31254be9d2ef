/**
 * The devnet's verdict, computed from what every validator's store holds after the run (not
 * from what the processes said while running):
 * - safety: no two different blocks finalized at one height on any node (the decisions in the
 *   `finalize` checkpoints); no honest validator signed two conflicting votes (every node's
 *   vote store, all of them together);
 * - liveness: heights finalized per second in this run; and per honest validator that had been
 *   up for `LIVENESS_WINDOW_MS` at the stop, that it finalized, by the stop, every height the
 *   network had finalized `LIVENESS_WINDOW_MS` before it (a validator stuck at one height while
 *   the others go on fails the run, named);
 * - accountability: per byzantine validator, the conflicting vote pairs each node holds (both
 *   signatures verified), the slashes in each node's registry, and the height from which each
 *   node's registry removes it from the set (a slash decided through a block: docs/devnet.md,
 *   "Validator-set changes"), which must be the same on every honest node that has it, and
 *   present on every honest node that finalized the block deciding it; and that no honest
 *   validator was slashed anywhere.
 *
 * It opens each store read-only in effect (no identity, nothing written) and closes it.
 */
import { openStore, type ConsensusStore } from '../store.ts';
import { equalBytes, toHex } from '../codec/bytes.ts';
import { blockHash } from '../consensus/block.ts';
import { decodeCheckpointData } from '../consensus/checkpoint-data.ts';
import { BLOCK_DECIDED_REASON, decidedThroughBlock } from '../consensus/store-adapter.ts';
import { isStoreError } from '../errors.ts';
import { verifyVoteFast } from '../consensus/verify.ts';
import type { ValidatorVote } from '../model/vote.ts';
import { MAX_HISTORY_LIMIT, type ValidatorChange } from '../stores/validator-types.ts';
import { nodeStoreDir, type Genesis } from './devnet-genesis.ts';

/**
 * How long a validator must have been up at the stop to be judged, and how far behind the
 * network it may be: a validator restarted by chaos needs a store open, a recovery and a
 * catch-up (a certificate per height, each in one round trip) before it is level again.
 */
export const LIVENESS_WINDOW_MS = 5_000;
/** Rounds per vote query window (at most ~7 votes per validator and round: stays under the limit). */
const ROUND_WINDOW = 1_000;
const QUERY_LIMIT = 10_000;

/** What the verdict found about one byzantine validator on one node. */
export interface AccountabilityRow {
  readonly node: string;
  readonly validatorId: string;
  /** Conflicting (round, type) slots in the node's vote store, with both signatures verified. */
  readonly verifiedConflicts: number;
  readonly slashes: number;
  readonly status: string;
  /** The height from which the node's registry removes it from the set (a slash decided through a block), if it does. */
  readonly removedAt?: number;
  /** The height of the block that decided the removal. */
  readonly decidedAt?: number;
  /** The node's highest finalized height. */
  readonly finalized: number;
}

/** Where a validator process was when the run stopped (the devnet parent knows). */
export type NodeAtStop =
  | { readonly state: 'up'; readonly upSince: number }
  | { readonly state: 'starting' | 'killed' | 'exited' };

/** What the run was: its length, the heights it finalized, and where each validator was at the stop. */
export interface RunFacts {
  /** From the first validator ready to the stop, s (0 when none was ready). */
  readonly elapsedSec: number;
  readonly heightsThisRun: number;
  /** When the run stopped, ms since the epoch (the clock the stores record with). */
  readonly stoppedAt: number;
  readonly nodes: ReadonlyMap<string, NodeAtStop>;
}

/** The liveness of one honest validator. */
export interface NodeLiveness {
  readonly node: string;
  /** False when it was not up long enough at the stop to be judged (`LIVENESS_WINDOW_MS`). */
  readonly judged: boolean;
  readonly live: boolean;
  readonly finalized: number;
  /** The height the network had finalized `LIVENESS_WINDOW_MS` before the stop. */
  readonly expected: number;
  readonly why: string;
}

/** The verdict. */
export interface DevnetVerdict {
  readonly safe: boolean;
  /** Every honest validator judged kept finalizing (see `NodeLiveness`). */
  readonly live: boolean;
  readonly liveness: readonly NodeLiveness[];
  /** Heights with more than one finalized block across nodes. */
  readonly forks: readonly string[];
  /** Honest validators with conflicting signed votes: `id round type`. */
  readonly honestDoubleSigns: readonly string[];
  /** Honest validators slashed on some node: `node: id`. */
  readonly honestAccused: readonly string[];
  readonly finalizedHeight: number;
  readonly heightsPerSec: number;
  readonly accountability: readonly AccountabilityRow[];
  /**
   * Byzantine validators whose removal honest nodes disagree on: `id: ...` naming each node's
   * removal height, or a node that finalized the deciding block without the removal.
   */
  readonly removalDisagreements: readonly string[];
  /** Per node: highest decision found. */
  readonly perNode: readonly { node: string; finalized: number; votes: number }[];
}

/** A decision recorded in a `finalize` checkpoint: the block hash (hex) and when the node recorded it. */
interface RecordedDecision {
  readonly hash: string;
  readonly at: number;
}

/** Decisions by height recorded in a store's `finalize` checkpoints. */
async function decisionsOf(store: ConsensusStore, chainId: string): Promise<Map<number, RecordedDecision>> {
  const out = new Map<number, RecordedDecision>();
  let from = 0;
  for (;;) {
    const page = await store.rounds.listRoundStates({ startHeight: from, limit: QUERY_LIMIT });
    for (const s of page.items) {
      if (s.state.phase !== 'finalize' || s.state.appData === undefined) continue;
      const decision = decodeCheckpointData(s.state.appData).decision;
      if (decision !== undefined) out.set(s.state.height, { hash: toHex(blockHash(decision.block, chainId)), at: s.recordedAt });
    }
    const last = page.items.at(-1);
    if (!page.truncated || last === undefined) return out;
    from = last.state.height > from ? last.state.height : from + 1;
  }
}

/** Every vote of `validatorId` in a store. */
async function votesOf(store: ConsensusStore, validatorId: string, maxRound: number): Promise<ValidatorVote[]> {
  const out: ValidatorVote[] = [];
  for (let r = 0; r <= maxRound; r += ROUND_WINDOW) {
    const page = await store.votes.getValidatorVotes(validatorId, { startRound: r, endRound: r + ROUND_WINDOW - 1, limit: QUERY_LIMIT });
    out.push(...page.map((e) => e.vote));
  }
  return out;
}

/** A validator's registry history on one node; empty when that registry does not know it (a node stopped before registering the genesis set). */
async function historyOf(store: ConsensusStore, validatorId: string): Promise<readonly ValidatorChange[]> {
  try {
    return (await store.validators.getValidatorHistory(validatorId, { limit: MAX_HISTORY_LIMIT })).items;
  } catch (error) {
    if (isStoreError(error, 'NOT_FOUND')) return [];
    throw error;
  }
}

/** The removal from the set decided through a block in `history`: its effect height and its block's height. */
function removalOf(history: readonly ValidatorChange[]): { removedAt: number; decidedAt: number } | undefined {
  const c = history.find((x) => decidedThroughBlock(x) && x.after.status !== 'active');
  if (c === undefined) return undefined;
  const decided = new RegExp(`^${BLOCK_DECIDED_REASON}(\\d+)`).exec(c.reason ?? '');
  return { removedAt: c.height, decidedAt: decided === null ? c.height : Number(decided[1]) };
}

/**
 * Disagreements on each byzantine validator's removal among the honest nodes' rows: two removal
 * heights, or an honest node that finalized the deciding block and has no removal.
 */
export function removalDisagreementsOf(rows: readonly AccountabilityRow[], byzantine: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const id of new Set(rows.map((r) => r.validatorId))) {
    const honest = rows.filter((r) => r.validatorId === id && !byzantine.has(r.node));
    const heights = new Set(honest.flatMap((r) => (r.removedAt === undefined ? [] : [r.removedAt])));
    const decided = Math.min(...honest.flatMap((r) => (r.decidedAt === undefined ? [] : [r.decidedAt])));
    const missing = honest.filter((r) => r.removedAt === undefined && r.finalized >= decided);
    if (heights.size > 1 || missing.length > 0) {
      out.push(`${id}: ${honest.map((r) => `${r.node} ${r.removedAt === undefined ? `none (finalized ${r.finalized})` : `at ${r.removedAt}`}`).join(', ')}`);
    }
  }
  return out;
}

/** Conflicting (round, type) slots among `votes`, as [first, second] pairs. */
function conflicts(votes: readonly ValidatorVote[]): [ValidatorVote, ValidatorVote][] {
  const first = new Map<string, ValidatorVote>();
  const out: [ValidatorVote, ValidatorVote][] = [];
  for (const v of votes) {
    const slot = `${v.round}:${v.voteType}`;
    const seen = first.get(slot);
    if (seen === undefined) first.set(slot, v);
    else if (seen.height !== v.height || !equalBytes(seen.blockHash, v.blockHash)) out.push([seen, v]);
  }
  return out;
}

/**
 * The liveness of each honest validator: judged when it had been up `LIVENESS_WINDOW_MS` at the
 * stop; live when it had finalized, by the stop, the highest height any node had finalized
 * `LIVENESS_WINDOW_MS` before the stop. A validator down after an unexpected exit fails.
 */
function livenessOf(run: RunFacts, honest: readonly string[], decisions: ReadonlyMap<string, ReadonlyMap<number, RecordedDecision>>): NodeLiveness[] {
  const before = run.stoppedAt - LIVENESS_WINDOW_MS;
  let expected = 0;
  for (const byHeight of decisions.values()) for (const [h, d] of byHeight) if (d.at <= before && h > expected) expected = h;
  const windowSec = LIVENESS_WINDOW_MS / 1000;
  return honest.map((node) => {
    const finalized = Math.max(0, ...(decisions.get(node)?.keys() ?? []));
    const at = run.nodes.get(node) ?? { state: 'starting' };
    const row = { node, finalized, expected };
    if (at.state === 'exited') return { ...row, judged: true, live: false, why: 'down after an unexpected exit' };
    if (at.state !== 'up') return { ...row, judged: false, live: true, why: at.state === 'killed' ? 'down (chaos) at the stop' : 'still starting at the stop' };
    if (at.upSince > before) return { ...row, judged: false, live: true, why: `up less than ${windowSec} s at the stop` };
    if (finalized < expected) return { ...row, judged: true, live: false, why: `finalized ${finalized}, the network had ${expected} ${windowSec} s before the stop` };
    return { ...row, judged: true, live: true, why: `finalized ${finalized}` };
  });
}

/**
 * Opens every validator's store under `dir` and computes the verdict.
 * @param run the run's length and heights (the liveness rate) and where each validator was at the stop.
 */
export async function computeVerdict(dir: string, genesis: Genesis, run: RunFacts): Promise<DevnetVerdict> {
  const { elapsedSec, heightsThisRun } = run;
  const decisionsByNode = new Map<string, Map<number, RecordedDecision>>();
  const byHeight = new Map<number, Set<string>>();
  const allVotes = new Map<string, ValidatorVote[]>();
  const accountability: AccountabilityRow[] = [];
  const honestAccused: string[] = [];
  const perNode: { node: string; finalized: number; votes: number }[] = [];
  const byzantine = new Set(genesis.everByzantine);
  for (const node of genesis.validators) {
    const store = await openStore({ dir: nodeStoreDir(dir, node.validatorId), chainId: genesis.chainId });
    try {
      const decisions = await decisionsOf(store, genesis.chainId);
      decisionsByNode.set(node.validatorId, decisions);
      for (const [h, { hash }] of decisions) {
        const set = byHeight.get(h) ?? new Set<string>();
        set.add(hash);
        byHeight.set(h, set);
      }
      const maxRound = (await store.rounds.loadRoundState())?.state.round ?? 0;
      const finalized = Math.max(0, ...decisions.keys());
      let voteCount = 0;
      for (const v of genesis.validators) {
        const votes = await votesOf(store, v.validatorId, maxRound);
        voteCount += votes.length;
        allVotes.set(v.validatorId, [...(allVotes.get(v.validatorId) ?? []), ...votes]);
        const history = await historyOf(store, v.validatorId);
        const slashes = history.filter((c) => c.kind === 'slash').length;
        if (byzantine.has(v.validatorId) && v.validatorId !== node.validatorId) {
          const verified = conflicts(votes).filter(([a, b]) => verifyVoteFast(a, v.publicKey, genesis.chainId) && verifyVoteFast(b, v.publicKey, genesis.chainId));
          const status = history.at(-1)?.after.status ?? 'unknown';
          accountability.push({ node: node.validatorId, validatorId: v.validatorId, verifiedConflicts: verified.length, slashes, status, finalized, ...removalOf(history) });
        } else if (!byzantine.has(v.validatorId) && slashes > 0) {
          honestAccused.push(`${node.validatorId}: ${v.validatorId}`);
        }
      }
      perNode.push({ node: node.validatorId, finalized, votes: voteCount });
    } finally {
      await store.close();
    }
  }
  const forks = [...byHeight].filter(([, hashes]) => hashes.size > 1).map(([h, hashes]) => `height ${h}: ${[...hashes].map((x) => x.slice(0, 12)).join(' vs ')}`);
  const honestDoubleSigns: string[] = [];
  for (const [id, votes] of allVotes) {
    if (byzantine.has(id)) continue;
    for (const [a] of conflicts(votes)) honestDoubleSigns.push(`${id} round ${a.round} ${a.voteType}`);
  }
  const finalizedHeight = Math.max(0, ...byHeight.keys());
  const removalDisagreements = removalDisagreementsOf(accountability, byzantine);
  const liveness = livenessOf(run, genesis.validators.map((v) => v.validatorId).filter((id) => !byzantine.has(id)), decisionsByNode);
  return {
    safe: forks.length === 0 && honestDoubleSigns.length === 0 && honestAccused.length === 0 && removalDisagreements.length === 0,
    live: liveness.every((n) => n.live),
    liveness,
    forks,
    honestDoubleSigns: [...new Set(honestDoubleSigns)],
    honestAccused,
    finalizedHeight,
    heightsPerSec: elapsedSec > 0 ? heightsThisRun / elapsedSec : 0,
    accountability,
    removalDisagreements,
    perNode,
  };
}

/** The verdict as text for the terminal. */
export function formatVerdict(v: DevnetVerdict, heightsThisRun: number, elapsedSec: number): string {
  const lines = ['', '== verdict =='];
  const ok = (b: boolean): string => (b ? 'OK  ' : 'FAIL');
  lines.push(`${ok(v.forks.length === 0)} safety: no two different blocks finalized at one height on any node (heights 1..${v.finalizedHeight})`);
  for (const f of v.forks.slice(0, 10)) lines.push(`       fork at ${f}`);
  lines.push(`${ok(v.honestDoubleSigns.length === 0)} safety: no honest validator signed two conflicting votes (every node's vote store)`);
  for (const d of v.honestDoubleSigns.slice(0, 10)) lines.push(`       double sign: ${d}`);
  lines.push(`${ok(v.honestAccused.length === 0)} no honest validator was slashed on any node`);
  for (const a of v.honestAccused.slice(0, 10)) lines.push(`       accused: ${a}`);
  const byzantineIds = [...new Set(v.accountability.map((a) => a.validatorId))];
  if (byzantineIds.length > 0) {
    lines.push(`${ok(v.removalDisagreements.length === 0)} every honest node removed each byzantine validator from the set at the same height (decided through a block)`);
    for (const d of v.removalDisagreements.slice(0, 10)) lines.push(`       disagree: ${d}`);
  }
  if (elapsedSec > 0) lines.push(`     liveness: ${heightsThisRun} heights in ${elapsedSec.toFixed(1)} s = ${v.heightsPerSec.toFixed(2)} heights/s`);
  else lines.push('     liveness: no validator was ready before the stop, nothing to measure');
  const judged = v.liveness.filter((n) => n.judged);
  const windowSec = LIVENESS_WINDOW_MS / 1000;
  lines.push(`${ok(v.live)} liveness: every honest validator up ${windowSec} s at the stop finalized what the network had ${windowSec} s before it (${judged.length} judged)`);
  for (const n of v.liveness) if (!n.live) lines.push(`       stuck: ${n.node} ${n.why}`);
  for (const n of v.liveness) if (!n.judged) lines.push(`       not judged: ${n.node} ${n.why}`);
  lines.push(`     per node: ${v.perNode.map((n) => `${n.node} finalized ${n.finalized}, ${n.votes} votes stored`).join('; ')}`);
  if (v.accountability.length > 0) {
    lines.push('     byzantine validators, as each node\'s stores hold them:');
    for (const a of v.accountability) {
      const removal = a.removedAt === undefined ? 'not removed' : `removed at height ${a.removedAt} (decided in block ${a.decidedAt})`;
      lines.push(`       ${a.node} on ${a.validatorId}: ${a.verifiedConflicts} verified conflicting vote pairs, ${a.slashes} slash(es), status ${a.status}, ${removal}`);
    }
  }
  lines.push(!v.safe ? 'UNSAFE' : v.live ? 'SAFE' : `SAFE, NOT LIVE: ${v.liveness.filter((n) => !n.live).map((n) => n.node).join(' ')} stopped finalizing`);
  return lines.join('\n');
}
