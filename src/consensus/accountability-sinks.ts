/**
 * `AccountabilitySinks` over the accountability stores (AuditLog, ByzantineEvidenceStore,
 * RewardHistory): the engine's equivocation reports become verified `Equivocation` evidence and
 * an `EquivocationDetected` audit entry, its proposal equivocation reports `ProposalEquivocation`
 * evidence and a `ProposalEquivocationDetected` entry, its consensus events (peer events
 * included) go to the audit log, its reward distributions (with their round) to the reward
 * history. Whoever holds those stores (`openStore`'s `audit`,
 * `evidence`, `rewards`) passes them here; the engine never sees them directly.
 *
 * An equivocation is written once: over `openStore`'s stores the vote batch that revealed it
 * already holds its evidence and `EquivocationDetected` entry (D3), so the sink's evidence is a
 * duplicate and it writes no second audit entry; over stores not wired that way, the sink
 * records both.
 *
 * It must never drop a storage error, except the one a restart legitimately causes: a reward
 * distribution already recorded for the height (CONFLICT), which is the "at most once per
 * height" of the port's contract.
 */
import { isStoreError } from '../errors.ts';
import type { AuditLog } from '../stores/audit-types.ts';
import type { ByzantineEvidenceStore } from '../stores/evidence-types.ts';
import type { RewardHistory } from '../stores/reward-types.ts';
import type { AccountabilitySinks } from './store-adapter.ts';
import type { EquivocationReport } from './storage-port.ts';

/** The accountability stores, any of which may be absent. */
export interface AccountabilityStores {
  readonly audit?: AuditLog;
  readonly evidence?: ByzantineEvidenceStore;
  readonly rewards?: RewardHistory;
}

/**
 * Sinks writing to `stores`.
 * @param nodeId recorded as the evidence's `submittedBy`.
 * @param now clock for `detectedAt`, ms since the epoch.
 */
export function sinksFromStores(stores: AccountabilityStores, nodeId: string, now: () => number = Date.now): AccountabilitySinks {
  const { audit, evidence, rewards } = stores;
  /** The evidence of an equivocation this node saw (false) or a finalized block carried (true). */
  const equivocationEvidence = (report: EquivocationReport, verifiedByQuorum: boolean) =>
    ({
      type: 'Equivocation',
      validatorId: report.validatorId,
      height: Math.min(report.first.height, report.second.height),
      detectedAt: now(),
      submittedBy: nodeId,
      verifiedByQuorum,
      details: { voteA: report.first, voteB: report.second },
    }) as const;
  return {
    ...(evidence === undefined
      ? {}
      : {
          recordEvidence: async (report) => {
            const { outcome } = await evidence.recordEvidence(equivocationEvidence(report, false));
            // Evidence already stored came with its audit entry: through openStore, the
            // equivocating vote's own batch holds both (D3); else an earlier call of this sink.
            if (outcome !== 'duplicate') await audit?.logByzantineEvent({ type: 'EquivocationDetected', voteA: report.first, voteB: report.second });
          },
          recordProposalEvidence: async (report) => {
            const { outcome } = await evidence.recordEvidence({
              type: 'ProposalEquivocation',
              validatorId: report.validatorId,
              height: report.first.height,
              detectedAt: now(),
              submittedBy: nodeId,
              verifiedByQuorum: false,
              details: { proposalA: report.first, proposalB: report.second },
            });
            // A duplicate was reported before (an earlier call, a restart): its entry was written then.
            if (outcome !== 'duplicate') await audit?.logByzantineEvent({ type: 'ProposalEquivocationDetected', proposalA: report.first, proposalB: report.second });
          },
        }),
    // Evidence a finalized block carried is verified by a quorum (docs/devnet.md, "Validator-set
    // changes"): stored so, or the stored copy marked so (the store's `upgraded`).
    ...(evidence === undefined
      ? {}
      : {
          recordCommittedEvidence: async (report) => {
            const { outcome } = await evidence.recordEvidence(equivocationEvidence(report, true));
            if (outcome === 'stored') await audit?.logByzantineEvent({ type: 'EquivocationDetected', voteA: report.first, voteB: report.second });
          },
        }),
    ...(audit === undefined ? {} : { logAudit: async (event) => void (await audit.logEvent(event)) }),
    ...(rewards === undefined
      ? {}
      : {
          recordReward: async (d) => {
            try {
              await rewards.recordDistribution({
                height: d.height,
                round: d.round,
                timestamp: d.timestamp,
                treasuryBefore: d.treasuryBefore,
                treasuryAfter: d.treasuryAfter,
                totalDistributed: d.totalDistributed,
                lines: d.lines,
              });
            } catch (err) {
              if (!isStoreError(err, 'CONFLICT')) throw err;
            }
          },
        }),
  };
}
