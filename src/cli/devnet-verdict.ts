/**
 * The devnet's verdict, computed from what every validator's store holds after the run (not
 * from what the processes said while running):
 * - safety: no two different blocks finalized at one height on any node (the decisions in the
 *   `finalize` checkpoints); no honest validator signed two conflicting votes (every node's
 *   vote store, all of them together);
 * - liveness: heights finalized per second in this run;
 * - accountability: per byzantine validator, the conflicting vote pairs each node holds (both
 *   signatures verified), and the slashes in each node's registry; and that no honest
 *   validator was slashed anywhere.
 *
 * It opens each store read-only in effect (no identity, nothing written) and closes it.
 */
import { openStore, type ConsensusStore } from '../store.ts';
import { equalBytes, toHex } from '../codec/bytes.ts';
import { blockHash } from '../consensus/block.ts';
import { decodeCheckpointData } from '../consensus/checkpoint-data.ts';
import { verifyVoteFast } from '../consensus/verify.ts';
import type { ValidatorVote } from '../model/vote.ts';
import { MAX_HISTORY_LIMIT } from '../stores/validator-types.ts';
import { nodeStoreDir, type Genesis } from './devnet-genesis.ts';

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
}

/** The verdict. */
export interface DevnetVerdict {
  readonly safe: boolean;
  /** Heights with more than one finalized block across nodes. */
  readonly forks: readonly string[];
  /** Honest validators with conflicting signed votes: `id round type`. */
  readonly honestDoubleSigns: readonly string[];
  /** Honest validators slashed on some node: `node: id`. */
  readonly honestAccused: readonly string[];
  readonly finalizedHeight: number;
  readonly heightsPerSec: number;
  readonly accountability: readonly AccountabilityRow[];
  /** Per node: highest decision found. */
  readonly perNode: readonly { node: string; finalized: number; votes: number }[];
}

/** Decisions (height -> block hash hex) recorded in a store's `finalize` checkpoints. */
async function decisionsOf(store: ConsensusStore, chainId: string): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  let from = 0;
  for (;;) {
    const page = await store.rounds.listRoundStates({ startHeight: from, limit: QUERY_LIMIT });
    for (const s of page.items) {
      if (s.state.phase !== 'finalize' || s.state.appData === undefined) continue;
      const decision = decodeCheckpointData(s.state.appData).decision;
      if (decision !== undefined) out.set(s.state.height, toHex(blockHash(decision.block, chainId)));
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
 * Opens every validator's store under `dir` and computes the verdict.
 * @param elapsedSec the run's duration, for the liveness rate.
 * @param heightsThisRun heights finalized during the run.
 */
export async function computeVerdict(dir: string, genesis: Genesis, elapsedSec: number, heightsThisRun: number): Promise<DevnetVerdict> {
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
      for (const [h, hash] of decisions) {
        const set = byHeight.get(h) ?? new Set<string>();
        set.add(hash);
        byHeight.set(h, set);
      }
      const maxRound = (await store.rounds.loadRoundState())?.state.round ?? 0;
      let voteCount = 0;
      for (const v of genesis.validators) {
        const votes = await votesOf(store, v.validatorId, maxRound);
        voteCount += votes.length;
        allVotes.set(v.validatorId, [...(allVotes.get(v.validatorId) ?? []), ...votes]);
        const history = await store.validators.getValidatorHistory(v.validatorId, { limit: MAX_HISTORY_LIMIT });
        const slashes = history.items.filter((c) => c.kind === 'slash').length;
        if (byzantine.has(v.validatorId) && v.validatorId !== node.validatorId) {
          const verified = conflicts(votes).filter(([a, b]) => verifyVoteFast(a, v.publicKey, genesis.chainId) && verifyVoteFast(b, v.publicKey, genesis.chainId));
          const status = (await store.validators.getValidator(v.validatorId))?.status ?? 'unknown';
          accountability.push({ node: node.validatorId, validatorId: v.validatorId, verifiedConflicts: verified.length, slashes, status });
        } else if (!byzantine.has(v.validatorId) && slashes > 0) {
          honestAccused.push(`${node.validatorId}: ${v.validatorId}`);
        }
      }
      perNode.push({ node: node.validatorId, finalized: Math.max(0, ...decisions.keys()), votes: voteCount });
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
  return {
    safe: forks.length === 0 && honestDoubleSigns.length === 0 && honestAccused.length === 0,
    forks,
    honestDoubleSigns: [...new Set(honestDoubleSigns)],
    honestAccused,
    finalizedHeight,
    heightsPerSec: elapsedSec > 0 ? heightsThisRun / elapsedSec : 0,
    accountability,
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
  lines.push(`     liveness: ${heightsThisRun} heights in ${elapsedSec.toFixed(1)} s = ${v.heightsPerSec.toFixed(2)} heights/s`);
  lines.push(`     per node: ${v.perNode.map((n) => `${n.node} finalized ${n.finalized}, ${n.votes} votes stored`).join('; ')}`);
  if (v.accountability.length > 0) {
    lines.push('     byzantine validators, as each node\'s stores hold them:');
    for (const a of v.accountability) {
      lines.push(`       ${a.node} on ${a.validatorId}: ${a.verifiedConflicts} verified conflicting vote pairs, ${a.slashes} slash(es), status ${a.status}`);
    }
  }
  lines.push(v.safe ? 'SAFE' : 'UNSAFE');
  return lines.join('\n');
}
