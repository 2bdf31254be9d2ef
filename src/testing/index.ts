/**
 * `consensus-store/testing`: what a backend author (or an embedder testing a node) needs to
 * check a store against this package's contract:
 * - the conformance suite of every store interface (votes, sign guard, round state, recovery,
 *   validators, audit log, evidence, rewards), each a function that declares its scenarios with
 *   vitest (`describe`/`it`) and fast-check; call one inside a test file with a harness that
 *   opens and reopens your store (see `StoreHarness` and each suite's harness type);
 * - the simulated disk (power cuts, torn writes, bit flips, EIO and ENOSPC at any call) and an
 *   in-memory log, and `openStoreOnLog`, which builds every store on any `Log`.
 *
 * Importing this entry needs the optional peer dependencies `vitest` (4) and `fast-check` (4).
 */
export { openStoreOnLog } from '../store.ts';
export { SimulatedDisk, SIM_OPS } from '../io/sim-disk.ts';
export type { SimDiskOptions, SimDiskStats, SimOp } from '../io/sim-disk.ts';
export { MemoryDisk, MemoryLog, MEMORY_LOG_DEFAULT_LIMITS } from '../log/memory-log.ts';

export { callMethod, expectCode, expectEveryInvalid, harnessRunner, junkWith, propertySeed } from './conformance/support.ts';
export type { StoreHarness } from './conformance/support.ts';
export { KeyBook, privateKeyFor, signedProposal, signedVote, TEST_CHAIN_ID } from './conformance/fixtures.ts';
export { hashOf, makeVote, voteStoreConformance } from './conformance/vote-store.conformance.ts';
export type { VoteStoreFactory, VoteStoreFixture } from './conformance/vote-store.conformance.ts';
export { ownProposal, ownVote, SIGN_IDENTITY, signGuardConformance } from './conformance/sign-guard.conformance.ts';
export type { SignGuardHarness, SignOpenOptions } from './conformance/sign-guard.conformance.ts';
export { roundState, roundStateStoreConformance } from './conformance/round-state-store.conformance.ts';
export type { RoundStateHarness } from './conformance/round-state-store.conformance.ts';
export { recoveryConformance } from './conformance/recovery.conformance.ts';
export type { RecoveryHarness } from './conformance/recovery.conformance.ts';
export { validatorRegistryConformance } from './conformance/validator-registry.conformance.ts';
export type { ValidatorRegistryHarness } from './conformance/validator-registry.conformance.ts';
export { auditLogConformance } from './conformance/audit-log.conformance.ts';
export type { AuditHarness } from './conformance/audit-log.conformance.ts';
export { equivocation, evidenceStoreConformance } from './conformance/evidence-store.conformance.ts';
export type { EvidenceHarness } from './conformance/evidence-store.conformance.ts';
export { distribution, rewardHistoryConformance } from './conformance/reward-history.conformance.ts';
export { buildChain, snapshotKey, snapshotStoreConformance } from './conformance/snapshot-store.conformance.ts';
export type { SnapshotHarness } from './conformance/snapshot-store.conformance.ts';
export type { RewardHistoryHarness } from './conformance/reward-history.conformance.ts';
